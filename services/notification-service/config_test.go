package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/config"
	"github.com/order-tracking/platform/pkg/testinfra"
)

func TestConfigDefaults(t *testing.T) {
	testinfra.Unsetenv(t, "HTTP_PORT", "DATABASE_URL", "MIGRATE_ON_START", "NOTIFY_SENDER", "KAFKA_GROUP_ID",
		"KAFKA_TOPIC", "KAFKA_DLT_TOPIC", "NOTIFY_WEBHOOK_RETRIES", "NOTIFY_CREATED_TEMPLATE")
	t.Setenv("AUTH_MODE", "off")
	cfg, err := config.Load[Config]()
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(cfg.HTTP.Port, cfg.Postgres.URL, cfg.Postgres.MigrateOnStart, cfg.Sender, cfg.Kafka.GroupID,
		cfg.Kafka.Topic, cfg.Webhook.Retries, cfg.Webhook.Timeout, cfg.Notify.CreatedTemplate)
	want := fmt.Sprint(8083, "postgres://orders@127.0.0.1:5432/orders?sslmode=disable", true, "log", "notification-service",
		"order-events", 2, 5*time.Second, "Hi {{.CustomerName}}, your order for {{.Item}} has been received.")
	if got != want {
		t.Errorf("got defaults %q, want %q", got, want)
	}
}

// The dead-letter topic follows the topic that is set, not the default one.
func TestConfigDeadLetterTopicFollowsTopic(t *testing.T) {
	testinfra.Unsetenv(t, "KAFKA_DLT_TOPIC")
	t.Setenv("AUTH_MODE", "off")
	t.Setenv("KAFKA_TOPIC", "orders-eu")
	t.Setenv("NOTIFY_WEBHOOK_RETRIES", "0")
	cfg, err := config.Load[Config]()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kafka.DeadLetterTopic != "" {
		t.Errorf("got DeadLetterTopic %q after Load, want it left to the consumer", cfg.Kafka.DeadLetterTopic)
	}
	if cfg.Webhook.Retries != 0 {
		t.Errorf("got Retries %d, want 0 as set", cfg.Webhook.Retries)
	}
}
