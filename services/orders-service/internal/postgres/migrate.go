// Package postgres stores orders in PostgreSQL: the order table, the
// transactional outbox beside it, and idempotency keys.
package postgres

import (
	"context"
	"embed"
	"io/fs"

	pg "github.com/order-tracking/platform/pkg/postgres"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate brings the orders schema up to date. goose takes a PostgreSQL
// advisory lock, so replicas starting together migrate once.
func Migrate(ctx context.Context, databaseURL string) error {
	fsys, _ := fs.Sub(migrations, "migrations") // cannot fail: the directory is embedded
	// goose's default version table and lock: orders-service was first.
	return pg.Migrate(ctx, databaseURL, pg.Migrations{FS: fsys})
}
