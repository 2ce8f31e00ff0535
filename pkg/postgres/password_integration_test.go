package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/postgres"
	"github.com/order-tracking/platform/pkg/testinfra"
)

// password has every character that ends a URL's user information or
// host early, or makes it no URL at all, unless escaped.
const password = "p@ss:w/rd?#%x"

// TestIntegrationPasswordApart logs in, with a password PostgreSQL checks,
// as a role whose password has '@', ':', '/', '?', '#' and '%': given
// apart in DATABASE_PASSWORD to a URL or a key=value string, or escaped
// into the URL by hand. Connect hands the same credentials to the
// migrations and to the pool. A wrong password is refused, without being
// quoted in the error.
func TestIntegrationPasswordApart(t *testing.T) {
	roleURL, err := url.Parse(testinfra.PasswordRole(t, password))
	if err != nil {
		t.Fatal(err)
	}
	role := roleURL.User.Username()
	q := roleURL.Query()
	keyValue := fmt.Sprintf("host=%s port=%s user=%s dbname=password_auth sslmode=%s",
		roleURL.Hostname(), roleURL.Port(), role, q.Get("sslmode"))
	escaped := *roleURL
	escaped.User = url.UserPassword(role, password)

	tests := []struct {
		name    string
		cfg     postgres.Config
		wantErr string // "" means logged in as role
	}{
		{name: "URL, password apart", cfg: postgres.Config{URL: roleURL.String(), Password: password}},
		{name: "key=value, password apart", cfg: postgres.Config{URL: keyValue, Password: password}},
		{name: "password escaped in the URL", cfg: postgres.Config{URL: escaped.String()}},
		{name: "wrong password", cfg: postgres.Config{URL: roleURL.String(), Password: "p@ss:w/rd?#%y"}, wantErr: "password authentication failed"},
		{name: "no password", cfg: postgres.Config{URL: roleURL.String()}, wantErr: "password authentication failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// PGPASSWORD would stand in for a missing password.
			testinfra.Unsetenv(t, "PGPASSWORD", "PGPASSFILE")
			cfg := tt.cfg
			cfg.MaxConns, cfg.MigrateOnStart = 2, true
			if err := cfg.Validate(); err != nil {
				t.Fatalf("got %v validating, want nil", err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			var migratedAs string
			migrate := func(ctx context.Context, conn string) error {
				var err error
				migratedAs, err = currentUser(ctx, conn)
				return err
			}
			pool, err := postgres.Connect(ctx, cfg, migrate)
			if tt.wantErr != "" {
				if err == nil {
					pool.Close()
					t.Fatalf("got logged in, want %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "w/rd") {
					t.Errorf("got %q, want it to say %q and not quote the password", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want logged in as %s", err, role)
			}
			defer pool.Close()
			var got string
			if err := pool.QueryRow(ctx, "select current_user").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != role || migratedAs != role {
				t.Errorf("got pool as %q and migrations as %q, want both %q", got, migratedAs, role)
			}
		})
	}
}

// currentUser connects with conn and says as whom it is logged in.
func currentUser(ctx context.Context, conn string) (string, error) {
	pool, err := postgres.Open(ctx, conn, postgres.PoolOptions{MaxConns: 1})
	if err != nil {
		return "", err
	}
	defer pool.Close()
	var user string
	err = pool.QueryRow(ctx, "select current_user").Scan(&user)
	return user, err
}
