package notify_test

import (
	"fmt"
	"testing"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/services/notification-service/internal/notify"
)

func message(t *testing.T, e events.Event) kafka.Message {
	t.Helper()
	key, value, headers, err := events.Encode(e, "/orders-service")
	if err != nil {
		t.Fatal(err)
	}
	m := kafka.Message{Topic: "order-events", Key: key, Value: value}
	for _, h := range headers {
		m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
	}
	return m
}

func TestIntegrationHandleMessage(t *testing.T) {
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
			rec := &recorder{}
			if tt.refuse {
				rec.fail = func(int) error { return fmt.Errorf("422: %w", notify.ErrPermanent) }
			}
			f := newFixture(t, rec)
			err := f.notifier.HandleMessage(t.Context(), tt.msg)
			if (err != nil) != tt.wantErr || kafka.IsPermanent(err) != tt.wantPermanent {
				t.Fatalf("got error %v (permanent %v), want error %v permanent %v", err, kafka.IsPermanent(err), tt.wantErr, tt.wantPermanent)
			}
			if got := len(rec.Sent()); got != tt.wantSent {
				t.Errorf("got %d sent, want %d", got, tt.wantSent)
			}
		})
	}
}
