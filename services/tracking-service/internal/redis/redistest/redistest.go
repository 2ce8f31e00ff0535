// Package redistest gives tests a Store on the real Redis of REDIS_ADDR,
// with keys, channels and a client name of their own.
package redistest

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/order-tracking/platform/pkg/testinfra"
	"github.com/order-tracking/platform/services/tracking-service/internal/redis"
)

// Env is one test's slice of Redis.
type Env struct {
	// Store uses Prefix for every key and channel.
	Store *redis.Store
	// Client is the store's client; its connections are named ClientName.
	Client *goredis.Client
	// Prefix is unique to the test, so tests running at the same time, in
	// this package or others, never see each other's keys or messages.
	Prefix string
	// ClientName is unique to the test, to find its connections in CLIENT
	// LIST.
	ClientName string
}

// New returns a store on REDIS_ADDR with the given TTL (0 means the
// default) and a unique key prefix. The test's keys are deleted and the
// client closed when it ends.
func New(t testing.TB, ttl time.Duration) Env {
	t.Helper()
	return WithPrefix(t, ttl, testinfra.UniqueName("tracking-test-")+":")
}

// WithPrefix is New with the given key prefix, which should start with a
// unique name.
func WithPrefix(t testing.TB, ttl time.Duration, prefix string) Env {
	t.Helper()
	addr := testinfra.RedisAddr(t)
	e := Env{Prefix: prefix, ClientName: testinfra.UniqueName("tracking-test-")}
	e.Client = redis.NewClient(redis.Config{Addr: addr, ClientName: e.ClientName})
	e.Store = redis.NewStore(e.Client, redis.StoreOptions{KeyPrefix: e.Prefix, TTL: ttl, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		// Not t.Context(): it is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := e.Client.Scan(ctx, 0, globEscape(e.Prefix)+"*", 100).Iterator()
		for iter.Next(ctx) {
			e.Client.Del(ctx, iter.Val())
		}
		_ = e.Client.Close()
	})
	return e
}

// Down returns a store whose Redis never answers: its address is a port
// nobody listens on.
func Down(t testing.TB) *redis.Store {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	// No retries: each one would only meet the same refused connection.
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return redis.NewStore(c, redis.StoreOptions{Logger: slog.New(slog.DiscardHandler)})
}

// PubSubConns returns the ids of the connections named name that hold a
// pattern subscription, as CLIENT LIST reports them.
func PubSubConns(t testing.TB, c *goredis.Client, name string) []string {
	t.Helper()
	clients, err := c.ClientList(t.Context()).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	var ids []string
	for line := range strings.Lines(clients) {
		f := map[string]string{}
		for kv := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		if f["name"] == name && f["psub"] != "" && f["psub"] != "0" {
			ids = append(ids, f["id"])
		}
	}
	return ids
}

// globEscape quotes the characters SCAN's MATCH reads as wildcards.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
