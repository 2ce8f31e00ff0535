// Package testinfra is the one helper every integration test uses to reach
// the real PostgreSQL, Redis and Kafka: it reads their addresses from the
// environment, skips locally when they are not configured, and fails in CI,
// where a skipped integration test would be a silently missing test.
package testinfra

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// hint tells the reader how to get the infrastructure the test needs.
	hint = "start it with `hack/devenv.sh up` and export its settings (`eval \"$(hack/devenv.sh env)\"`), or run `make test`"
	// dialTimeout bounds the reachability check; a loopback or in-cluster
	// server that does not answer within it is not going to.
	dialTimeout = 2 * time.Second
)

// DatabaseURL returns DATABASE_URL, the PostgreSQL connection URL of a role
// allowed to create databases. See NewDatabase for an isolated database.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	v := lookup(t, "DATABASE_URL")
	cfg, err := pgx.ParseConfig(v)
	if err != nil {
		t.Fatalf("DATABASE_URL is not a valid PostgreSQL connection string: %v", err)
	}
	reachable(t, "DATABASE_URL", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	return v
}

// RedisAddr returns REDIS_ADDR, the host:port of a Redis server.
func RedisAddr(t testing.TB) string {
	t.Helper()
	v := lookup(t, "REDIS_ADDR")
	reachable(t, "REDIS_ADDR", v)
	return v
}

// KafkaBrokers returns KAFKA_BROKERS, a comma-separated list of host:port
// bootstrap servers, after checking that each one answers.
func KafkaBrokers(t testing.TB) string {
	t.Helper()
	v := lookup(t, "KAFKA_BROKERS")
	for b := range strings.SplitSeq(v, ",") {
		reachable(t, "KAFKA_BROKERS", strings.TrimSpace(b))
	}
	return v
}

// PasswordDatabaseURL returns the URL of the database password_auth on the
// server of DATABASE_URL, as DATABASE_URL's user: hack/devenv.sh makes
// that database ask for passwords (every other one trusts loopback), so a
// test can log in there with a password and have it checked. The role of
// DATABASE_URL may create roles.
func PasswordDatabaseURL(t testing.TB) string {
	t.Helper()
	base := DatabaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("cannot connect to DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	var ok bool
	if err := conn.QueryRow(ctx, `select exists (select 1 from pg_database where datname = 'password_auth')
		and (select rolcreaterole from pg_roles where rolname = current_user)`).Scan(&ok); err != nil {
		t.Fatalf("cannot look for database password_auth: %v", err)
	}
	if !ok {
		unavailable(t, "the server of DATABASE_URL has no database password_auth, or its user may not create roles (hack/devenv.sh up adds both)")
	}
	u, err := withDatabase(base, "password_auth")
	if err != nil {
		t.Fatalf("cannot build URL of database password_auth: %v", err)
	}
	return u
}

// PasswordRole creates a role that logs in to the database password_auth
// with password (checked there: see PasswordDatabaseURL), with a schema of
// its own named after it, first on its search_path, so that a service's
// migrations can create their tables as it. It returns the role's URL
// without the password, and drops the schema and the role when the test
// ends.
func PasswordRole(t testing.TB, password string) string {
	t.Helper()
	base := PasswordDatabaseURL(t)
	// Roles and grants on databases are cluster-wide: DATABASE_URL's role
	// (which owns password_auth, where it has no password) makes them from
	// its own database.
	admin := DatabaseURL(t)
	role := UniqueName("password_test_")
	ident := pgx.Identifier{role}.Sanitize()
	// CREATE ROLE takes no parameters: the password is a quoted literal.
	Exec(t, admin, "CREATE ROLE "+ident+" LOGIN PASSWORD '"+strings.ReplaceAll(password, "'", "''")+"'")
	Exec(t, admin, "GRANT CREATE ON DATABASE password_auth TO "+ident)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("cannot parse %s: %v", base, err)
	}
	u.User = url.User(role)
	roleURL := u.String()
	u.User = url.UserPassword(role, password)
	asRole := u.String()
	Exec(t, asRole, "CREATE SCHEMA AUTHORIZATION CURRENT_USER")
	t.Cleanup(func() {
		// Only its owner may drop the schema; the role goes with its grant.
		Exec(t, asRole, "DROP SCHEMA IF EXISTS "+ident+" CASCADE")
		Exec(t, admin, "REVOKE ALL ON DATABASE password_auth FROM "+ident)
		Exec(t, admin, "DROP ROLE IF EXISTS "+ident)
	})
	return roleURL
}

// KafkaSASL is the local broker's SASL_SSL listener, as hack/devenv.sh
// sets it up: SCRAM-SHA-512 users named after the services, with ACLs.
type KafkaSASL struct {
	// Brokers is the listener's bootstrap list (KAFKA_SASL_SSL_BROKERS).
	Brokers string
	// CALocation is the PEM file of the CA that signed the broker's
	// certificate (KAFKA_SASL_SSL_CA).
	CALocation string
	// Password is the service users' password (KAFKA_SASL_DEVENV_PASSWORD).
	Password string
}

