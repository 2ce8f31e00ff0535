package kafka

import (
	"context"
	"log/slog"
	"strconv"
	"time"
)

const (
	// maxDeadLetterBackoff caps the wait between dead-letter publish
	// attempts; they go on until one succeeds.
	maxDeadLetterBackoff = 5 * time.Second
	// deadLetterTimeout bounds one dead-letter publish (the producer's
	// delivery timeout), so that the loop polls again well within
	// max.poll.interval.ms even while the broker refuses writes.
	deadLetterTimeout = 10 * time.Second
	// maxErrorHeader caps the dlt.error header: an error wrapping a huge
	// response body must not make the dead-letter record too large to send.
	maxErrorHeader = 4096
)

// Headers added to a dead-lettered record, next to its original headers.
const (
	// HeaderDLTOriginalTopic is the topic the record was consumed from.
	HeaderDLTOriginalTopic = "dlt.original.topic"
	// HeaderDLTOriginalPartition is the record's partition there, in decimal.
	HeaderDLTOriginalPartition = "dlt.original.partition"
	// HeaderDLTOriginalOffset is the record's offset there, in decimal.
	HeaderDLTOriginalOffset = "dlt.original.offset"
	// HeaderDLTConsumerGroup is the group that gave up on the record.
	HeaderDLTConsumerGroup = "dlt.consumer.group"
	// HeaderDLTError is the handler's last error, cut to 4 KiB.
	HeaderDLTError = "dlt.error"
	// HeaderDLTAttempts is how many times the handler was called, in decimal.
	HeaderDLTAttempts = "dlt.attempts"
	// HeaderDLTTime is when the record was dead-lettered, RFC 3339 in UTC.
	HeaderDLTTime = "dlt.time"
	// HeaderDLTReason is "permanent" (the handler said retrying is
	// pointless) or "panicked" (the handler panicked on it repeatedly).
	HeaderDLTReason = "dlt.reason"
)

// newDeadLetterProducer builds the producer of cfg's dead-letter copies. It
// shares the consumer's connection settings, and its delivery timeout is
// deadLetterTimeout, so that one publish cannot keep the loop from polling.
func newDeadLetterProducer(cfg ConsumerConfig, logger *slog.Logger) (*Producer, error) {
	return NewProducer(ProducerConfig{
		Brokers:         cfg.Brokers,
		ClientID:        cfg.GroupID + "-dlt",
		DeliveryTimeout: deadLetterTimeout,
		Security:        cfg.Security,
		Extra:           cfg.connectionExtra(),
	}, logger)
}

// deadLetter publishes m to the dead-letter topic and, once the broker has
// acknowledged it, stores t's offset. A failed publish is retried, with
// consumption on hold meanwhile, until it succeeds or the message must be
// abandoned: the message is neither stored nor skipped before its copy is
// safe. ctx carries m's consumer span, which the copy's trace context
// names instead of the original producer's.
func (c *Consumer) deadLetter(ctx context.Context, t taken, m Message, cause error, attempts int, reason string, log *slog.Logger) {
	dm := c.deadLetterMessage(m, cause, attempts, reason, time.Now())
	c.tel.inject(ctx, &dm.Headers)
	for failures := 1; ; failures++ {
		// Not cancelled by ctx, like the handler: the message in hand is
		// finished on shutdown. The producer's delivery timeout bounds it.
		err := c.dlt.Publish(context.WithoutCancel(ctx), []Message{dm})[0]
		if err == nil {
			c.metrics.deadLettered.WithLabelValues(c.cfg.Topic, reason).Inc()
			log.WarnContext(ctx, "kafka message dead-lettered", "dead_letter_topic", c.cfg.DeadLetterTopic, "reason", reason, "attempts", attempts)
			// Only now, with the copy acknowledged, may the group move past
			// the original.
			c.store(t, log)
			return
		}
		log.ErrorContext(ctx, "cannot publish to the dead-letter topic, retrying", "dead_letter_topic", c.cfg.DeadLetterTopic, "error", err)
		if ctx.Err() != nil {
			return
		}
		until := time.Now().Add(backoff(failures, maxDeadLetterBackoff))
		// Poll while waiting, partitions paused, so that a long broker
		// outage does not also get this member evicted from the group.
		if !c.hold(ctx, func() bool { return !time.Now().Before(until) }) {
			return
		}
	}
}

// deadLetterMessage is m for the dead-letter topic: same key, value and
// headers, plus dlt.* headers saying where it came from and why it failed.
func (c *Consumer) deadLetterMessage(m Message, cause error, attempts int, reason string, now time.Time) Message {
	errText := cause.Error()
	if len(errText) > maxErrorHeader {
		errText = errText[:maxErrorHeader]
	}
	hs := make([]Header, 0, len(m.Headers)+8)
	hs = append(hs, m.Headers...)
	hs = append(hs,
		Header{Key: HeaderDLTOriginalTopic, Value: []byte(m.Topic)},
		Header{Key: HeaderDLTOriginalPartition, Value: []byte(strconv.FormatInt(int64(m.Partition), 10))},
		Header{Key: HeaderDLTOriginalOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
		Header{Key: HeaderDLTConsumerGroup, Value: []byte(c.cfg.GroupID)},
		Header{Key: HeaderDLTError, Value: []byte(errText)},
		Header{Key: HeaderDLTAttempts, Value: []byte(strconv.Itoa(attempts))},
		Header{Key: HeaderDLTTime, Value: []byte(now.UTC().Format(time.RFC3339Nano))},
		Header{Key: HeaderDLTReason, Value: []byte(reason)},
	)
	return Message{Topic: c.cfg.DeadLetterTopic, Key: m.Key, Value: m.Value, Headers: hs}
}

// ensureDeadLetterTopic creates the dead-letter topic, with as many
// partitions as the topic consumed, if it is missing. It only logs a
// failure: on a cluster the topic usually comes from a KafkaTopic resource
// and this client may lack the right to create topics.
func (c *Consumer) ensureDeadLetterTopic(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d, _ := ctx.Deadline()
	timeout := time.Until(d)
	if timeout <= 0 {
		return
	}
	md, err := c.kc.GetMetadata(&c.cfg.Topic, false, int(timeout/time.Millisecond))
	if err != nil {
		c.logger.Warn("cannot read topic metadata to create the dead-letter topic", "error", err)
		return
	}
	n := len(md.Topics[c.cfg.Topic].Partitions)
	if n == 0 {
		n = 1
	}
	if err := c.dlt.EnsureTopic(ctx, c.cfg.DeadLetterTopic, n); err != nil {
		c.logger.Warn("cannot create the dead-letter topic", "dead_letter_topic", c.cfg.DeadLetterTopic, "error", err)
	}
}
