package kafka_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/pkg/testinfra"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestIntegrationPublishKeepsOrderPerKey(t *testing.T) {
	brokers := testinfra.KafkaBrokers(t)
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: brokers}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(5 * time.Second)
	topic := testinfra.UniqueName("producer-test")
	if err := p.EnsureTopic(t.Context(), topic, 3); err != nil {
		t.Fatal(err)
	}
	// Creating it again is not an error: every replica does it at start.
	if err := p.EnsureTopic(t.Context(), topic, 3); err != nil {
		t.Fatalf("second EnsureTopic: got %v, want nil", err)
	}

	const n = 300
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{
			Topic:   topic,
			Key:     []byte(strconv.Itoa(i % 7)),
			Value:   []byte(strconv.Itoa(i)),
			Headers: []kafka.Header{{Key: "seq", Value: []byte(strconv.Itoa(i))}},
		}
	}
	for i, err := range p.Publish(t.Context(), msgs) {
		if err != nil {
			t.Fatalf("message %d: got %v, want acknowledged", i, err)
		}
	}

	c, err := ckafka.NewConsumer(&ckafka.ConfigMap{
		"bootstrap.servers": brokers, "group.id": testinfra.UniqueName("producer-test"), "auto.offset.reset": "earliest",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(topic, nil); err != nil {
		t.Fatal(err)
	}
	last := map[string]int{}
	seen := 0
	testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
		m, err := c.ReadMessage(200 * time.Millisecond)
		if err == nil {
			v, _ := strconv.Atoi(string(m.Value))
			if prev, ok := last[string(m.Key)]; ok && v <= prev {
				t.Fatalf("key %s: got %d after %d, want increasing", m.Key, v, prev)
			}
			if len(m.Headers) != 1 || string(m.Headers[0].Value) != string(m.Value) {
				t.Fatalf("got headers %v, want seq=%s", m.Headers, m.Value)
			}
			last[string(m.Key)] = v
			seen++
		}
		return seen == n, strconv.Itoa(seen) + " of " + strconv.Itoa(n) + " consumed"
	})
}

func TestIntegrationPublishReportsUndeliverable(t *testing.T) {
	// A port nothing listens on: the broker is "down" for the whole test.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: addr, DeliveryTimeout: time.Second}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(0)
	errs := p.Publish(context.Background(), []kafka.Message{{Topic: "t", Value: []byte("x")}, {Topic: "t", Value: []byte("y")}})
	for i, err := range errs {
		if err == nil {
			t.Errorf("message %d: got acknowledged, want a delivery error", i)
		}
	}
}

func TestPublishStopsWaitingWhenContextEnds(t *testing.T) {
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: "127.0.0.1:1", DeliveryTimeout: time.Minute}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errs := p.Publish(ctx, []kafka.Message{{Topic: "t", Value: []byte("x")}})
	if errs[0] == nil {
		t.Fatal("got acknowledged, want the context's error")
	}
}
