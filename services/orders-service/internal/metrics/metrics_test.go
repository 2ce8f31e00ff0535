package metrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/order-tracking/platform/services/orders-service/internal/metrics"
	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// TestOrders checks the counts, and that every allowed transition is
// exposed from the start, at zero.
func TestOrders(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.NewOrders(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.OrderCreated(orders.Order{ID: 1})
	m.OrderCreated(orders.Order{ID: 2})
	m.StatusChanged(orders.StatusPending, orders.StatusShipped)

	want := `
# HELP order_status_transitions_total Committed order status changes, by previous and new status.
# TYPE order_status_transitions_total counter
order_status_transitions_total{from="CONFIRMED",to="CANCELLED"} 0
order_status_transitions_total{from="CONFIRMED",to="DELIVERED"} 0
order_status_transitions_total{from="CONFIRMED",to="OUT_FOR_DELIVERY"} 0
order_status_transitions_total{from="CONFIRMED",to="SHIPPED"} 0
order_status_transitions_total{from="OUT_FOR_DELIVERY",to="DELIVERED"} 0
order_status_transitions_total{from="PENDING",to="CANCELLED"} 0
order_status_transitions_total{from="PENDING",to="CONFIRMED"} 0
order_status_transitions_total{from="PENDING",to="DELIVERED"} 0
order_status_transitions_total{from="PENDING",to="OUT_FOR_DELIVERY"} 0
order_status_transitions_total{from="PENDING",to="SHIPPED"} 1
order_status_transitions_total{from="SHIPPED",to="DELIVERED"} 0
order_status_transitions_total{from="SHIPPED",to="OUT_FOR_DELIVERY"} 0
# HELP orders_created_total Orders created (committed; an idempotent replay does not count).
# TYPE orders_created_total counter
orders_created_total 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if _, err := metrics.NewOrders(reg); err == nil {
		t.Error("registering twice on one registry: got no error, want one")
	}
}
