module github.com/tokenguard/accesstoken/interop

go 1.25.0

require (
	github.com/go-jose/go-jose/v4 v4.1.9
	github.com/google/go-cmp v0.7.0
	github.com/labstack/echo/v4 v4.15.4
	github.com/labstack/echo/v5 v5.4.4
	github.com/modelcontextprotocol/go-sdk v1.8.0
	github.com/tokenguard/accesstoken v0.1.0
	github.com/tokenguard/accesstoken/middleware/echo5auth v0.1.0
	github.com/tokenguard/accesstoken/middleware/echoauth v0.1.0
	github.com/tokenguard/accesstoken/middleware/grpcauth v0.1.0
	github.com/tokenguard/accesstoken/middleware/mcpauth v0.1.0
	google.golang.org/grpc v1.80.0
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/google/jsonschema-go v0.4.3 // indirect
	github.com/labstack/gommon v0.5.0 // indirect
	github.com/mattn/go-colorable v0.1.15 // indirect
	github.com/mattn/go-isatty v0.0.22 // indirect
	github.com/segmentio/asm v1.1.3 // indirect
	github.com/segmentio/encoding v0.5.4 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasttemplate v1.2.2 // indirect
	github.com/yosida95/uritemplate/v3 v3.0.2 // indirect
	golang.org/x/crypto v0.54.0 // indirect
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/oauth2 v0.35.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.40.0 // indirect
	golang.org/x/time v0.15.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260120221211-b8f7ae30c516 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)

replace (
	github.com/tokenguard/accesstoken => ../
	github.com/tokenguard/accesstoken/middleware/echo5auth => ../middleware/echo5auth
	github.com/tokenguard/accesstoken/middleware/echoauth => ../middleware/echoauth
	github.com/tokenguard/accesstoken/middleware/grpcauth => ../middleware/grpcauth
	github.com/tokenguard/accesstoken/middleware/mcpauth => ../middleware/mcpauth
)

tool github.com/modelcontextprotocol/go-sdk/conformance/everything-server
