module github.com/tokenguard/accesstoken/redisstore

go 1.26.0

replace github.com/tokenguard/accesstoken => ..

require (
	github.com/redis/go-redis/v9 v9.23.0
	github.com/tokenguard/accesstoken v0.1.0
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/time v0.9.0 // indirect
)
