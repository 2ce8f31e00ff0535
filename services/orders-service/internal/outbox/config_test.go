package outbox_test

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/config"
	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/services/orders-service/internal/outbox"
)

func TestConfigSetDefaults(t *testing.T) {
	var c outbox.Config
	c.SetDefaults()
	want := outbox.Config{Topic: events.Topic, BatchSize: 200, InFlight: 4, PollInterval: time.Second, LockID: 727274, VacuumAfter: 2000, LeaseTimeout: 10 * time.Second}
	if c != want {
		t.Errorf("got %+v, want %+v", c, want)
	}

	// Only zero means "the default": a bad value is left for Validate.
	c = outbox.Config{Topic: "t", BatchSize: -1, InFlight: -2, PollInterval: -time.Second, LockID: 7, VacuumAfter: -3, LeaseTimeout: -time.Second}
	c.SetDefaults()
	if want := (outbox.Config{Topic: "t", BatchSize: -1, InFlight: -2, PollInterval: -time.Second, LockID: 7, VacuumAfter: -3, LeaseTimeout: -time.Second}); c != want {
		t.Errorf("got %+v, want %+v unchanged", c, want)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *outbox.Config)
		want   []string // the variables the error must name; none means valid
	}{
		{"defaults", func(*outbox.Config) {}, nil},
		{"negative batch size", func(c *outbox.Config) { c.BatchSize = -1 }, []string{"OUTBOX_BATCH_SIZE"}},
		{"zero batch size", func(c *outbox.Config) { c.BatchSize = 0 }, []string{"OUTBOX_BATCH_SIZE"}},
		{"negative in flight", func(c *outbox.Config) { c.InFlight = -1 }, []string{"OUTBOX_IN_FLIGHT"}},
		{"zero in flight", func(c *outbox.Config) { c.InFlight = 0 }, []string{"OUTBOX_IN_FLIGHT"}},
		{"negative poll interval", func(c *outbox.Config) { c.PollInterval = -time.Second }, []string{"OUTBOX_POLL_INTERVAL"}},
		{"zero poll interval", func(c *outbox.Config) { c.PollInterval = 0 }, []string{"OUTBOX_POLL_INTERVAL"}},
		{"empty topic", func(c *outbox.Config) { c.Topic = "" }, []string{"KAFKA_TOPIC"}},
		{"blank topic", func(c *outbox.Config) { c.Topic = "  " }, []string{"KAFKA_TOPIC"}},
		{"zero lock id", func(c *outbox.Config) { c.LockID = 0 }, []string{"OUTBOX_LOCK_ID"}},
		{"negative lock id", func(c *outbox.Config) { c.LockID = -42 }, nil},
		{"negative vacuum after", func(c *outbox.Config) { c.VacuumAfter = -1 }, []string{"OUTBOX_VACUUM_AFTER"}},
		{"zero vacuum after", func(c *outbox.Config) { c.VacuumAfter = 0 }, []string{"OUTBOX_VACUUM_AFTER"}},
		{"lease shorter than two polls", func(c *outbox.Config) { c.PollInterval, c.LeaseTimeout = 5*time.Second, 10*time.Second }, []string{"OUTBOX_LEASE_TIMEOUT"}},
		{"everything wrong at once", func(c *outbox.Config) { *c = outbox.Config{BatchSize: -5, InFlight: -1, PollInterval: -1} },
			[]string{"KAFKA_TOPIC", "OUTBOX_BATCH_SIZE", "OUTBOX_IN_FLIGHT", "OUTBOX_POLL_INTERVAL", "OUTBOX_LOCK_ID", "OUTBOX_VACUUM_AFTER"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c outbox.Config
			c.SetDefaults()
			tt.change(&c)
			checkNames(t, c.Validate(), tt.want...)
		})
	}
}

// checkNames checks that err names every variable in vars, or that err is
// nil when vars is empty.
func checkNames(t *testing.T, err error, vars ...string) {
	t.Helper()
	if len(vars) == 0 {
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want one naming %v", vars)
	}
	for _, v := range vars {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("got error %q, want it to name %s", err, v)
		}
	}
}

// TestConfigFromEnvironment reads the variables the way main does: a bad
// value is reported, not silently replaced by the default.
func TestConfigFromEnvironment(t *testing.T) {
	for _, k := range []string{"KAFKA_TOPIC", "OUTBOX_BATCH_SIZE", "OUTBOX_IN_FLIGHT", "OUTBOX_POLL_INTERVAL", "OUTBOX_LOCK_ID", "OUTBOX_VACUUM_AFTER", "OUTBOX_LEASE_TIMEOUT"} {
		t.Setenv(k, "") // restores the variable after the test
		os.Unsetenv(k)
	}
	cfg, err := config.Load[outbox.Config]()
	if err != nil {
		t.Fatalf("unset: got error %v, want none", err)
	}
	if want := (outbox.Config{Topic: events.Topic, BatchSize: 200, InFlight: 4, PollInterval: time.Second, LockID: 727274, VacuumAfter: 2000, LeaseTimeout: 10 * time.Second}); cfg != want {
		t.Errorf("unset: got %+v, want %+v", cfg, want)
	}

	t.Setenv("OUTBOX_BATCH_SIZE", "-1")
	t.Setenv("OUTBOX_POLL_INTERVAL", "0s")
	_, err = config.Load[outbox.Config]()
	checkNames(t, err, "OUTBOX_BATCH_SIZE", "OUTBOX_POLL_INTERVAL")
}

func TestNewRelayValidatesConfig(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name string
		cfg  outbox.Config
		want []string // the variables the error must name; none means valid
	}{
		{"zero config takes the defaults", outbox.Config{}, nil},
		{"negative batch size", outbox.Config{BatchSize: -1}, []string{"OUTBOX_BATCH_SIZE"}},
		{"negative poll interval", outbox.Config{PollInterval: -time.Second}, []string{"OUTBOX_POLL_INTERVAL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Validation comes first, so no database or broker is needed.
			r, err := outbox.NewRelay(tt.cfg, nil, nil, logger, nil)
			checkNames(t, err, tt.want...)
			if got, want := r != nil, len(tt.want) == 0; got != want {
				t.Errorf("got a relay %v, want %v", got, want)
			}
		})
	}
}
