// Package postgres keeps notification-service's delivery log in PostgreSQL:
// the record of every notification claimed and sent, which is what keeps a
// redelivered event from notifying the customer twice.
package postgres

import (
	"context"
	"embed"
	"io/fs"

	pg "github.com/order-tracking/platform/pkg/postgres"
)

//go:embed migrations/*.sql
var migrations embed.FS

// versionTable is goose's bookkeeping table for this service's schema. In
// local development every service shares one database, so the default
// goose_db_version would mix orders-service's migration versions with ours
// and goose would think ours already applied (or missing).
const versionTable = "notification_goose_db_version"

// migrationLockID is the advisory lock goose holds while migrating. It
// differs from goose's default, which orders-service uses, so services
// sharing a database migrate side by side instead of waiting in turn.
const migrationLockID int64 = 4097083627

// Migrate brings the schema up to date. goose takes a PostgreSQL advisory
// lock, so replicas starting together migrate once.
func Migrate(ctx context.Context, databaseURL string) error {
	fsys, _ := fs.Sub(migrations, "migrations") // cannot fail: the directory is embedded
	return pg.Migrate(ctx, databaseURL, pg.Migrations{FS: fsys, VersionTable: versionTable, LockID: migrationLockID})
}
