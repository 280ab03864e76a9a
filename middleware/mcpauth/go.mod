module github.com/tokenguard/accesstoken/middleware/mcpauth

go 1.25.0

replace github.com/tokenguard/accesstoken => ../..

require (
	github.com/modelcontextprotocol/go-sdk v1.8.0
	github.com/tokenguard/accesstoken v0.1.0
	golang.org/x/oauth2 v0.35.0
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/google/jsonschema-go v0.4.3 // indirect
	github.com/segmentio/asm v1.1.3 // indirect
	github.com/segmentio/encoding v0.5.4 // indirect
	github.com/yosida95/uritemplate/v3 v3.0.2 // indirect
	golang.org/x/sync v0.20.0 // indirect
	golang.org/x/sys v0.41.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)
