package dispatcher_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/services/notification-service/internal/dispatcher"
	"github.com/order-tracking/platform/services/notification-service/internal/notify"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres/postgrestest"
)

var order = events.Order{
	ID: 4242, CustomerName: "Alice", Item: "Laptop", Quantity: 1, Status: "PENDING",
	CreatedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
}

func created() events.Event { return events.NewOrderCreated(order, 1, order.UpdatedAt) }

func shipped() events.Event {
	o := order
	o.Status = "SHIPPED"
	return events.NewOrderUpdated(o, "PENDING", 2, o.UpdatedAt.Add(time.Hour))
}

func message(t *testing.T, e events.Event) kafka.Message {
	t.Helper()
	m, err := kafka.EncodeEvent("order-events", e, "/orders-service")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// recorder is a sender that keeps what it sent, or refuses everything.
type recorder struct {
	mu     sync.Mutex // guards sent
	refuse bool
	sent   int
}

func (r *recorder) Send(context.Context, notify.Notification) error {
	if r.refuse {
		return fmt.Errorf("422: %w", notify.ErrPermanent)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent++
	return nil
}

func TestIntegrationHandle(t *testing.T) {
	unknown := message(t, created())
	for i, h := range unknown.Headers {
		if h.Key == "ce_type" {
			unknown.Headers[i].Value = []byte("OrderArchivedEvent")
		}
	}
	tests := []struct {
		name          string
		msg           kafka.Message
		refuse        bool // the provider refuses every notification
		wantErr       bool
		wantPermanent bool
		wantSent      int
	}{
		{"created event", message(t, created()), false, false, false, 1},
		{"updated event", message(t, shipped()), false, false, false, 1},
		{"not json is dead-lettered", kafka.Message{Value: []byte("{not json")}, false, true, true, 0},
		{"unknown type is dead-lettered", unknown, false, true, true, 0},
		{"refused by the provider is dead-lettered", message(t, created()), true, true, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{refuse: tt.refuse}
			cfg := notify.Config{}
			cfg.SetDefaults()
			n, err := notify.NewNotifier(cfg, postgres.NewDeliveryLog(postgrestest.NewPool(t)), rec,
				slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			err = dispatcher.New(n).Handle(t.Context(), tt.msg)
			if (err != nil) != tt.wantErr || kafka.IsPermanent(err) != tt.wantPermanent {
				t.Fatalf("got error %v (permanent %v), want error %v permanent %v", err, kafka.IsPermanent(err), tt.wantErr, tt.wantPermanent)
			}
			if rec.sent != tt.wantSent {
				t.Errorf("got %d sent, want %d", rec.sent, tt.wantSent)
			}
		})
	}
}
