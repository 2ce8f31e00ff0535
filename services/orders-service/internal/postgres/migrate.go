// Package postgres stores orders in PostgreSQL: the order table and
// idempotency keys. Each change's event goes to the transactional outbox
// through package outbox, in the change's transaction. The migrations here
// create the service's whole schema, the outbox table among them, so that
// one goose version table orders every change to it.
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
