package main

import (
	"crypto"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokenguard/accesstoken/txntoken"
)

// txnFlags are serve's Transaction Token settings.
type txnFlags struct {
	audience, key, issuer, workload, service, clientID, clientSecret string
	lifetime                                                         time.Duration
}

func (x *txnFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&x.audience, "txn-token-audience", "", "mint a Transaction Token for every request let through, for the services of this trust domain (its \"aud\"); the Txn-Token header replaces any the client sent")
	fs.StringVar(&x.key, "txn-token-key", "", "sign Transaction Tokens with this private JWK (EC, RSA or OKP); its public key is served at /.well-known/jwks.json")
	fs.StringVar(&x.issuer, "txn-token-issuer", "", "the \"iss\" of the Transaction Tokens serve signs (default: none; the draft makes it optional)")
	fs.StringVar(&x.workload, "txn-token-workload", "accesstoken-serve", "the \"req_wl\" of the Transaction Tokens serve signs: this gateway's name")
	fs.DurationVar(&x.lifetime, "txn-token-lifetime", txntoken.DefaultLifetime, "how long a Transaction Token serve signs lives (at most 1h)")
	fs.StringVar(&x.service, "txn-token-service", "", "obtain Transaction Tokens from this Transaction Token Service token endpoint (RFC 8693) instead of signing them")
	fs.StringVar(&x.clientID, "txn-token-client-id", "", "serve's client ID at the Transaction Token Service (HTTP Basic)")
	fs.StringVar(&x.clientSecret, "txn-token-client-secret", "", "its secret (prefer ACCESSTOKEN_TXN_TOKEN_CLIENT_SECRET)")
}

// minter builds the Signer or Exchanger the settings name; nil when
// minting is off. The second value serves the Signer's JWK Set.
func (x *txnFlags) minter() (txntoken.Minter, http.Handler, error) {
	if x.audience == "" {
		for name, v := range map[string]string{"txn-token-key": x.key, "txn-token-issuer": x.issuer, "txn-token-service": x.service, "txn-token-client-id": x.clientID} {
			if v != "" {
				return nil, nil, fmt.Errorf("setting %s: needs txn-token-audience", name)
			}
		}
		return nil, nil, nil
	}
	switch {
	case x.key == "" && x.service == "":
		return nil, nil, errors.New("setting txn-token-key, txn-token-service: txn-token-audience needs one, to sign or to exchange")
	case x.key != "" && x.service != "":
		return nil, nil, errors.New("setting txn-token-key, txn-token-service: serve signs or exchanges; set one")
	case x.service != "":
		if x.issuer != "" {
			return nil, nil, errors.New("setting txn-token-issuer: the Transaction Token Service sets it")
		}
		e, err := txntoken.NewExchanger(txntoken.ExchangerConfig{Endpoint: x.service, TrustDomain: x.audience, ClientID: x.clientID, ClientSecret: x.clientSecret})
		if err != nil {
			return nil, nil, fmt.Errorf("setting txn-token-service: %v", err)
		}
		return e, nil, nil
	}
	if x.clientID != "" || x.clientSecret != "" {
		return nil, nil, errors.New("setting txn-token-client-id: only with txn-token-service")
	}
	b, err := os.ReadFile(x.key)
	if err != nil {
		return nil, nil, fmt.Errorf("setting txn-token-key: %v", err)
	}
	var jwk jose.JSONWebKey
	if err := json.Unmarshal(b, &jwk); err != nil {
		return nil, nil, fmt.Errorf("setting txn-token-key: %s is not a JWK: %v", x.key, err)
	}
	priv, ok := jwk.Key.(crypto.Signer)
	if !ok || jwk.IsPublic() {
		return nil, nil, fmt.Errorf("setting txn-token-key: %s is not a private EC, RSA or Ed25519 key", x.key)
	}
	s, err := txntoken.NewSigner(txntoken.SignerConfig{Key: priv, KeyID: jwk.KeyID, TrustDomain: x.audience, Issuer: x.issuer, Workload: x.workload, Lifetime: x.lifetime})
	if err != nil {
		return nil, nil, fmt.Errorf("setting txn-token-key: %v", err)
	}
	return s, s, nil
}
