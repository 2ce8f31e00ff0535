package kafka

import (
	"io"
	"log/slog"
	"testing"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// TestProducerHealthy: a producer is healthy until librdkafka reports a
// fatal error, and unhealthy for good after it.
func TestProducerHealthy(t *testing.T) {
	p, err := NewProducer(ProducerConfig{Brokers: "127.0.0.1:1"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(0)
	if err := p.Healthy(t.Context()); err != nil {
		t.Fatalf("new producer: got %v, want healthy", err)
	}
	// What the broker fencing the idempotent producer looks like.
	p.p.TestFatalError(ckafka.ErrOutOfOrderSequenceNumber, "test: fenced")
	if err := p.Healthy(t.Context()); err == nil {
		t.Fatal("after a fatal error: got healthy, want the error")
	}
}

// TestDeliveryError: a message timed out while the broker refuses the
// credentials says so; any other failure, or one after a delivery, does
// not blame the credentials.
func TestDeliveryError(t *testing.T) {
	refused := ckafka.NewError(ckafka.ErrAuthentication, "SASL authentication error: invalid credentials", false)
	timedOut := ckafka.NewError(ckafka.ErrMsgTimedOut, "Message timed out", false)
	tooLarge := ckafka.NewError(ckafka.ErrMsgSizeTooLarge, "Message size too large", false)
	tests := []struct {
		name      string
		refused   bool  // the broker refused the credentials before
		delivered bool  // then a message was delivered
		err       error // the delivery report's
		want      string
	}{
		{name: "delivered", err: nil, want: ""},
		{name: "timed out", err: timedOut, want: "broker did not take message: Message timed out"},
		{name: "timed out, credentials refused", refused: true, err: timedOut,
			want: "broker did not take message: Message timed out, after the broker refused the credentials: SASL authentication error: invalid credentials"},
		{name: "too large, credentials refused", refused: true, err: tooLarge, want: "broker did not take message: Message size too large"},
		{name: "timed out, refused, then delivered", refused: true, delivered: true, err: timedOut, want: "broker did not take message: Message timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Producer
			if tt.refused {
				p.authFailure.Store(&refused)
			}
			if tt.delivered {
				_ = p.deliveryError(nil)
			}
			got := ""
			if err := p.deliveryError(tt.err); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
