package kafka_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/kafka"
)

func TestPermanent(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name          string
		err           error
		wantPermanent bool
		wantIsBase    bool
	}{
		{name: "nil", err: nil},
		{name: "plain error is transient", err: base, wantIsBase: true},
		{name: "marked", err: kafka.Permanent(base), wantPermanent: true, wantIsBase: true},
		{name: "marked then wrapped", err: fmt.Errorf("handle order: %w", kafka.Permanent(base)), wantPermanent: true, wantIsBase: true},
		{name: "wrapped then marked", err: kafka.Permanent(fmt.Errorf("handle order: %w", base)), wantPermanent: true, wantIsBase: true},
		{name: "joined with a marked one", err: errors.Join(errors.New("other"), kafka.Permanent(base)), wantPermanent: true, wantIsBase: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := kafka.IsPermanent(tt.err); got != tt.wantPermanent {
				t.Errorf("IsPermanent: got %v, want %v", got, tt.wantPermanent)
			}
			if got := errors.Is(tt.err, base); got != tt.wantIsBase {
				t.Errorf("errors.Is(err, base): got %v, want %v", got, tt.wantIsBase)
			}
		})
	}
	if kafka.Permanent(nil) != nil {
		t.Error("Permanent(nil): got non-nil, want nil")
	}
	if got, want := kafka.Permanent(base).Error(), "boom"; got != want {
		t.Errorf("Permanent(err).Error(): got %q, want %q", got, want)
	}
}

// encoded returns a valid order event as a consumed message.
func encoded(t *testing.T, orderID int64) kafka.Message {
	t.Helper()
	e := events.NewOrderCreated(events.Order{
		ID: orderID, CustomerName: "Ada", Item: "Engine", Quantity: 1, Status: "PENDING",
		CreatedAt: time.Now(), UpdatedAt: time.Now(),
	}, 1, time.Now())
	key, value, hs, err := events.Encode(e, "/test")
	if err != nil {
		t.Fatal(err)
	}
	m := kafka.Message{Topic: "order-events", Key: key, Value: value}
	for _, h := range hs {
		m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
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

func TestConsumerConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     kafka.ConsumerConfig
		wantErr []string // substrings; nil means valid
	}{
		{name: "group only, defaults for the rest", cfg: kafka.ConsumerConfig{GroupID: "tracking-service"}},
		{name: "full", cfg: kafka.ConsumerConfig{GroupID: "g", Topic: "t", DeadLetterTopic: "t.dead", RetryBudget: time.Minute, Extra: map[string]string{"session.timeout.ms": "6000"}}},
		{name: "missing group", cfg: kafka.ConsumerConfig{}, wantErr: []string{"KAFKA_GROUP_ID is required"}},
		{name: "dead-letter topic equals topic", cfg: kafka.ConsumerConfig{GroupID: "g", Topic: "t", DeadLetterTopic: "t"}, wantErr: []string{"KAFKA_DLT_TOPIC must differ"}},
		{name: "negative budget", cfg: kafka.ConsumerConfig{GroupID: "g", RetryBudget: -time.Second}, wantErr: []string{"KAFKA_RETRY_BUDGET"}},
		{name: "budget near max.poll.interval", cfg: kafka.ConsumerConfig{GroupID: "g", RetryBudget: 5 * time.Minute}, wantErr: []string{"KAFKA_RETRY_BUDGET"}},
		{name: "extra breaks at-least-once", cfg: kafka.ConsumerConfig{GroupID: "g", Extra: map[string]string{"enable.auto.offset.store": "true"}}, wantErr: []string{"enable.auto.offset.store"}},
		{
			name:    "every problem at once",
			cfg:     kafka.ConsumerConfig{Topic: "t", DeadLetterTopic: "t", RetryBudget: -1, Extra: map[string]string{"group.id": "x"}},
			wantErr: []string{"KAFKA_GROUP_ID", "KAFKA_DLT_TOPIC", "KAFKA_RETRY_BUDGET", "group.id"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil, want an error mentioning %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got %q, want it to mention %q", err, want)
				}
			}
		})
	}
}

func TestNewConsumerRejects(t *testing.T) {
	if _, err := kafka.NewConsumer(kafka.ConsumerConfig{}, nopHandler, discard, kafka.ConsumerOptions{}); err == nil {
		t.Error("no group: got nil error, want one")
	}
	if _, err := kafka.NewConsumer(kafka.ConsumerConfig{GroupID: "g"}, nil, discard, kafka.ConsumerOptions{}); err == nil {
		t.Error("nil handler: got nil error, want one")
	}
}
