package postgres_test

import (
	"testing"

	pg "github.com/order-tracking/platform/pkg/postgres"
	"github.com/order-tracking/platform/pkg/testinfra"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres"
)

// TestIntegrationMigrateSharesADatabase checks that the schema can live in
// the database other services migrate too (local development): goose's
// bookkeeping must stay in a table of its own, and a second run must be a
// no-op.
func TestIntegrationMigrateSharesADatabase(t *testing.T) {
	url := testinfra.NewDatabase(t)
	pool, err := pg.Open(t.Context(), url, pg.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// Another service's goose table, at a version above ours.
	if _, err := pool.Exec(t.Context(), `
		CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
		INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true)`); err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		if err := postgres.Migrate(t.Context(), url); err != nil {
			t.Fatalf("migration %d: got error %v, want none", i+1, err)
		}
	}

	var deliveries, others int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM notification_deliveries").Scan(&deliveries); err != nil {
		t.Fatalf("got no notification_deliveries table: %v", err)
	}
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM goose_db_version").Scan(&others); err != nil || others != 3 {
		t.Errorf("got %d rows in the other service's goose table (%v), want its 3 untouched", others, err)
	}
	var applied int64
	if err := pool.QueryRow(t.Context(), "SELECT max(version_id) FROM notification_goose_db_version").Scan(&applied); err != nil || applied != 3 {
		t.Errorf("got our schema at version %d (%v), want 3", applied, err)
	}
}
