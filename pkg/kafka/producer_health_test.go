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
