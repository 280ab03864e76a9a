module github.com/tokenguard/accesstoken/cmd/accesstoken

go 1.25.0

require (
	github.com/google/go-cmp v0.7.0
	github.com/tokenguard/accesstoken v0.0.0
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	golang.org/x/time v0.9.0 // indirect
)

replace github.com/tokenguard/accesstoken => ../..
