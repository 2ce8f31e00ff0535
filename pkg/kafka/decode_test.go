package kafka_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/kafka"
)

// encoded returns a valid order event as a consumed message.
func encoded(t *testing.T, orderID int64) kafka.Message {
	t.Helper()
	e := events.NewOrderCreated(events.Order{
		ID: orderID, CustomerName: "Ada", Item: "Engine", Quantity: 1, Status: "PENDING",
		CreatedAt: time.Now(), UpdatedAt: time.Now(),
	}, 1, time.Now())
	m, err := kafka.EncodeEvent("order-events", e, "/test")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// withHeader returns m with header key set to value (replacing any).
func withHeader(m kafka.Message, key, value string) kafka.Message {
	var hs []kafka.Header
	for _, h := range m.Headers {
		if h.Key != key {
			hs = append(hs, h)
		}
	}
	m.Headers = append(hs, kafka.Header{Key: key, Value: []byte(value)})
	return m
}

func TestDecodeEvent(t *testing.T) {
	valid := encoded(t, 42)
	tests := []struct {
		name            string
		msg             kafka.Message
		wantOrderID     int64
		wantErr         bool
		wantUnknownType bool
		wantDecodeError bool
	}{
		{name: "valid", msg: valid, wantOrderID: 42},
		{name: "value not JSON", msg: kafka.Message{Value: []byte("{not json")}, wantErr: true, wantDecodeError: true},
		{name: "empty value", msg: kafka.Message{}, wantErr: true, wantDecodeError: true},
		{name: "unknown type header", msg: withHeader(valid, "ce_type", "OrderExplodedEvent"), wantErr: true, wantUnknownType: true},
		{name: "header contradicts payload", msg: withHeader(valid, "ce_subject", "7"), wantErr: true, wantDecodeError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := kafka.DecodeEvent(tt.msg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error: %v", err, tt.wantErr)
			}
			if !tt.wantErr {
				if e.OrderID != tt.wantOrderID {
					t.Errorf("got order id %d, want %d", e.OrderID, tt.wantOrderID)
				}
				return
			}
			if !kafka.IsPermanent(err) {
				t.Errorf("got %v not marked permanent, want permanent", err)
			}
			if got := errors.Is(err, events.ErrUnknownType); got != tt.wantUnknownType {
				t.Errorf("errors.Is(err, ErrUnknownType): got %v, want %v", got, tt.wantUnknownType)
			}
			var de *events.DecodeError
			if got := errors.As(err, &de); got != tt.wantDecodeError {
				t.Errorf("errors.As(err, *DecodeError): got %v, want %v", got, tt.wantDecodeError)
			}
		})
	}
}

// EncodeEvent and DecodeEvent are each other's inverse, and the record is
// keyed by order id as the relay's are.
func TestEncodeEventRoundTrip(t *testing.T) {
	e := events.NewOrderCreated(events.Order{ID: 42, CustomerName: "Ada", Item: "Engine", Quantity: 2, Status: "PENDING"}, 1, time.Now())
	m, err := kafka.EncodeEvent("orders-x", e, "/test")
	if err != nil {
		t.Fatal(err)
	}
	if m.Topic != "orders-x" || string(m.Key) != "42" {
		t.Errorf("got topic %q key %q, want orders-x and 42", m.Topic, m.Key)
	}
	got, err := kafka.DecodeEvent(m)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != e.ID || got.OrderID != 42 || got.Order.Quantity != 2 {
		t.Errorf("got %+v, want %+v back", got, e)
	}
}

func TestDecodeEvents(t *testing.T) {
	a, b, bad := encoded(t, 1), encoded(t, 2), kafka.Message{Value: []byte("{")}
	tests := []struct {
		name      string
		ms        []kafka.Message
		wantIDs   []int64
		wantError bool
	}{
		{"none", nil, nil, false},
		{"all decode", []kafka.Message{a, b}, []int64{1, 2}, false},
		{"stops at the first that does not", []kafka.Message{a, bad, b}, []int64{1}, true},
		{"first does not", []kafka.Message{bad, a}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := kafka.DecodeEvents(tt.ms)
			var ids []int64
			for _, e := range es {
				ids = append(ids, e.OrderID)
			}
			if !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("got orders %v, want %v", ids, tt.wantIDs)
			}
			if (err != nil) != tt.wantError || (err != nil && !kafka.IsPermanent(err)) {
				t.Errorf("got error %v, want a permanent one: %v", err, tt.wantError)
			}
		})
	}
}