// KafkaSASLListener returns the SASL_SSL listener's settings after
// checking that it answers.
func KafkaSASLListener(t testing.TB) KafkaSASL {
	t.Helper()
	s := KafkaSASL{
		Brokers:    lookup(t, "KAFKA_SASL_SSL_BROKERS"),
		CALocation: lookup(t, "KAFKA_SASL_SSL_CA"),
		Password:   lookup(t, "KAFKA_SASL_DEVENV_PASSWORD"),
	}
	for b := range strings.SplitSeq(s.Brokers, ",") {
		reachable(t, "KAFKA_SASL_SSL_BROKERS", strings.TrimSpace(b))
	}
	return s
}

// NewDatabase creates an empty database with a unique name on the server of
// DATABASE_URL and returns its URL: same host, user and options, different
// database. The database is dropped when the test ends, even if a
// connection is still open. Tests in different packages run in parallel
// under `go test ./...`; a database each keeps them from seeing each
// other's rows and migrations.
func NewDatabase(t testing.TB) string {
	t.Helper()
	base := DatabaseURL(t)
	name := databaseName(t.Name())

	Exec(t, base, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		// WITH (FORCE) ends connections a test leaked (a pool not closed),
		// which would otherwise make DROP fail and the database pile up.
		Exec(t, base, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})

	u, err := withDatabase(base, name)
	if err != nil {
		t.Fatalf("cannot build URL of database %s: %v", name, err)
	}
	return u
}

// UniqueName returns prefix followed by 8 random hex characters, e.g.
// UniqueName("orders-test-") = "orders-test-3f9a0c1e". Use it for Kafka
// topics, consumer groups and Redis keys that must not collide with those
// of tests running at the same time or left over from earlier runs.
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return prefix + hex.EncodeToString(b)
}

// Eventually calls cond every 25ms until it returns true, and fails the test
// with cond's last message if that has not happened within timeout. cond
// returns a message saying what it saw, so the failure says why the wait
// failed, not only that it did. This is the project's way to wait for
// something asynchronous: never sleep and hope.
func Eventually(t testing.TB, timeout time.Duration, cond func() (ok bool, msg string)) {
	t.Helper()
	const interval = 25 * time.Millisecond
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if !time.Now().Before(deadline) {
			t.Fatalf("condition not met within %s: %s", timeout, msg)
			return
		}
		<-ticker.C
	}
}

// inCI reports whether the tests run in CI, where a missing or unreachable
// server is a broken pipeline rather than a laptop without Kafka. CI
// systems set CI=true; any value other than empty or false counts.
func inCI() bool {
	v := os.Getenv("CI")
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err != nil || b
}

// unavailable fails the test in CI and skips it elsewhere.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + "; " + hint
	if inCI() {
		t.Fatalf("%s (CI is set, so this fails instead of skipping)", msg)
		return
	}
	t.Skip(msg)
}

func lookup(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		unavailable(t, "%s is not set", name)
	}
	return v
}

func reachable(t testing.TB, name, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		unavailable(t, "%s=%s does not answer: %v", name, addr, err)
		return
	}
	_ = conn.Close()
}

// Exec runs one statement on its own connection and fails t if it fails:
// CREATE and DROP DATABASE cannot run inside a transaction, and a pool
// would outlive the test. It may be called from a cleanup.
func Exec(t testing.TB, connURL, sql string) {
	t.Helper()
	// Not t.Context(): it is already cancelled when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		t.Fatalf("cannot connect to DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("cannot run %q: %v", sql, err)
	}
}

// databaseName derives a database name from the test name, so a database
// left behind by a killed run says which test made it, and adds a random
// suffix so parallel and repeated runs do not collide. PostgreSQL folds
// and truncates identifiers at 63 bytes; this stays well below.
func databaseName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 40 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return UniqueName("test_" + b.String() + "_")
}

// withDatabase returns connURL pointing at database name instead. It
// accepts both forms PostgreSQL does: a URL and keyword=value pairs.
func withDatabase(connURL, name string) (string, error) {
	if strings.HasPrefix(connURL, "postgres://") || strings.HasPrefix(connURL, "postgresql://") {
		u, err := url.Parse(connURL)
		if err != nil {
			return "", fmt.Errorf("cannot parse database url: %w", err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// In keyword=value form the last occurrence of a keyword wins.
	return connURL + " dbname=" + name, nil
}

// Unsetenv unsets each variable for the rest of t and restores it after,
// so that a test of configuration defaults sees none of the developer's or
// CI's settings. Like t.Setenv, it cannot be used in parallel tests.
func Unsetenv(t *testing.T, names ...string) {
	t.Helper()
	for _, k := range names {
		t.Setenv(k, "") // registers the restore
		os.Unsetenv(k)
	}
}
