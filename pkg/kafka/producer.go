// Package kafka is the project's one Kafka producer and one consumer loop
// on confluent-kafka-go, configured for delivery guarantees rather than speed.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/order-tracking/platform/pkg/logging"
	"go.opentelemetry.io/otel/trace"
)

// pingTimeout bounds a Ping whose context has no deadline.
const pingTimeout = 2 * time.Second

// Message is one record: to publish, or as consumed.
type Message struct {
	Topic string
	// Partition, Offset and Timestamp are set on consumed messages; Publish
	// ignores them (the partitioner picks the partition from the key).
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time
}

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Producer publishes messages and waits for the broker's acknowledgement of
// each: idempotence on, acks from all in-sync replicas, so a retried send
// never duplicates or reorders records within a partition.
type Producer struct {
	p      *ckafka.Producer
	logger *slog.Logger
	tel    telemetry
	wg     sync.WaitGroup
	// logsDone is closed once librdkafka's log lines are all written,
	// after p is closed; every holds back repeated client errors.
	logsDone <-chan struct{}
	every    *logging.Every
	// authFailure is the broker's last refusal of the credentials, nil
	// once a message is delivered: librdkafka keeps retrying and the
	// messages only time out, so a timeout says why with it.
	authFailure atomic.Pointer[ckafka.Error]
}

// NewProducer connects a producer. Connecting is lazy in librdkafka: a broker
// that is down now does not fail this call; sends wait for it instead.
func NewProducer(cfg ProducerConfig, logger *slog.Logger) (*Producer, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cm := ckafka.ConfigMap{
		"bootstrap.servers":  cfg.Brokers,
		"enable.idempotence": true,
		"acks":               "all",
		"message.timeout.ms": int(cfg.DeliveryTimeout / time.Millisecond),
		// Every event waited out the linger before it left: at 5ms (an
		// earlier setting) half of an update's way to a tracking page
		// (p50 14ms at 200 changes/s, 3.5ms at 1ms, 2.4ms at 0). Batches
		// still form while earlier requests are in flight, and the relay
		// sends whole batches anyway: at 2,000 creates/s the broker's and
		// orders-service's CPU were the same at 0 as at 1ms.
		"linger.ms":        0,
		"compression.type": "lz4",
		// Delivery reports are read from each Publish call's own channel.
		"go.delivery.reports": true,
		// librdkafka's own log lines go through the service's logger.
		"go.logs.channel.enable": true,
		// The Go client allocates both channels whole at their default of a
		// million entries (23 MB of heap, which also doubles the heap the
		// GC lets grow): Events only carries errors here, and
		// ProduceChannel is not used.
		"go.events.channel.size":  1000,
		"go.produce.channel.size": 0,
	}
	if cfg.ClientID != "" {
		cm["client.id"] = cfg.ClientID
	}
	// Extra comes last, so a setting the struct lacks can still refine
	// the security ones (ssl.endpoint.identification.algorithm, say).
	cfg.Security.apply(cm)
	for k, v := range cfg.Extra {
		cm[k] = v
	}
	p, err := ckafka.NewProducer(&cm)
	if err != nil {
		return nil, fmt.Errorf("cannot create kafka producer: %w", err)
	}
	pr := &Producer{p: p, logger: logger, tel: newTelemetry(), every: logging.NewEvery(repeatInterval)}
	pr.logsDone = forwardLogs(p.Logs(), logger)
	pr.wg.Add(1)
	go pr.watch()
	return pr, nil
}

// watch reads the producer's general event channel, which carries client
// errors (broker down, fatal idempotence errors); it ends when Close closes
// the channel.
func (p *Producer) watch() {
	defer p.wg.Done()
	for ev := range p.p.Events() {
		switch e := ev.(type) {
		case ckafka.Error:
			if e.Code() == ckafka.ErrAuthentication {
				p.authFailure.Store(&e)
			}
			if e.IsFatal() {
				p.logger.Error("kafka producer fatal error", "error", e)
			} else {
				clientError(p.logger, p.every, "kafka producer error", e)
			}
		case *ckafka.Message:
			// Only messages produced without a delivery channel land here; we
			// never do that, but a report must never block librdkafka.
		}
	}
}

// Healthy reports a fatal error of the producer, nil while it has none. A
// fatal error (the broker fenced the idempotent producer, say) means it
// will never deliver again: a readiness check built on this takes the
// replica out of service, so that it is noticed and restarted rather
// than left relaying nothing.
func (p *Producer) Healthy(context.Context) error {
	if err := p.p.GetFatalError(); err != nil {
		return fmt.Errorf("kafka producer failed for good: %w", err)
	}
	return nil
}

// Publish sends msgs in order and waits until the broker has acknowledged or
// refused each of them: Send, then its wait. It returns one error per
// message (nil means stored by the broker).
func (p *Producer) Publish(ctx context.Context, msgs []Message) []error {
	return p.Send(ctx, msgs)()
}

