package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/config"
	"github.com/order-tracking/platform/pkg/testinfra"
)

func TestConfigDefaults(t *testing.T) {
	testinfra.Unsetenv(t, "HTTP_PORT", "DATABASE_URL", "MIGRATE_ON_START", "KAFKA_TOPIC", "KAFKA_BROKERS",
		"KAFKA_CREATE_TOPIC", "KAFKA_TOPIC_PARTITIONS", "HTTP_SHUTDOWN_TIMEOUT", "LOG_FORMAT")
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
	cfg, err := config.Load[Config]()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Postgres.MigrateOnStart || cfg.CreateTopic {
		t.Errorf("got MigrateOnStart %v, CreateTopic %v, want both false", cfg.Postgres.MigrateOnStart, cfg.CreateTopic)
	}
}
