module github.com/tokenguard/accesstoken/middleware/connect2auth

go 1.26.0

require (
	connectrpc.com/connect/v2 v2.0.2
	github.com/tokenguard/accesstoken v0.1.0
	google.golang.org/protobuf v1.36.11
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	golang.org/x/time v0.9.0 // indirect
)

replace github.com/tokenguard/accesstoken => ../..
