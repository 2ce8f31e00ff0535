package postgres

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/order-tracking/platform/pkg/config"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr []string // every string must appear; none means valid
	}{
		{"defaults", func(*Config) {}, nil},
		{"key=value string", func(c *Config) { c.URL = "host=127.0.0.1 user=orders dbname=orders" }, nil},
		{"one connection", func(c *Config) { c.MaxConns = 1 }, nil},
		{"not a connection string", func(c *Config) { c.URL = "postgres://orders:s3cret@%zz/orders" },
			[]string{"DATABASE_URL is not a PostgreSQL connection string"}},
		{"no connections", func(c *Config) { c.MaxConns = 0 }, []string{"DATABASE_MAX_CONNS must be at least 1, got 0"}},
		{"every problem at once", func(c *Config) { c.URL, c.MaxConns = "postgres://%zz", -1 },
			[]string{"DATABASE_URL", "DATABASE_MAX_CONNS"}},
		{"password apart", func(c *Config) { c.Password = "s3cret" }, nil},
		{"password apart, key=value string", func(c *Config) { c.URL, c.Password = "host=127.0.0.1 user=orders", "s3cret" }, nil},
		{"password pasted into the URL unescaped", func(c *Config) { c.URL = "postgres://orders:s3cret@:/?#%x@127.0.0.1/orders" },
			[]string{"DATABASE_URL is not a PostgreSQL connection string"}},
		{"password in the URL and apart", func(c *Config) { c.URL, c.Password = "postgres://orders:s3cret@127.0.0.1/orders", "s3cret" },
			[]string{"DATABASE_PASSWORD is set and DATABASE_URL has a password too"}},
		{"password in the URL's query and apart", func(c *Config) { c.URL, c.Password = "postgres://orders@127.0.0.1/orders?password=s3cret", "s3cret" },
			[]string{"DATABASE_PASSWORD is set and DATABASE_URL has a password too"}},
		{"password in the key=value string and apart", func(c *Config) { c.URL, c.Password = "host=127.0.0.1 password=s3cret", "s3cret" },
			[]string{"DATABASE_PASSWORD is set and DATABASE_URL has a password too"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			c.SetDefaults()
			tt.change(&c)
			err := c.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want one naming %v", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("got %q, which shows the password", err)
			}
		})
	}
}

// TestConnStringEscapesPassword checks that every character with a meaning
// in a connection string reaches the server as part of the password, in
// both forms, and that nothing else changes.
func TestConnStringEscapesPassword(t *testing.T) {
	tests := []struct {
		name, url, password string
	}{
		{"URL", "postgres://orders@127.0.0.1:5432/orders?sslmode=require", `p@ss:w/rd?#%x`},
		{"postgresql URL", "postgresql://orders@127.0.0.1:5432/orders?sslmode=require", `p@ss:w/rd?#%x`},
		{"URL, spaces, quotes and backslashes", "postgres://orders@127.0.0.1:5432/orders?sslmode=require", ` a'b"c\\d e `},
		{"key=value", "host=127.0.0.1 port=5432 user=orders dbname=orders sslmode=require", `p@ss:w/rd?#%x`},
		{"key=value, spaces, quotes and backslashes", "host=127.0.0.1 port=5432 user=orders dbname=orders sslmode=require", ` a'b"c\\d e `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{URL: tt.url, Password: config.Secret(tt.password)}
			got, err := pgconn.ParseConfig(c.ConnString())
			if err != nil {
				t.Fatalf("got %v parsing the connection string, want it parsed", err)
			}
			if got.Password != tt.password {
				t.Errorf("got password %q, want %q", got.Password, tt.password)
			}
			if got.User != "orders" || got.Database != "orders" || got.Host != "127.0.0.1" || got.Port != 5432 || got.TLSConfig == nil {
				t.Errorf("got user %q, database %q, host %q, port %d, TLS %v; want orders, orders, 127.0.0.1, 5432, on",
					got.User, got.Database, got.Host, got.Port, got.TLSConfig != nil)
			}
		})
	}
	if got := (Config{URL: DefaultURL}).ConnString(); got != DefaultURL {
		t.Errorf("no password: got %q, want the URL unchanged", got)
	}
}
