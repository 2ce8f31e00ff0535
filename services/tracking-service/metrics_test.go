package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/testinfra"
)

// TestIntegrationMetrics runs the service in-process, feeds it an order's
// events while a client streams them, and checks that /metrics answers the
// operators' questions and passes `promtool check metrics`.
func TestIntegrationMetrics(t *testing.T) {
	topic := testinfra.UniqueName("order-events-tracking-metrics-")
	base, producer := startService(t, map[string]string{
		"KAFKA_BROKERS": testinfra.KafkaBrokers(t), "KAFKA_TOPIC": topic, "REDIS_ADDR": testinfra.RedisAddr(t),
	})
	t0 := time.Now().UTC()
	o := events.Order{ID: 31, CustomerName: "Alice", Item: "Laptop", Quantity: 1, Status: "PENDING", CreatedAt: t0, UpdatedAt: t0}
	created := events.NewOrderCreated(o, 1, t0)
	publish(t, producer, topic, created)
	waitTracked(t, base, 31, 1)
	stream := openStream(t, base+"/track/31/events")
	stream.nextState(t)
	o.Status, o.UpdatedAt = "SHIPPED", time.Now().UTC()
	publish(t, producer, topic, events.NewOrderUpdated(o, "PENDING", 2, o.UpdatedAt))
	stream.nextState(t)

	testinfra.WaitForSamples(t, base,
		`tracking_events_applied_total{result="applied"} 2`,
		`tracking_event_freshness_seconds_count 2`,
		`tracking_sse_subscribers 1`,
		fmt.Sprintf(`kafka_consumer_messages_handled_total{topic=%q} 2`, topic),
		fmt.Sprintf(`kafka_consumer_messages_dead_lettered_total{reason="permanent",topic=%q} 0`, topic),
		`http_server_requests_seconds_count{method="GET",status="200",uri="/track/{id}"}`,
	)
	testinfra.CheckMetrics(t, base,
		"http_server_requests_seconds", "go_goroutines", "process_resident_memory_bytes",
		"tracking_events_applied_total", "tracking_event_freshness_seconds", "tracking_sse_subscribers",
		"kafka_consumer_records_consumed_total", "kafka_consumer_messages_handled_total",
		"kafka_consumer_messages_failed_total", "kafka_consumer_messages_retried_total",
		"kafka_consumer_messages_dead_lettered_total", "kafka_consumer_handle_duration_seconds",
		"kafka_consumer_lag",
	)
}
