module github.com/tokenguard/accesstoken/middleware/echo5auth

go 1.25.0

require github.com/tokenguard/accesstoken v0.1.0

require github.com/go-jose/go-jose/v4 v4.1.9 // indirect

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/labstack/echo/v5 v5.4.4
	golang.org/x/time v0.15.0 // indirect
)

replace github.com/tokenguard/accesstoken => ../..
