package redisstore_test

import (
	"context"
	"log"

	"github.com/redis/go-redis/v9"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/redisstore"
)

// Replicas of an API share DPoP replay protection and a revocation list
// through one Redis (a single node here; a Cluster or Sentinel client works
// alike). Not run: it needs a Redis server.
func Example() {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{"127.0.0.1:6379"},
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()
	store := redisstore.New(rdb, "orders-api:")
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer:   "https://login.example.com",
		Audience: []string{"https://api.example.com"},
		DPoP: &accesstoken.DPoPConfig{
			Replay:      accesstoken.NewReplayCache(store),
			NonceSecret: []byte("the same 32 or more random bytes on every replica"),
		},
		Revocations: accesstoken.NewRevocations(store),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
}
