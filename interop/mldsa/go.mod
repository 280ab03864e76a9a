module github.com/tokenguard/accesstoken/interop/mldsa

go 1.27.3

require (
	github.com/lestrrat-go/jwx/v4 v4.7.0
	github.com/tokenguard/accesstoken v0.1.0
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/lestrrat-go/dsig v1.4.0 // indirect
	github.com/lestrrat-go/option/v3 v3.0.0-alpha1 // indirect
	golang.org/x/time v0.9.0 // indirect
)

replace github.com/tokenguard/accesstoken => ../..
