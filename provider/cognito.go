package provider

import (
	"github.com/tokenguard/accesstoken"
)

// Cognito configures a validator for access tokens issued by an Amazon
// Cognito user pool to one of its app clients, clientIDs.
//
// The issuer is "https://cognito-idp.{region}.amazonaws.com/{userPoolID}",
// whose keys are discovered from its /.well-known/openid-configuration and
// must be served from that host.
//
// Cognito's access tokens carry no "aud": the app client is in "client_id"
// and the kind of token in "token_use". A token is accepted only when
// "token_use" is "access" and "client_id" is one of clientIDs, so an ID
// token ("token_use": "id") is refused wherever it is sent. Claims.ClientID
// is "client_id"; Claims.Scopes "scope"; Claims.Roles the user's groups,
// "cognito:groups".
//
// References: https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html,
// https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html.
func Cognito(region, userPoolID string, clientIDs ...string) accesstoken.Config {
	return accesstoken.Config{
		Issuer:     "https://cognito-idp." + region + ".amazonaws.com/" + userPoolID,
		Audience:   clientIDs,
		RoleClaims: []string{"/cognito:groups"},
		Profile: &accesstoken.Profile{
			AudienceClaim:  "/client_id",
			RequiredClaims: map[string]string{"/token_use": "access"},
			SameOriginJWKS: true,
		},
	}
}
