// Package metrics counts the order changes orders-service commits, as
// Prometheus metrics. It is the Prometheus adapter of orders.Observer, so the
// domain package stays free of dependencies.
package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// Orders counts created orders and status transitions. Its labels are
// statuses only, a closed set, so the series count is bounded whatever the
// traffic.
type Orders struct {
	created     prometheus.Counter
	transitions *prometheus.CounterVec // from, to
}

var _ orders.Observer = (*Orders)(nil)

// NewOrders registers the order metrics on reg. Every allowed transition
// starts at zero, so rate() and increase() work from the first scrape and a
// dashboard lists all of them before the first order moves.
func NewOrders(reg prometheus.Registerer) (*Orders, error) {
	m := &Orders{
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orders_created_total",
			Help: "Orders created (committed; an idempotent replay does not count).",
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "order_status_transitions_total",
			Help: "Committed order status changes, by previous and new status.",
		}, []string{"from", "to"}),
	}
	for _, from := range orders.Statuses() {
		for _, to := range from.Next() {
			m.transitions.WithLabelValues(string(from), string(to))
		}
	}
	for _, c := range []prometheus.Collector{m.created, m.transitions} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cannot register order metrics: %w", err)
		}
	}
	return m, nil
}

// OrderCreated implements orders.Observer.
func (m *Orders) OrderCreated(orders.Order) { m.created.Inc() }

// StatusChanged implements orders.Observer.
func (m *Orders) StatusChanged(from, to orders.Status) {
	m.transitions.WithLabelValues(string(from), string(to)).Inc()
}
