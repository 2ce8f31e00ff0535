package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/testinfra"
)

// TestIntegrationMetrics runs the service in-process, has it notify of one
// order's creation and status change, and checks that /metrics answers the
// operators' questions and passes `promtool check metrics`.
func TestIntegrationMetrics(t *testing.T) {
	brokers := testinfra.KafkaBrokers(t)
	topic := testinfra.UniqueName("order-events-notify-metrics-")
	producer := newProducer(t, brokers)
	if err := producer.EnsureTopic(t.Context(), topic, 1); err != nil {
		t.Fatalf("cannot create topic: %v", err)
	}
	base := testinfra.StartService(t, run, map[string]string{
		"DATABASE_URL":   testinfra.NewDatabase(t),
		"KAFKA_BROKERS":  brokers,
		"KAFKA_TOPIC":    topic,
		"KAFKA_GROUP_ID": testinfra.UniqueName("notification-metrics-"),
		"LOG_FORMAT":     "text",
		"NOTIFY_SENDER":  "log",
	}, nil)

	at := time.Now().UTC()
	o := events.Order{ID: 9, CustomerName: "Alice", Item: "Laptop", Quantity: 1, Status: "PENDING", CreatedAt: at, UpdatedAt: at}
	created := events.NewOrderCreated(o, 1, at)
	o.Status = "SHIPPED"
	publish(t, producer, topic, created, events.NewOrderUpdated(o, "PENDING", 2, at.Add(time.Second)))

	testinfra.WaitForSamples(t, base,
		`notifications_sent_total{channel="email",outcome="sent"} 1`,
		`notifications_sent_total{channel="sms",outcome="sent"} 1`,
		`notifications_sent_total{channel="sms",outcome="failed"} 0`,
		fmt.Sprintf(`kafka_consumer_records_consumed_total{topic=%q} 2`, topic),
		fmt.Sprintf(`kafka_consumer_messages_handled_total{topic=%q} 2`, topic),
		fmt.Sprintf(`kafka_consumer_messages_retried_total{topic=%q} 0`, topic),
	)
	if _, err := list(base, 9); err != nil { // one request for the HTTP histogram
		t.Fatal(err)
	}

	testinfra.CheckMetrics(t, base,
		"http_server_requests_seconds", "go_goroutines", "process_resident_memory_bytes",
		"notifications_sent_total",
		"kafka_consumer_records_consumed_total", "kafka_consumer_messages_handled_total",
		"kafka_consumer_messages_failed_total", "kafka_consumer_messages_retried_total",
		"kafka_consumer_messages_dead_lettered_total", "kafka_consumer_handle_duration_seconds",
		"kafka_consumer_lag",
	)
}
