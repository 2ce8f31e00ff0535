package main

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/order-tracking/platform/pkg/testinfra"
)

// TestIntegrationMetrics runs the service in-process, creates and ships an
// order, and checks that /metrics answers the operators' questions and
// passes `promtool check metrics`.
func TestIntegrationMetrics(t *testing.T) {
	base := testinfra.StartService(t, run, map[string]string{
		"DATABASE_URL":         testinfra.NewDatabase(t),
		"KAFKA_BROKERS":        testinfra.KafkaBrokers(t),
		"KAFKA_TOPIC":          testinfra.UniqueName("order-events-metrics-"),
		"LOG_FORMAT":           "text",
		"OUTBOX_POLL_INTERVAL": "200ms",
	}, nil)
	var created map[string]any
	if status := call(t, http.MethodPost, base+"/orders/createOrder", `{"customerName":"Alice","item":"Laptop","quantity":1}`, &created); status != http.StatusCreated {
		t.Fatalf("create: got %d %v, want 201", status, created)
	}
	var updated map[string]any
	url := fmt.Sprintf("%s/orders/updateOrderStatus/%v?status=SHIPPED", base, created["id"])
	if status := call(t, http.MethodPut, url, "", &updated); status != http.StatusCreated {
		t.Fatalf("update: got %d %v, want 201", status, updated)
	}
	// Once both events are acknowledged the outbox is empty.
	testinfra.WaitForSamples(t, base,
		`orders_created_total 1`,
		`order_status_transitions_total{from="PENDING",to="SHIPPED"} 1`,
		`order_status_transitions_total{from="SHIPPED",to="DELIVERED"} 0`,
		`http_server_requests_seconds_count{method="PUT",status="201",uri="/orders/updateOrderStatus/{id}"} 1`,
		`outbox_published_messages_total 2`,
		`outbox_publish_errors_total 0`,
		`outbox_publish_duration_seconds_count`,
		`outbox_backlog_messages 0`,
		`outbox_oldest_message_age_seconds 0`,
	)
	testinfra.CheckMetrics(t, base,
		"http_server_requests_seconds", "go_goroutines", "process_resident_memory_bytes",
		"orders_created_total", "order_status_transitions_total",
		"outbox_backlog_messages", "outbox_oldest_message_age_seconds",
		"outbox_publish_duration_seconds", "outbox_publish_errors_total", "outbox_published_messages_total",
	)
}
