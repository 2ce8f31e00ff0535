package postgres

import (
	"strings"
	"testing"
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
