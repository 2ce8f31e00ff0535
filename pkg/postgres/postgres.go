// Package postgres is the services' one way to connect to PostgreSQL and to
// apply their embedded schema migrations.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/order-tracking/platform/pkg/config"
	"github.com/order-tracking/platform/pkg/tracing"
)

// DefaultURL is the services' default DATABASE_URL: the local development
// server of hack/devenv.sh, which trusts loopback connections, so no
// password is written here.
const DefaultURL = "postgres://orders@127.0.0.1:5432/orders?sslmode=disable"

// DefaultMaxConns is the pool size unless DATABASE_MAX_CONNS says
// otherwise. pgx's own default, max(4, cores), makes requests queue for a
// connection under a few dozen concurrent clients while PostgreSQL still
// has CPU to spare; 16 is where pgbench's rate for the services'
// transactions levels off on a small server.
const DefaultMaxConns = 16

// Config is a service's database settings.
type Config struct {
	// URL locates PostgreSQL (a libpq URL or key=value string), sslmode
	// included; better without the password, which Password carries.
	URL string `env:"DATABASE_URL"`
	// Password is the password of URL's user, kept out of URL so that it
	// is never pasted into one unescaped: in a URL, '@', ':', '/', '?',
	// '#' and '%' in a password end the user part or the host early, or
	// make it no URL at all. On Kubernetes it comes from the Secret of the
	// service's role. Empty means URL's own, if any (pgx also honours
	// PGPASSWORD and ~/.pgpass then, as libpq does).
	Password config.Secret `env:"DATABASE_PASSWORD"`
	// MaxConns bounds the service's pool of connections.
	MaxConns int32 `env:"DATABASE_MAX_CONNS"`
	// MigrateOnStart runs the schema migrations before serving. On
	// Kubernetes a pre-install hook runs `<service> migrate` instead.
	MigrateOnStart bool `env:"MIGRATE_ON_START"`
	// StatementTimeout is PostgreSQL's statement_timeout on the service's
	// connections: the bound of a statement whose caller has no deadline
	// of its own (requests have theirs, see httpserver.Config), such as
	// the outbox relay's. Migrations run without it.
	StatementTimeout time.Duration `env:"DATABASE_STATEMENT_TIMEOUT"`
	// LockTimeout is PostgreSQL's lock_timeout: how long a statement waits
	// for a row or table lock before it fails, so that a stuck
	// transaction holding one shows as errors, not as a pile of waiters.
	LockTimeout time.Duration `env:"DATABASE_LOCK_TIMEOUT"`
}

// SetDefaults gives a new Config its defaults: the local server, a pool of
// DefaultMaxConns, migrations on start, statements bounded at 10s and
// lock waits at 2s.
func (c *Config) SetDefaults() {
	c.URL = DefaultURL
	c.MaxConns = DefaultMaxConns
	c.MigrateOnStart = true
	c.StatementTimeout = 10 * time.Second
	c.LockTimeout = 2 * time.Second
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if pc, err := pgxpool.ParseConfig(c.URL); err != nil {
		// pgx's error quotes the URL, password included: say less.
		errs = append(errs, errors.New("DATABASE_URL is not a PostgreSQL connection string"))
	} else if c.Password != "" && hasPassword(c.URL, pc) {
		errs = append(errs, errors.New("DATABASE_PASSWORD is set and DATABASE_URL has a password too: keep only one"))
	}
	if c.MaxConns < 1 {
		errs = append(errs, fmt.Errorf("DATABASE_MAX_CONNS must be at least 1, got %d", c.MaxConns))
	}
	if c.StatementTimeout < 0 || c.LockTimeout < 0 {
		errs = append(errs, fmt.Errorf("DATABASE_STATEMENT_TIMEOUT and DATABASE_LOCK_TIMEOUT must not be negative (0 is none), got %s and %s", c.StatementTimeout, c.LockTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid postgres config: %w", err)
	}
	return nil
}

// hasPassword tells whether connString itself names a password (pc, its
// parsed form, also takes one from PGPASSWORD or ~/.pgpass).
func hasPassword(connString string, pc *pgxpool.Config) bool {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err != nil {
			return false
		}
		_, set := u.User.Password()
		return set || u.Query().Has("password")
	}
	return pc.ConnConfig.Password != "" && strings.Contains(connString, "password")
}

// ConnString is URL with Password in it, escaped as its form requires: a
// URL's user information percent-encoded, a key=value string's value
// quoted. Pass it where a connection string is taken; never log it.
func (c Config) ConnString() string {
	return WithPassword(c.URL, string(c.Password))
}

// WithPassword returns connString with password set, escaped for its form,
// or connString unchanged when password is empty or connString does not
// parse (Validate reports that).
func WithPassword(connString, password string) string {
	if password == "" {
		return connString
	}
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err != nil {
			return connString
		}
		// url.UserPassword escapes every character that would end the
		// user information early: '@', ':', '/', '?', '#' and '%'.
		u.User = url.UserPassword(u.User.Username(), password)
		return u.String()
	}
	// In keyword=value form the last keyword wins; a quoted value escapes
	// its quotes and backslashes.
	quoted := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(password)
	return connString + " password='" + quoted + "'"
}

// PoolOptions tunes a pool Open connects; the zero value is pgx's
// defaults and no timeouts.
type PoolOptions struct {
	// MaxConns bounds the pool; 0 is pgx's default.
	MaxConns int32
	// StatementTimeout and LockTimeout set PostgreSQL's statement_timeout
	// and lock_timeout on every connection; 0 leaves the server's.
	StatementTimeout, LockTimeout time.Duration
}

// Open connects a pool as opts say and checks that the server answers. When tracing records spans
// (tracing.Enabled, so call it after tracing.Setup), its queries
// are traced as child spans of the span in their context; a query made
// outside any recording span (a polling loop, a readiness probe) makes no
// span. Statements are recorded without their arguments.
func Open(ctx context.Context, databaseURL string, opts PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("cannot configure postgres pool: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	// Sent in the startup message, so they hold from a connection's first
	// statement on, pooled or not.
	if opts.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	if opts.LockTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["lock_timeout"] = strconv.FormatInt(opts.LockTimeout.Milliseconds(), 10)
	}
	// A server that accepts the TCP connection and then says nothing (a
	// frozen one) must not hold a caller without a deadline for ever.
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	// The global tracer provider, which tracing.Setup configures; only when
	// it records spans (see tracing.Enabled).
	if tracing.Enabled() {
		cfg.ConnConfig.Tracer = otelpgx.NewTracer()
	}
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

// Connect is how a service starts on its database: with MigrateOnStart it
// brings the schema up to date with migrate, then it opens the pool the
// service runs on.
func Connect(ctx context.Context, cfg Config, migrate func(context.Context, string) error) (*pgxpool.Pool, error) {
	conn := cfg.ConnString()
	if cfg.MigrateOnStart {
		if err := migrate(ctx, conn); err != nil {
			return nil, err
		}
	}
	return Open(ctx, conn, PoolOptions{MaxConns: cfg.MaxConns, StatementTimeout: cfg.StatementTimeout, LockTimeout: cfg.LockTimeout})
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
	// Migrating needs one connection; the pool lives for this call only.
	pool, err := Open(ctx, databaseURL, PoolOptions{MaxConns: 2})
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
