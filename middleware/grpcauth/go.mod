module github.com/tokenguard/accesstoken/middleware/grpcauth

go 1.25.0

require (
	github.com/grpc-ecosystem/go-grpc-middleware/v2 v2.3.2
	github.com/tokenguard/accesstoken v0.1.0
	google.golang.org/grpc v1.80.0
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	golang.org/x/net v0.49.0 // indirect
	golang.org/x/sys v0.40.0 // indirect
	golang.org/x/text v0.33.0 // indirect
	golang.org/x/time v0.9.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260120221211-b8f7ae30c516 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)

replace github.com/tokenguard/accesstoken => ../..
