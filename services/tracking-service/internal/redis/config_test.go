package redis

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config { var c Config; c.SetDefaults(); return c }
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"empty address", func(c *Config) { c.Addr = "" }, "REDIS_ADDR must not be empty"},
		{"negative db", func(c *Config) { c.DB = -1 }, "REDIS_DB must not be negative, got -1"},
		{"client name with a space", func(c *Config) { c.ClientName = "tracking service" }, "REDIS_CLIENT_NAME must not contain spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := Config{Addr: "", DB: -2, ClientName: "a b"}.Validate()
	for _, want := range []string{"REDIS_ADDR", "REDIS_DB", "REDIS_CLIENT_NAME"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got error %v, want it to name %s", err, want)
		}
	}
}
