package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/config"
	"github.com/order-tracking/platform/pkg/testinfra"
)

func TestConfigDefaults(t *testing.T) {
	testinfra.Unsetenv(t, "HTTP_PORT", "DATABASE_URL", "MIGRATE_ON_START", "KAFKA_TOPIC", "KAFKA_BROKERS",
		"KAFKA_CREATE_TOPIC", "KAFKA_TOPIC_PARTITIONS", "HTTP_SHUTDOWN_TIMEOUT", "LOG_FORMAT")
	t.Setenv("AUTH_MODE", "off")
	cfg, err := config.Load[Config]()
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(cfg.HTTP.Port, cfg.Postgres.URL, cfg.Postgres.MigrateOnStart, cfg.Outbox.Topic, cfg.Kafka.Brokers,
		cfg.CreateTopic, cfg.TopicPartitions, cfg.HTTP.ShutdownTimeout, cfg.Log.Format)
	want := fmt.Sprint(8081, "postgres://orders@127.0.0.1:5432/orders?sslmode=disable", true, "order-events", "127.0.0.1:9092",
		true, 6, 20*time.Second, "json")
	if got != want {
		t.Errorf("got defaults %q, want %q", got, want)
	}
}

// A variable set to the zero value is a setting, not "use the default".
func TestConfigFalseOverridesDefault(t *testing.T) {
	t.Setenv("MIGRATE_ON_START", "false")
	t.Setenv("KAFKA_CREATE_TOPIC", "false")
	t.Setenv("AUTH_MODE", "off")
	cfg, err := config.Load[Config]()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Postgres.MigrateOnStart || cfg.CreateTopic {
		t.Errorf("got MigrateOnStart %v, CreateTopic %v, want both false", cfg.Postgres.MigrateOnStart, cfg.CreateTopic)
	}
}

// Auth is on unless switched off: without an issuer the service does not
// start, and says what the two ways out are.
func TestConfigAuthRequiredByDefault(t *testing.T) {
	testinfra.Unsetenv(t, "AUTH_MODE", "OIDC_ISSUER_URL")
	_, err := config.Load[Config]()
	if err == nil || !strings.Contains(err.Error(), "OIDC_ISSUER_URL is required when AUTH_MODE=jwt: set it to your OIDC issuer, or set AUTH_MODE=off") {
		t.Fatalf("got %v, want the error naming OIDC_ISSUER_URL and AUTH_MODE=off", err)
	}
	t.Setenv("OIDC_ISSUER_URL", "https://id.example.com/realms/shop")
	cfg, err := config.Load[Config]()
	if err != nil || !cfg.Auth.Enabled() || cfg.Auth.Audience != "order-tracking" || cfg.IdempotencyKeyTTL != 24*time.Hour {
		t.Fatalf("got %+v, %v, want jwt auth for audience order-tracking and keys kept 24h", cfg.Auth, err)
	}
}
