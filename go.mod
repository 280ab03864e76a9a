module github.com/tokenguard/accesstoken

go 1.25.0

require (
	github.com/MicahParks/jwkset v0.11.4
	github.com/go-jose/go-jose/v4 v4.1.9
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/google/go-cmp v0.7.0
)

require golang.org/x/time v0.9.0 // indirect
