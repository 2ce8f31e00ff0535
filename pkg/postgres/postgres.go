// Package postgres is the services' one way to connect to PostgreSQL and to
// apply their embedded schema migrations.
package postgres

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// DefaultURL is the services' default DATABASE_URL: the local development
// server of hack/devenv.sh, which trusts loopback connections, so no
// password is written here.
const DefaultURL = "postgres://orders@127.0.0.1:5432/orders?sslmode=disable"

// Open connects a pool and checks that the server answers. Its queries
// are traced as child spans of the span in their context; a query made
// outside any recording span (a polling loop, a readiness probe) makes no
// span. Statements are recorded without their arguments.
func Open(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("cannot configure postgres pool: %w", err)
	}
	// The global tracer provider, which tracing.Setup configures.
	cfg.ConnConfig.Tracer = otelpgx.NewTracer()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot configure postgres pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot reach postgres: %w", err)
	}
	return pool, nil
}

// Connect is how a service starts on its database: when migrateFirst is
// set (MIGRATE_ON_START) it brings the schema up to date with migrate, then
// it opens the pool the service runs on.
func Connect(ctx context.Context, databaseURL string, migrateFirst bool, migrate func(context.Context, string) error) (*pgxpool.Pool, error) {
	if migrateFirst {
		if err := migrate(ctx, databaseURL); err != nil {
			return nil, err
		}
	}
	return Open(ctx, databaseURL)
}

// Migrations is one service's schema history.
type Migrations struct {
	// FS holds the goose SQL files at its root.
	FS fs.FS
	// VersionTable is goose's bookkeeping table; empty means goose's
	// default. Services sharing a database (as they do in local
	// development) each need their own, or goose would mix their versions.
	VersionTable string
	// LockID is the advisory lock held while migrating; 0 means goose's
	// default. Distinct ids let services sharing a database migrate side by
	// side; replicas of one service still migrate once.
	LockID int64
}

// Migrate brings the schema at databaseURL up to date with m.
func Migrate(ctx context.Context, databaseURL string, m Migrations) error {
	pool, err := Open(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()

	var lockOpts []lock.SessionLockerOption
	if m.LockID != 0 {
		lockOpts = append(lockOpts, lock.WithLockID(m.LockID))
	}
	locker, err := lock.NewPostgresSessionLocker(lockOpts...)
	if err != nil {
		return fmt.Errorf("cannot create migration lock: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithSessionLocker(locker)}
	if m.VersionTable != "" {
		opts = append(opts, goose.WithTableName(m.VersionTable))
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, m.FS, opts...)
	if err != nil {
		return fmt.Errorf("cannot load migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("cannot migrate: %w", err)
	}
	return nil
}
