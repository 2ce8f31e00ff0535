// Package postgrestest gives integration tests a PostgreSQL database of
// their own with the orders schema in place.
package postgrestest

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/order-tracking/platform/pkg/testinfra"
	"github.com/order-tracking/platform/services/orders-service/internal/postgres"
)

// NewPool migrates a fresh database (dropped when the test ends) and returns
// a pool on it, closed when the test ends.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := testinfra.NewDatabase(t)
	if err := postgres.Migrate(t.Context(), url); err != nil {
		t.Fatalf("cannot migrate test database: %v", err)
	}
	pool, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("cannot open test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}
