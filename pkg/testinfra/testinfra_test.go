package testinfra

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestIntegrationNewDatabase(t *testing.T) {
	base := DatabaseURL(t)

	var name string
	t.Run("create", func(t *testing.T) {
		dbURL := NewDatabase(t)

		ctx := t.Context()
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatalf("cannot connect to the new database: %v", err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatalf("cannot query the new database: %v", err)
		}
		if !strings.HasPrefix(name, "test_") {
			t.Errorf("got database %q, want a test_ prefix", name)
		}
		if !databaseExists(t, base, name) {
			t.Errorf("got database %q missing from pg_database, want it listed", name)
		}
	})
	if name == "" {
		t.Fatal("sub-test did not report the database name")
	}
	if databaseExists(t, base, name) {
		t.Errorf("got database %q still present after the sub-test's cleanup, want it dropped", name)
	}
}

func TestIntegrationNewDatabaseDropsWithOpenConnection(t *testing.T) {
	base := DatabaseURL(t)

	var (
		name string
		conn *pgx.Conn
	)
	t.Run("leak a connection", func(t *testing.T) {
		var err error
		conn, err = pgx.Connect(context.Background(), NewDatabase(t))
		if err != nil {
			t.Fatalf("cannot connect to the new database: %v", err)
		}
		name = conn.Config().Database
	})
	defer conn.Close(context.Background())
	if databaseExists(t, base, name) {
		t.Errorf("got database %q still present although DROP ... WITH (FORCE) should end open connections", name)
	}
}

func TestIntegrationNewDatabaseIsolation(t *testing.T) {
	a, b := NewDatabase(t), NewDatabase(t)
	if a == b {
		t.Fatalf("got the same URL twice (%s), want two databases", a)
	}
}

func databaseExists(t *testing.T, connURL, name string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		t.Fatalf("cannot connect to DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatalf("cannot query pg_database: %v", err)
	}
	return exists
}

func TestUniqueName(t *testing.T) {
	re := regexp.MustCompile(`^orders-test-[0-9a-f]{8}$`)
	seen := map[string]bool{}
	for range 1000 {
		got := UniqueName("orders-test-")
		if !re.MatchString(got) {
			t.Fatalf("got %q, want it to match %s", got, re)
		}
		if seen[got] {
			t.Fatalf("got %q twice in 1000 calls, want unique names", got)
		}
		seen[got] = true
	}
}

func TestWithDatabase(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "url keeps user, host and options",
			in:   "postgres://orders@127.0.0.1:5432/orders?sslmode=disable",
			want: "postgres://orders@127.0.0.1:5432/test_x?sslmode=disable",
		},
		{
			name: "url without database",
			in:   "postgresql://orders:secret@db:5432",
			want: "postgresql://orders:secret@db:5432/test_x",
		},
		{
			name: "keyword value",
			in:   "host=127.0.0.1 user=orders dbname=orders",
			want: "host=127.0.0.1 user=orders dbname=orders dbname=test_x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := withDatabase(tt.in, "test_x")
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			cfg, err := pgx.ParseConfig(got)
			if err != nil {
				t.Fatalf("got unparsable %q: %v", got, err)
			}
			if cfg.Database != "test_x" {
				t.Errorf("got database %q, want test_x", cfg.Database)
			}
		})
	}
}

func TestDatabaseName(t *testing.T) {
	got := databaseName("TestIntegrationOrders/Create-Order #1 with a very long name that goes on")
	if !regexp.MustCompile(`^test_[a-z0-9_]{1,40}_[0-9a-f]{8}$`).MatchString(got) {
		t.Errorf("got %q, want test_<sanitized name>_<8 hex>", got)
	}
	if len(got) > 63 {
		t.Errorf("got %d bytes, want at most PostgreSQL's 63", len(got))
	}
}

// fakeTB records how a helper ended a test. Fatal and Skip stop the calling
// goroutine like the real ones do, so run the helper through fakeTB.run.
type fakeTB struct {
	testing.TB // nil: calling anything not overridden panics, which is the point

	// Written by the helper's goroutine and read after run has waited for
	// it, so no lock is needed.
	failed  bool
	skipped bool
	msg     string
}

func (f *fakeTB) Helper()      {}
func (f *fakeTB) Name() string { return "TestFake" }

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Skip(args ...any) {
	f.skipped, f.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

// run calls fn on its own goroutine, so that Goexit ends only fn.
func (f *fakeTB) run(fn func(tb testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
}

func TestEventually(t *testing.T) {
	t.Run("returns once the condition holds", func(t *testing.T) {
		calls := 0
		Eventually(t, 5*time.Second, func() (bool, string) {
			calls++
			return calls == 3, fmt.Sprintf("calls=%d", calls)
		})
		if calls != 3 {
			t.Errorf("got %d calls, want 3", calls)
		}
	})

	t.Run("fails with the last message at the deadline", func(t *testing.T) {
		f := &fakeTB{}
		calls := 0
		start := time.Now()
		f.run(func(tb testing.TB) {
			Eventually(tb, 100*time.Millisecond, func() (bool, string) {
				calls++
				return false, fmt.Sprintf("attempt %d", calls)
			})
		})
		if !f.failed {
			t.Fatal("got no failure, want Fatalf at the deadline")
		}
		if want := fmt.Sprintf("attempt %d", calls); !strings.HasSuffix(f.msg, want) {
			t.Errorf("got message %q, want it to end with the last message %q", f.msg, want)
		}
		if calls < 2 {
			t.Errorf("got %d calls, want polling (at least 2)", calls)
		}
		if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
			t.Errorf("got failure after %s, want at least the 100ms timeout", elapsed)
		}
	})
}

func TestMissingInfrastructure(t *testing.T) {
	// A port that was just free: nothing answers on it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name        string
		ci          string
		value       string
		wantFailed  bool
		wantSkipped bool
		wantMsg     string
	}{
		{name: "missing locally skips", ci: "", value: "", wantSkipped: true, wantMsg: "REDIS_ADDR is not set"},
		{name: "missing with CI=false skips", ci: "false", value: "", wantSkipped: true, wantMsg: "REDIS_ADDR is not set"},
		{name: "missing in CI fails", ci: "true", value: "", wantFailed: true, wantMsg: "REDIS_ADDR is not set"},
		{name: "missing in CI=1 fails", ci: "1", value: "", wantFailed: true, wantMsg: "REDIS_ADDR is not set"},
		{name: "unreachable in CI fails", ci: "true", value: deadAddr, wantFailed: true, wantMsg: "does not answer"},
		{name: "unreachable locally skips", ci: "", value: deadAddr, wantSkipped: true, wantMsg: "does not answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			t.Setenv("REDIS_ADDR", tt.value)

			f := &fakeTB{}
			f.run(func(tb testing.TB) { RedisAddr(tb) })

			if f.failed != tt.wantFailed || f.skipped != tt.wantSkipped {
				t.Fatalf("got failed=%v skipped=%v, want failed=%v skipped=%v (%s)", f.failed, f.skipped, tt.wantFailed, tt.wantSkipped, f.msg)
			}
			for _, want := range []string{tt.wantMsg, "hack/devenv.sh up", "make test"} {
				if !strings.Contains(f.msg, want) {
					t.Errorf("got message %q, want it to contain %q", f.msg, want)
				}
			}
		})
	}
}
