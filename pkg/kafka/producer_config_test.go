package kafka_test

import (
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/kafka"
)

func TestProducerConfigValidate(t *testing.T) {
	if _, err := kafka.NewProducer(kafka.ProducerConfig{DeliveryTimeout: time.Millisecond}, discard); err == nil {
		t.Fatal("got nil error for a 1ms delivery timeout, want one")
	}
}
