package testinfra

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/order-tracking/platform/pkg/postgres"
)

// NewPool gives a test a fresh database (dropped when the test ends) with a
// service's schema applied by migrate, and a pool on it, closed when the
// test ends.
func NewPool(t testing.TB, migrate func(ctx context.Context, databaseURL string) error) *pgxpool.Pool {
	t.Helper()
	url := NewDatabase(t)
	if err := migrate(t.Context(), url); err != nil {
		t.Fatalf("cannot migrate test database: %v", err)
	}
	pool, err := postgres.Open(t.Context(), url, postgres.PoolOptions{})
	if err != nil {
		t.Fatalf("cannot open test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}
