package projector

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/services/tracking-service/internal/redis/redistest"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// record encodes e as the Kafka record the outbox relay publishes.
func record(t *testing.T, e events.Event) kafka.Message {
	t.Helper()
	m, err := kafka.EncodeEvent("order-events", e, "/orders-service")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIntegrationHandle(t *testing.T) {
	env := redistest.New(t, 0)
	reg := prometheus.NewRegistry()
	p, err := New(tracking.NewService(env.Store, nil), reg)
	if err != nil {
		t.Fatal(err)
	}
	p.now = func() time.Time { return t0.Add(2 * time.Second) }

	o := events.Order{ID: 11, CustomerName: "Alice", Item: "Laptop", Quantity: 1, Status: "PENDING", CreatedAt: t0, UpdatedAt: t0}
	created := events.NewOrderCreated(o, 1, t0)
	o.Status, o.UpdatedAt = "SHIPPED", t0.Add(time.Second)
	shipped := events.NewOrderUpdated(o, "PENDING", 2, o.UpdatedAt)
	unknown := record(t, created)
	unknown.Value = []byte(strings.Replace(string(unknown.Value), string(events.TypeOrderCreated), "OrderRefundedEvent", 1))
	for i, h := range unknown.Headers {
		if h.Key == "ce_type" {
			unknown.Headers[i].Value = []byte("OrderRefundedEvent")
		}
	}

	tests := []struct {
		name          string
		msg           kafka.Message
		wantPermanent bool
		wantErr       bool
	}{
		{"created", record(t, created), false, false},
		{"updated", record(t, shipped), false, false},
		{"duplicate", record(t, shipped), false, false},
		{"late", record(t, created), false, false},
		{"unknown type dead-lettered", unknown, true, true},
		{"undecodable", kafka.Message{Value: []byte("{")}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Handle(t.Context(), tt.msg)
			if (err != nil) != tt.wantErr || kafka.IsPermanent(err) != tt.wantPermanent {
				t.Fatalf("got %v (permanent %v), want error %v, permanent %v", err, kafka.IsPermanent(err), tt.wantErr, tt.wantPermanent)
			}
		})
	}
	got, err := env.Store.Get(t.Context(), 11)
	if err != nil || got.Version != 2 || got.Status != "SHIPPED" {
		t.Errorf("got %+v, %v, want version 2 SHIPPED", got, err)
	}
	want := `
# HELP tracking_events_applied_total Order events processed, by result: applied (the state changed), stale (not newer than the stored state: a duplicate, replay or late event).
# TYPE tracking_events_applied_total counter
tracking_events_applied_total{result="applied"} 2
tracking_events_applied_total{result="stale"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tracking_events_applied_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(p.freshness); n != 1 {
		t.Errorf("got %d freshness series, want 1", n)
	}
}

// TestIntegrationHandleBatch feeds HandleBatch what the consumer would:
// it applies the events up to the first record that does not decode and
// reports that record's permanent error, and after the consumer took that
// one, the rest.
func TestIntegrationHandleBatch(t *testing.T) {
	env := redistest.New(t, 0)
	reg := prometheus.NewRegistry()
	p, err := New(tracking.NewService(env.Store, nil), reg)
	if err != nil {
		t.Fatal(err)
	}
	o := events.Order{ID: 12, CustomerName: "Bob", Item: "Desk", Quantity: 1, Status: "PENDING", CreatedAt: t0, UpdatedAt: t0}
	created := events.NewOrderCreated(o, 1, t0)
	o.Status, o.UpdatedAt = "SHIPPED", t0.Add(time.Second)
	shipped := events.NewOrderUpdated(o, "PENDING", 2, o.UpdatedAt)
	o.Status, o.UpdatedAt = "DELIVERED", t0.Add(2*time.Second)
	delivered := events.NewOrderUpdated(o, "SHIPPED", 3, o.UpdatedAt)

	batch := []kafka.Message{record(t, created), record(t, shipped), record(t, shipped), {Value: []byte("{")}, record(t, delivered)}
	ctxs := make([]context.Context, len(batch))
	for i := range ctxs {
		ctxs[i] = t.Context()
	}
	done, err := p.HandleBatch(ctxs, batch)
	if done != 3 || !kafka.IsPermanent(err) {
		t.Fatalf("HandleBatch: got %d done, %v, want 3 and the undecodable record's permanent error", done, err)
	}
	if got, err := env.Store.Get(t.Context(), 12); err != nil || got.Version != 2 {
		t.Fatalf("after the first call: got %+v, %v, want version 2", got, err)
	}
	if done, err := p.HandleBatch(ctxs[4:], batch[4:]); done != 1 || err != nil {
		t.Fatalf("HandleBatch of the rest: got %d, %v, want 1, nil", done, err)
	}
	if got, err := env.Store.Get(t.Context(), 12); err != nil || got.Version != 3 || got.Status != "DELIVERED" {
		t.Errorf("got %+v, %v, want version 3 DELIVERED", got, err)
	}
	want := `
# HELP tracking_events_applied_total Order events processed, by result: applied (the state changed), stale (not newer than the stored state: a duplicate, replay or late event).
# TYPE tracking_events_applied_total counter
tracking_events_applied_total{result="applied"} 3
tracking_events_applied_total{result="stale"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tracking_events_applied_total"); err != nil {
		t.Error(err)
	}
}

func TestRedisDownIsTransient(t *testing.T) {
	p, err := New(tracking.NewService(redistest.Down(t), nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := events.NewOrderCreated(events.Order{ID: 1, Status: "PENDING", CreatedAt: t0, UpdatedAt: t0}, 1, t0)
	err = p.Handle(t.Context(), record(t, e))
	if err == nil || kafka.IsPermanent(err) || !errors.Is(err, tracking.ErrUnavailable) {
		t.Errorf("Handle: got %v, want a transient error wrapping ErrUnavailable", err)
	}
	done, err := p.HandleBatch([]context.Context{t.Context(), t.Context()}, []kafka.Message{record(t, e), record(t, e)})
	if done != 0 || err == nil || kafka.IsPermanent(err) || !errors.Is(err, tracking.ErrUnavailable) {
		t.Errorf("HandleBatch: got %d done, %v, want 0 and a transient error wrapping ErrUnavailable", done, err)
	}
}

func TestNewFailsOnRegisteredMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(nil, reg); err != nil {
		t.Fatal(err)
	}
	p, err := New(nil, reg)
	if err == nil || p != nil || !strings.Contains(err.Error(), "cannot register projector metrics") {
		t.Errorf("got %v, %v, want no projector and a cannot register error", p, err)
	}
}
