package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
)

// The variables below carry a CFGTEST_ prefix so that nothing in the
// environment of a developer machine or CI runner can collide with them.

type httpConfig struct {
	Port    int           `env:"PORT"`
	Timeout time.Duration `env:"TIMEOUT" envDefault:"20s"`
}

type testConfig struct {
	DatabaseURL string        `env:"CFGTEST_DATABASE_URL,required"`
	Brokers     string        `env:"CFGTEST_KAFKA_BROKERS,required"`
	PollEvery   time.Duration `env:"CFGTEST_POLL_INTERVAL" envDefault:"500ms"`
	BatchSize   int           `env:"CFGTEST_BATCH_SIZE" envDefault:"100"`
	HTTP        httpConfig    `envPrefix:"CFGTEST_HTTP_"`
	Metrics     httpConfig    `envPrefix:"CFGTEST_METRICS_"`
}

// validateCalls counts Validate calls; the tests using it do not run in
// parallel (they use t.Setenv), so a plain variable is enough.
var validateCalls int

func (c *testConfig) Validate() error {
	validateCalls++
	if c.BatchSize < 0 {
		return errors.New("CFGTEST_BATCH_SIZE must not be negative")
	}
	return nil
}

func TestLoad(t *testing.T) {
	valid := map[string]string{
		"CFGTEST_DATABASE_URL":  "postgres://localhost/orders",
		"CFGTEST_KAFKA_BROKERS": "localhost:9092",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range valid {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	tests := []struct {
		name       string
		env        map[string]string
		wantErr    []string // every string must appear in the error
		notWantErr []string // none of these may appear
	}{
		{
			name: "valid with defaults",
			env:  valid,
		},
		{
			name:    "every missing required variable is named",
			env:     map[string]string{},
			wantErr: []string{"CFGTEST_DATABASE_URL", "CFGTEST_KAFKA_BROKERS"},
		},
		{
			name:    "bad duration and bad int are named by variable",
			env:     with(map[string]string{"CFGTEST_POLL_INTERVAL": "soon", "CFGTEST_BATCH_SIZE": "many"}),
			wantErr: []string{"CFGTEST_POLL_INTERVAL", `"soon"`, "CFGTEST_BATCH_SIZE", `"many"`},
		},
		{
			name:    "missing and unparsable reported together",
			env:     map[string]string{"CFGTEST_BATCH_SIZE": "many"},
			wantErr: []string{"CFGTEST_DATABASE_URL", "CFGTEST_KAFKA_BROKERS", "CFGTEST_BATCH_SIZE"},
		},
		{
			name:       "nested field with a shared Go name names the right variable",
			env:        with(map[string]string{"CFGTEST_HTTP_PORT": "8080", "CFGTEST_METRICS_PORT": "nine"}),
			wantErr:    []string{"CFGTEST_METRICS_PORT", `"nine"`},
			notWantErr: []string{"CFGTEST_HTTP_PORT"},
		},
		{
			name:    "both nested fields bad are both named",
			env:     with(map[string]string{"CFGTEST_HTTP_TIMEOUT": "x", "CFGTEST_METRICS_TIMEOUT": "y"}),
			wantErr: []string{"CFGTEST_HTTP_TIMEOUT", "CFGTEST_METRICS_TIMEOUT"},
		},
		{
			name:    "Validate error is included",
			env:     with(map[string]string{"CFGTEST_BATCH_SIZE": "-1"}),
			wantErr: []string{"must not be negative"},
		},
		{
			name:    "Validate error is included alongside parse errors",
			env:     map[string]string{"CFGTEST_BATCH_SIZE": "-1"},
			wantErr: []string{"CFGTEST_DATABASE_URL", "must not be negative"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			validateCalls = 0

			cfg, err := Load[testConfig]()

			if validateCalls != 1 {
				t.Errorf("got %d Validate calls, want 1", validateCalls)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				if cfg.DatabaseURL != valid["CFGTEST_DATABASE_URL"] {
					t.Errorf("got DatabaseURL %q, want %q", cfg.DatabaseURL, valid["CFGTEST_DATABASE_URL"])
				}
				if cfg.PollEvery != 500*time.Millisecond || cfg.BatchSize != 100 || cfg.HTTP.Timeout != 20*time.Second {
					t.Errorf("got defaults %v/%d/%v, want 500ms/100/20s", cfg.PollEvery, cfg.BatchSize, cfg.HTTP.Timeout)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil error, want one naming %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got error %q, want it to contain %q", err, want)
				}
			}
			for _, bad := range tt.notWantErr {
				if strings.Contains(err.Error(), bad) {
					t.Errorf("got error %q, want it not to contain %q", err, bad)
				}
			}
		})
	}
}

func TestLoadErrorUnwraps(t *testing.T) {
	t.Setenv("CFGTEST_KAFKA_BROKERS", "localhost:9092")
	t.Setenv("CFGTEST_BATCH_SIZE", "many")

	_, err := Load[testConfig]()

	var cfgErr *Error
	if !errors.As(err, &cfgErr) {
		t.Fatalf("got %T, want *config.Error", err)
	}
	if got := len(cfgErr.Problems); got != 2 {
		t.Errorf("got %d problems, want 2: %v", got, cfgErr.Problems)
	}
	var missing env.VarIsNotSetError
	if !errors.As(err, &missing) || missing.Key != "CFGTEST_DATABASE_URL" {
		t.Errorf("got missing %+v, want Key CFGTEST_DATABASE_URL", missing)
	}
	var parse *ParseError
	if !errors.As(err, &parse) || parse.Var != "CFGTEST_BATCH_SIZE" {
		t.Errorf("got parse error %+v, want Var CFGTEST_BATCH_SIZE", parse)
	}
}

// noValidate has no Validate method, so Load must only parse it.
type noValidate struct {
	Name string `env:"CFGTEST_NAME" envDefault:"orders"`
}

func TestLoadWithoutValidator(t *testing.T) {
	cfg, err := Load[noValidate]()
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if cfg.Name != "orders" {
		t.Errorf("got Name %q, want %q", cfg.Name, "orders")
	}
}

type withDefaults struct {
	Port int    `env:"CFGTEST_DEFAULTED_PORT"`
	Name string `env:"CFGTEST_DEFAULTED_NAME"`
}

func (w *withDefaults) SetDefaults() { w.Port, w.Name = 8081, "orders" }

func TestLoadKeepsDefaultsUnlessSet(t *testing.T) {
	t.Setenv("CFGTEST_DEFAULTED_NAME", "tracking")
	cfg, err := Load[withDefaults]()
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if cfg.Port != 8081 || cfg.Name != "tracking" {
		t.Errorf("got %+v, want Port 8081 (default kept) and Name tracking (variable wins)", cfg)
	}
}

// nestedPart is a shared part with defaults of its own; withNested
// overrides one of them, as a service sets its own port.
type nestedPart struct {
	Port    int    `env:"CFGTEST_NESTED_PORT"`
	Timeout string `env:"CFGTEST_NESTED_TIMEOUT"`
}

func (p *nestedPart) SetDefaults() { p.Port, p.Timeout = 80, "5s" }

type withNested struct {
	HTTP  nestedPart
	Inner struct{ Part nestedPart }
}

func (w *withNested) SetDefaults() { w.HTTP.Port = 8082 }

func TestLoadSetsNestedDefaults(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want withNested
	}{
		{"defaults of every part, the whole's override last", nil,
			withNested{HTTP: nestedPart{8082, "5s"}, Inner: struct{ Part nestedPart }{nestedPart{80, "5s"}}}},
		{"a variable wins over both", map[string]string{"CFGTEST_NESTED_PORT": "9000"},
			withNested{HTTP: nestedPart{9000, "5s"}, Inner: struct{ Part nestedPart }{nestedPart{9000, "5s"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := Load[withNested]()
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

type part struct{ err error }

func (p part) Validate() error { return p.err }

func TestValidateEach(t *testing.T) {
	a, b := errors.New("LOG_FORMAT bad"), errors.New("HTTP_PORT bad")
	err := ValidateEach(part{a}, part{nil}, part{b})
	if !errors.Is(err, a) || !errors.Is(err, b) {
		t.Fatalf("got %v, want both problems", err)
	}
	if err := ValidateEach(part{nil}, part{nil}); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
}