// Send hands msgs to the producer in order and returns without waiting for
// the broker; the function it returns waits until the broker has
// acknowledged or refused each of them and returns one error per message
// (nil means stored by the broker). Messages of one partition are
// acknowledged in the order given, and in the order of Send calls, so a
// caller may Send the next batch while an earlier one is unacknowledged.
// When ctx ends first, the messages still unconfirmed get ctx's error: they
// may yet be delivered, so callers must treat them as "maybe sent". Call
// the wait function exactly once.
//
// Each message gets a producer span, "publish <topic>", ended by the
// broker's answer, and its context in the traceparent header. A message
// that already carries a traceparent (an outbox row's) continues that trace,
// with a link to the span in ctx; any other is a child of the span in ctx.
// msgs' own Headers are left unchanged.
func (p *Producer) Send(ctx context.Context, msgs []Message) (wait func() []error) {
	errs := make([]error, len(msgs))
	reports := make(chan ckafka.Event, len(msgs))
	// spans[i] is message i's producer span until it is ended.
	spans := make([]trace.Span, len(msgs))
	pending := 0
	for i, m := range msgs {
		km := &ckafka.Message{
			TopicPartition: ckafka.TopicPartition{Topic: &msgs[i].Topic, Partition: ckafka.PartitionAny},
			Key:            m.Key,
			Value:          m.Value,
			Opaque:         i,
		}
		// startPublish writes to a copy when it changes the headers.
		hs := m.Headers
		spans[i] = p.tel.startPublish(ctx, m.Topic, m.Key, &hs)
		for _, h := range hs {
			km.Headers = append(km.Headers, ckafka.Header{Key: h.Key, Value: h.Value})
		}
		if err := p.produce(ctx, km, reports); err != nil {
			endPublish(spans[i], 0, 0, err)
			spans[i] = nil
			// Later messages must not overtake this one, so stop here.
			for j := i; j < len(msgs); j++ {
				errs[j] = err
			}
			break
		}
		pending++
	}
	return func() []error { return p.awaitReports(ctx, errs, spans, reports, pending) }
}

// awaitReports collects the pending delivery reports of one Send.
func (p *Producer) awaitReports(ctx context.Context, errs []error, spans []trace.Span, reports chan ckafka.Event, pending int) []error {
	for ; pending > 0; pending-- {
		select {
		case ev := <-reports:
			m, ok := ev.(*ckafka.Message)
			if !ok {
				continue
			}
			idx := m.Opaque.(int)
			errs[idx] = p.deliveryError(m.TopicPartition.Error)
			endPublish(spans[idx], m.TopicPartition.Partition, int64(m.TopicPartition.Offset), errs[idx])
			spans[idx] = nil
		case <-ctx.Done():
			for i := range errs {
				if errs[i] == nil {
					errs[i] = ctx.Err()
				}
				if spans[i] != nil {
					endPublish(spans[i], 0, 0, errs[i])
				}
			}
			// Reports still to come land in the buffered channel and are dropped with it.
			return errs
		}
	}
	return errs
}

// deliveryError is the error of a delivery report, nil for a delivered
// message. A timeout while the broker refuses the credentials names the
// refusal: "Message timed out" alone sends the reader looking at the
// network.
func (p *Producer) deliveryError(err error) error {
	if err == nil {
		p.authFailure.Store(nil)
		return nil
	}
	var kerr ckafka.Error
	if auth := p.authFailure.Load(); auth != nil && errors.As(err, &kerr) && kerr.Code() == ckafka.ErrMsgTimedOut {
		return fmt.Errorf("broker did not take message: %w, after the broker refused the credentials: %v", err, *auth)
	}
	return fmt.Errorf("broker did not take message: %w", err)
}

// produce enqueues one message, waiting while librdkafka's local queue is
// full rather than dropping it.
func (p *Producer) produce(ctx context.Context, m *ckafka.Message, reports chan ckafka.Event) error {
	for {
		err := p.p.Produce(m, reports)
		if err == nil {
			return nil
		}
		var kerr ckafka.Error
		if !errors.As(err, &kerr) || kerr.Code() != ckafka.ErrQueueFull {
			return fmt.Errorf("cannot enqueue message: %w", err)
		}
		// Serving delivery reports frees queue space; Flush does that.
		p.p.Flush(100)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// EnsureTopic creates topic with the given partition count unless it exists.
// Services call it at start so a fresh broker (or a laptop) needs no manual
// setup; on clusters the topic usually comes from a Strimzi KafkaTopic.
func (p *Producer) EnsureTopic(ctx context.Context, topic string, partitions int) error {
	admin, err := ckafka.NewAdminClientFromProducer(p.p)
	if err != nil {
		return fmt.Errorf("cannot create kafka admin client: %w", err)
	}
	defer admin.Close()
	res, err := admin.CreateTopics(ctx, []ckafka.TopicSpecification{{
		Topic: topic, NumPartitions: partitions, ReplicationFactor: -1,
	}})
	if err != nil {
		return fmt.Errorf("cannot create topic %s: %w", topic, err)
	}
	for _, r := range res {
		if c := r.Error.Code(); c != ckafka.ErrNoError && c != ckafka.ErrTopicAlreadyExists {
			return fmt.Errorf("cannot create topic %s: %w", r.Topic, r.Error)
		}
	}
	return nil
}

// Ping asks the cluster for its metadata, for readiness checks.
func (p *Producer) Ping(ctx context.Context) error {
	timeout := pingTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	if _, err := p.p.GetMetadata(nil, false, int(timeout/time.Millisecond)); err != nil {
		return fmt.Errorf("kafka metadata: %w", err)
	}
	return nil
}

// Close waits up to timeout for messages still queued, then closes.
func (p *Producer) Close(timeout time.Duration) {
	if left := p.p.Flush(int(timeout / time.Millisecond)); left > 0 {
		p.logger.Warn("kafka producer closed with messages unsent", "count", left)
	}
	p.p.Close()
	p.wg.Wait()
	<-p.logsDone
}
