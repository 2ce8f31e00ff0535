package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/order-tracking/platform/pkg/events"
)

// Timings of the consumer loop. They are constants rather than settings
// because they only trade CPU for reaction time; RetryBudget is the one
// knob that changes behaviour.
const (
	// pollTimeout bounds each Poll, and so how long a cancelled context, a
	// gate check or a lag refresh waits.
	pollTimeout = 100 * time.Millisecond
	// gateInterval is how often a failing gate (or a pending dead-letter
	// retry) is checked while consumption is on hold.
	gateInterval = 250 * time.Millisecond
	// gateTimeout bounds one gate call: a gate that hangs must not stop the
	// loop from polling, or the group would evict this member.
	gateTimeout = 5 * time.Second
	// firstBackoff and maxBackoff shape the capped exponential backoff
	// between handler attempts (100ms, 200ms, ... 2s, 2s, ...).
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 2 * time.Second
	// maxDeadLetterBackoff caps the wait between dead-letter publish
	// attempts; they go on until one succeeds.
	maxDeadLetterBackoff = 5 * time.Second
	// deadLetterTimeout bounds one dead-letter publish (the producer's
	// delivery timeout), so that the loop polls again well within
	// max.poll.interval.ms even while the broker refuses writes.
	deadLetterTimeout = 10 * time.Second
	// maxPollInterval is max.poll.interval.ms, set explicitly because the
	// loop's design depends on it: a handler call plus the retry budget
	// must stay far below it, or the group evicts this member mid-message.
	maxPollInterval = 300 * time.Second
	// maxRetryBudget keeps RetryBudget well below maxPollInterval, leaving
	// room for the last attempt and the dead-letter publish.
	maxRetryBudget = 2 * time.Minute
	// lagInterval is how often the lag gauges are refreshed.
	lagInterval = 5 * time.Second
	// maxErrorHeader caps the dlt.error header: an error wrapping a huge
	// response body must not make the dead-letter record too large to send.
	maxErrorHeader = 4096
)

// Headers added to a dead-lettered record, next to its original headers.
const (
	HeaderDLTOriginalTopic     = "dlt.original.topic"
	HeaderDLTOriginalPartition = "dlt.original.partition"
	HeaderDLTOriginalOffset    = "dlt.original.offset"
	HeaderDLTConsumerGroup     = "dlt.consumer.group"
	HeaderDLTError             = "dlt.error"
	HeaderDLTAttempts          = "dlt.attempts"
	HeaderDLTTime              = "dlt.time"
	// HeaderDLTReason is "permanent" (the handler said retrying is
	// pointless) or "exhausted" (the retry budget ran out).
	HeaderDLTReason = "dlt.reason"
)

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	// Brokers is the bootstrap list, host:port[,host:port...].
	Brokers string `env:"KAFKA_BROKERS"`
	// GroupID is the consumer group; required. The replicas of one service
	// share it, so each record is handled by one of them. Services set
	// their default (e.g. "tracking-service") before parsing the
	// environment.
	GroupID string `env:"KAFKA_GROUP_ID"`
	// Topic is the topic consumed.
	Topic string `env:"KAFKA_TOPIC"`
	// DeadLetterTopic receives the records that could not be handled, with
	// dlt.* headers saying why. Empty means Topic + ".dlt".
	DeadLetterTopic string `env:"KAFKA_DLT_TOPIC"`
	// RetryBudget is the longest one message may spend being retried after
	// transient errors before it is dead-lettered, so that a poison message
	// blocks its partition for at most this long. Time spent paused by the
	// gate does not count. At most 2m, far below max.poll.interval.ms.
	RetryBudget time.Duration `env:"KAFKA_RETRY_BUDGET"`
	// Extra is passed to librdkafka as is, for settings this struct lacks.
	// Connection settings among them (security.*, sasl.*, ssl.*, socket.*,
	// client.*) also apply to the dead-letter producer. Keys the delivery
	// guarantees depend on are refused by Validate.
	Extra map[string]string `env:"-"`
}

// reservedConsumerKeys are librdkafka settings the loop's at-least-once
// guarantee depends on; Extra may not change them.
var reservedConsumerKeys = []string{
	"group.id",
	"enable.auto.offset.store",
	"enable.auto.commit",
	"go.application.rebalance.enable",
	"go.events.channel.enable",
}

// sharedConnectionPrefixes select the Extra settings that also configure
// the dead-letter producer. Consumer-only settings would only make
// librdkafka warn there.
var sharedConnectionPrefixes = []string{"security.", "sasl.", "ssl.", "socket.", "client.", "broker.", "debug"}

// SetDefaults fills the fields left at zero: DefaultBrokers, events.Topic
// and a 10s retry budget. NewConsumer and Validate call it too, so 0 or ""
// always means the default.
func (c *ConsumerConfig) SetDefaults() {
	if c.Brokers == "" {
		c.Brokers = DefaultBrokers
	}
	if c.Topic == "" {
		c.Topic = events.Topic
	}
	if c.RetryBudget == 0 {
		c.RetryBudget = 10 * time.Second
	}
}

// complete is SetDefaults plus the dead-letter topic, which derives from
// Topic: config.Load calls SetDefaults before KAFKA_TOPIC is read, so
// deriving it there would follow the default topic, not the one set.
func (c *ConsumerConfig) complete() {
	c.SetDefaults()
	if c.DeadLetterTopic == "" {
		c.DeadLetterTopic = c.Topic + ".dlt"
	}
}

// Validate reports every setting that cannot work, at once. Empty fields
// that have a default are fine.
func (c ConsumerConfig) Validate() error {
	c.complete()
	var problems []string
	if strings.TrimSpace(c.GroupID) == "" {
		problems = append(problems, "KAFKA_GROUP_ID is required")
	}
	if c.DeadLetterTopic == c.Topic {
		problems = append(problems, fmt.Sprintf("KAFKA_DLT_TOPIC must differ from KAFKA_TOPIC, both are %q", c.Topic))
	}
	if c.RetryBudget < 0 || c.RetryBudget > maxRetryBudget {
		problems = append(problems, fmt.Sprintf("KAFKA_RETRY_BUDGET must be between 0 (default) and %s, got %s", maxRetryBudget, c.RetryBudget))
	}
	for _, k := range reservedConsumerKeys {
		if _, ok := c.Extra[k]; ok {
			problems = append(problems, fmt.Sprintf("Extra must not set %s: the consumer's delivery guarantee depends on it", k))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid kafka consumer config: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Handler handles one message. Returning nil means done: the offset is
// stored and the message is not delivered again (barring a crash before the
// next commit, so handlers must be idempotent). An error marked with
// Permanent sends the message to the dead-letter topic at once; any other
// error is retried with backoff until the retry budget is spent. ctx is not
// cancelled when the consumer stops, so the message in hand is finished;
// handlers bound their own calls with timeouts. ctx carries the message's
// consumer span, "process <topic>", a child of the span that published the
// message: the handler's calls and log lines join the message's trace.
type Handler func(ctx context.Context, m Message) error

// ConsumerOptions are a Consumer's optional collaborators.
type ConsumerOptions struct {
	// Gate, if set, is checked before handling each message and while
	// retrying; while it fails (e.g. Redis down), consumption pauses:
	// assigned partitions are paused, the consumer keeps polling (so the
	// group does not evict it), no retry budget is spent, and it resumes by
	// itself when Gate succeeds again, re-handling the message in hand.
	// Each call gets a context with a 5s timeout.
	Gate func(ctx context.Context) error
	// Registerer receives the consumer's metrics; nil: no metrics.
	Registerer prometheus.Registerer
}

// Consumer is the project's one consumer loop: a member of a consumer
// group that hands each message to a Handler, one at a time and in order
// per partition, with at-least-once delivery. An offset is stored (and
// later committed) only after the handler succeeded or the message's
// dead-letter copy was acknowledged, so a crash at any point means
// redelivery, never loss.
type Consumer struct {
	cfg     ConsumerConfig
	handler Handler
	gate    func(context.Context) error
	logger  *slog.Logger
	metrics *consumerMetrics
	kc      *ckafka.Consumer
	dlt     *Producer
	tel     telemetry

	started atomic.Bool

	// closeMu guards closed and the closing of kc against Ping, which a
	// readiness probe calls from another goroutine while Run may be closing
	// the client; confluent-kafka-go's own closed flag is not synchronised.
	closeMu sync.RWMutex
	closed  bool

	// The loop state below is touched only by the goroutine running Run:
	// librdkafka calls the rebalance callback from inside Poll and Close,
	// on that goroutine. So it needs no lock.

	// inHand is the message being handled, nil between messages.
	inHand *ckafka.Message
	// inHandRevoked says inHand's partition was revoked while consumption
	// was on hold: another member now owns it, so the message must be
	// dropped without storing its offset.
	inHandRevoked bool
	// paused says the assigned partitions are paused (see hold).
	paused bool
	// next is, per partition, the offset after the last message taken for
	// handling: where consumption must continue after a hold.
	next map[int32]int64
	// rewind is, per partition, the lowest offset that Poll returned while
	// paused; such messages are not handled then, and must come again.
	rewind map[int32]int64
	// fatal is set when the client reports a fatal error; Run then stops.
	fatal  error
	lagDue time.Time
}

// NewConsumer builds a consumer of cfg.Topic for group cfg.GroupID that
// passes each message to h. Connecting is lazy: a broker that is down now
// does not fail this call. Run must be called once; it owns the client and
// closes it when it returns.
func NewConsumer(cfg ConsumerConfig, h Handler, logger *slog.Logger, opts ConsumerOptions) (*Consumer, error) {
	cfg.complete()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("cannot create kafka consumer: handler is nil")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("topic", cfg.Topic, "group", cfg.GroupID)
	metrics, err := newConsumerMetrics(opts.Registerer, cfg.Topic)
	if err != nil {
		return nil, err
	}

	cm := ckafka.ConfigMap{
		"bootstrap.servers": cfg.Brokers,
		"group.id":          cfg.GroupID,
		// Cooperative rebalancing moves only the partitions that change
		// owner; the others keep being consumed while a replica joins or
		// leaves. The rebalance callback uses the incremental calls it needs.
		"partition.assignment.strategy": "cooperative-sticky",
		// A new group starts at the beginning: an event published before the
		// service's first start is still an event it must see.
		"auto.offset.reset": "earliest",
		// At-least-once: offsets are stored by hand, only after the handler
		// succeeded or the dead-letter copy was acknowledged; auto-commit
		// then commits stored offsets only, never merely fetched ones.
		"enable.auto.offset.store": false,
		"enable.auto.commit":       true,
		"max.poll.interval.ms":     int(maxPollInterval / time.Millisecond),
		// A replica that crashed (SIGKILL, OOM) keeps its partitions until
		// its session times out; 10s instead of the 45s default lets the
		// others take over sooner, and is still well above the 3s heartbeat.
		"session.timeout.ms":     10000,
		"go.logs.channel.enable": false,
	}
	producerExtra := map[string]string{}
	for k, v := range cfg.Extra {
		cm[k] = v
		for _, p := range sharedConnectionPrefixes {
			if strings.HasPrefix(k, p) {
				producerExtra[k] = v
			}
		}
	}
	kc, err := ckafka.NewConsumer(&cm)
	if err != nil {
		return nil, fmt.Errorf("cannot create kafka consumer: %w", err)
	}
	dlt, err := NewProducer(ProducerConfig{
		Brokers:         cfg.Brokers,
		ClientID:        cfg.GroupID + "-dlt",
		DeliveryTimeout: deadLetterTimeout,
		Extra:           producerExtra,
	}, logger)
	if err != nil {
		_ = kc.Close()
		return nil, fmt.Errorf("cannot create dead-letter producer: %w", err)
	}
	return &Consumer{
		cfg:     cfg,
		handler: h,
		gate:    opts.Gate,
		logger:  logger,
		metrics: metrics,
		kc:      kc,
		dlt:     dlt,
		tel:     newTelemetry(),
		next:    map[int32]int64{},
		rewind:  map[int32]int64{},
	}, nil
}

// WithMessage returns logger with the message's topic, partition and
// offset, the coordinates needed to find a record again, e.g.
// kafka.WithMessage(logger, m).Warn("order not found").
func WithMessage(logger *slog.Logger, m Message) *slog.Logger {
	return logger.With(
		slog.String("topic", m.Topic),
		slog.Int("partition", int(m.Partition)),
		slog.Int64("offset", m.Offset),
	)
}

// Run joins the group and handles messages until ctx ends. Then it stops
// fetching, finishes the message in hand, commits the stored offsets and
// closes the client; it returns nil on such a clean stop, and an error
// when it cannot subscribe, the client fails fatally, or the final commit
// fails. Run may be called once.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("kafka consumer: Run may be called only once")
	}
	c.ensureDeadLetterTopic(ctx)
	if err := c.kc.Subscribe(c.cfg.Topic, c.rebalance); err != nil {
		return errors.Join(fmt.Errorf("cannot subscribe to %s: %w", c.cfg.Topic, err), c.stop())
	}
	c.logger.Info("kafka consumer started", "dead_letter_topic", c.cfg.DeadLetterTopic, "retry_budget", c.cfg.RetryBudget)
	for ctx.Err() == nil && c.fatal == nil {
		if km := c.poll(); km != nil {
			c.take(ctx, km)
		}
	}
	err := c.stop()
	if err == nil {
		c.logger.Info("kafka consumer stopped")
	}
	return err
}

// Ping asks the cluster for its metadata, for readiness checks.
func (c *Consumer) Ping(ctx context.Context) error {
	timeout := 2 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	if timeout <= 0 {
		return fmt.Errorf("kafka metadata: %w", context.DeadlineExceeded)
	}
	c.closeMu.RLock()
	defer c.closeMu.RUnlock()
	if c.closed {
		return errors.New("kafka metadata: consumer is closed")
	}
	if _, err := c.kc.GetMetadata(nil, false, int(timeout/time.Millisecond)); err != nil {
		return fmt.Errorf("kafka metadata: %w", err)
	}
	return nil
}

// stop commits what was stored and closes the client and the dead-letter
// producer.
func (c *Consumer) stop() error {
	var errs []error
	if c.fatal != nil {
		errs = append(errs, c.fatal)
	}
	// Commit now rather than leave it to the close: an error here is
	// reported, and the next owner of these partitions starts right after
	// the last message handled here instead of redelivering what the last
	// auto-commit missed.
	switch _, err := c.kc.Commit(); {
	case err == nil || isNoOffset(err):
	case isGroupChurn(err):
		// The group is rebalancing (other members leaving or joining at the
		// same time): this commit is refused, but Close still commits the
		// stored offsets when it revokes the partitions, and whatever is not
		// committed is redelivered. Not a failed stop.
		c.logger.Warn("kafka consumer final commit deferred to the revocation", "error", err)
	default:
		errs = append(errs, fmt.Errorf("cannot commit offsets: %w", err))
	}
	c.closeMu.Lock()
	c.closed = true
	// Close leaves the group; librdkafka calls the rebalance callback for
	// the revocation from inside it, on this goroutine.
	if err := c.kc.Close(); err != nil {
		errs = append(errs, fmt.Errorf("cannot close kafka consumer: %w", err))
	}
	c.closeMu.Unlock()
	c.dlt.Close(5 * time.Second)
	return errors.Join(errs...)
}

// poll waits up to pollTimeout for the next event and returns it if it is
// a message. Rebalances are handled by c.rebalance from inside Poll.
func (c *Consumer) poll() *ckafka.Message {
	c.refreshLag()
	switch e := c.kc.Poll(int(pollTimeout / time.Millisecond)).(type) {
	case *ckafka.Message:
		if e.TopicPartition.Error != nil {
			c.logger.Warn("kafka consumer got a failed message", "error", e.TopicPartition.Error)
			return nil
		}
		return e
	case ckafka.Error:
		if e.IsFatal() {
			c.fatal = fmt.Errorf("kafka consumer failed: %w", e)
			c.logger.Error("kafka consumer fatal error", "error", e)
		} else {
			// Mostly transient (a broker restarting); librdkafka recovers by
			// itself, so this is worth a line, not a stop.
			c.logger.Warn("kafka consumer error", "error", e, "code", e.Code())
		}
	}
	return nil
}

// take handles one message fetched by poll.
func (c *Consumer) take(ctx context.Context, km *ckafka.Message) {
	c.next[km.TopicPartition.Partition] = int64(km.TopicPartition.Offset) + 1
	c.inHand, c.inHandRevoked = km, false
	defer func() { c.inHand, c.inHandRevoked = nil, false }()
	c.metrics.consumed.WithLabelValues(c.cfg.Topic).Inc()
	c.process(ctx, km, toMessage(km))
}

// process runs the handler on m until it succeeds, fails permanently or
// runs out of retry budget, and stores m's offset once m is done with. It
// returns without storing when ctx ends between attempts or m's partition
// is revoked during a hold: m is then redelivered, here or elsewhere.
func (c *Consumer) process(ctx context.Context, km *ckafka.Message, m Message) {
	// c.logger already carries the topic.
	log := c.logger.With("partition", m.Partition, "offset", m.Offset)
	// The handler's context does not end with ctx: on shutdown the message
	// in hand is finished rather than cut off half-way. It carries the
	// message's consumer span, which covers every attempt and the
	// dead-lettering.
	hctx, span := c.tel.startProcess(context.WithoutCancel(ctx), c.cfg.GroupID, m)
	defer span.End()
	// ctx with the span in it: it still ends with the consumer, and the
	// dead-letter publish made under it is a child of the span.
	sctx := trace.ContextWithSpan(ctx, span)
	var (
		attempts int
		start    time.Time     // of the first attempt
		held     time.Duration // on hold for the gate since start: not charged to the budget
		backoff  = firstBackoff
	)
	for {
		if c.gate != nil {
			holdStart := time.Now()
			if !c.waitForGate(ctx, log) {
				return
			}
			if !start.IsZero() {
				held += time.Since(holdStart)
			}
		}
		if attempts > 0 {
			c.metrics.retried.WithLabelValues(c.cfg.Topic).Inc()
		} else {
			start = time.Now()
		}
		attempts++
		err := c.call(hctx, m)
		if err != nil {
			span.RecordError(err, trace.WithAttributes(attribute.Int("attempt", attempts)))
		}
		if err == nil {
			c.metrics.handled.WithLabelValues(c.cfg.Topic).Inc()
			c.store(km, log)
			return
		}
		if IsPermanent(err) {
			c.metrics.failed.WithLabelValues(c.cfg.Topic, "permanent").Inc()
			log.WarnContext(hctx, "kafka message cannot be handled, dead-lettering it", "error", err, "attempt", attempts)
			span.SetStatus(codes.Error, "dead-lettered ("+reasonPermanent+"): "+err.Error())
			c.deadLetter(sctx, km, m, err, attempts, reasonPermanent, log)
			return
		}
		c.metrics.failed.WithLabelValues(c.cfg.Topic, "transient").Inc()
		if ctx.Err() != nil {
			log.InfoContext(hctx, "kafka consumer stopping, message left for redelivery", "error", err, "attempt", attempts)
			span.AddEvent("left for redelivery")
			return
		}
		spent := time.Since(start) - held
		if spent >= c.cfg.RetryBudget {
			log.WarnContext(hctx, "kafka message retry budget exhausted, dead-lettering it", "error", err, "attempt", attempts, "spent", spent)
			span.SetStatus(codes.Error, "dead-lettered ("+reasonExhausted+"): "+err.Error())
			c.deadLetter(sctx, km, m, err, attempts, reasonExhausted, log)
			return
		}
		// The last wait ends at the budget, so the attempt after it is the
		// last one: a poison message holds its partition for about the
		// budget plus one handler call, not a backoff step more.
		wait := min(backoff, c.cfg.RetryBudget-spent)
		backoff = min(2*backoff, maxBackoff)
		log.InfoContext(hctx, "kafka handler failed, retrying", "error", err, "attempt", attempts, "retry_in", wait)
		// No polling while waiting: the whole budget is far below
		// max.poll.interval.ms, so the group keeps this member, and a
		// rebalance waits for it at most about the budget.
		if !sleep(ctx, wait) {
			log.InfoContext(hctx, "kafka consumer stopping, message left for redelivery", "attempt", attempts)
			span.AddEvent("left for redelivery")
			return
		}
	}
}

// call runs the handler, turning a panic into a (transient) error: a
// handler bug triggered by one record then costs that record a trip to the
// dead-letter topic, instead of crashing every replica in turn as the
// record is redelivered to each.
func (c *Consumer) call(ctx context.Context, m Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.logger.ErrorContext(ctx, "kafka handler panicked", "partition", m.Partition, "offset", m.Offset, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	t := time.Now()
	defer func() { c.metrics.duration.WithLabelValues(c.cfg.Topic).Observe(time.Since(t).Seconds()) }()
	return c.handler(ctx, m)
}

// store stores km's offset for the next commit. Callers call it only once
// km is done with (handled, or its dead-letter copy acknowledged): storing
// is what lets the group move past km, so storing any earlier could lose
// it if the process died in between.
func (c *Consumer) store(km *ckafka.Message, log *slog.Logger) {
	if c.inHandRevoked {
		// The partition's new owner starts from the last commit and handles
		// km again; storing would fail anyway.
		log.Info("partition revoked while the message was in hand, offset not stored")
		return
	}
	if _, err := c.kc.StoreMessage(km); err != nil {
		log.Warn("cannot store kafka offset, message will be redelivered", "error", err)
	}
}

// waitForGate returns true once the gate passes, at once or after a hold,
// and false when the message in hand must be abandoned (see hold).
func (c *Consumer) waitForGate(ctx context.Context, log *slog.Logger) bool {
	err := c.checkGate(ctx)
	if err == nil {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	log.Warn("kafka consumption paused: gate failing", "error", err)
	t := time.Now()
	ok := c.hold(ctx, func() bool {
		err = c.checkGate(ctx)
		return err == nil
	})
	if ok {
		log.Info("kafka consumption resumed: gate passing", "paused_for", time.Since(t))
	}
	return ok
}

func (c *Consumer) checkGate(ctx context.Context) error {
	gctx, cancel := context.WithTimeout(ctx, gateTimeout)
	defer cancel()
	return c.gate(gctx)
}

// hold puts consumption on hold until ready returns true (checked every
// gateInterval): it pauses the assigned partitions and keeps polling, so
// the group neither evicts this member nor waits on it to rebalance. It
// returns false when the message in hand must be abandoned: ctx ended, the
// client failed, or the message's partition was revoked meanwhile.
func (c *Consumer) hold(ctx context.Context, ready func() bool) bool {
	c.pause()
	check := time.NewTicker(gateInterval)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			// No resume: Run is about to commit and close.
			return false
		case <-check.C:
			if ready() {
				c.resume()
				return !c.inHandRevoked
			}
		default:
		}
		if km := c.poll(); km != nil {
			// A message fetched before the pause took effect, or for a
			// partition assigned during it. Handling it now would overtake
			// the message in hand, and dropping it would lose it: remember
			// where its partition must start again after the hold.
			p, off := km.TopicPartition.Partition, int64(km.TopicPartition.Offset)
			if prev, ok := c.rewind[p]; !ok || off < prev {
				c.rewind[p] = off
			}
		}
		if c.fatal != nil {
			return false
		}
	}
}

func (c *Consumer) pause() {
	c.paused = true
	clear(c.rewind)
	parts, err := c.kc.Assignment()
	if err != nil {
		c.logger.Warn("cannot read kafka assignment to pause it", "error", err)
		return
	}
	if err := c.kc.Pause(parts); err != nil {
		c.logger.Warn("cannot pause kafka partitions", "error", err)
	}
}

// resume resumes the assigned partitions and seeks each one it has taken
// messages from back to where handling must continue: right after the
// message in hand (which is handled again from memory) or the last one
// handled. Otherwise messages that librdkafka fetched before the pause, or
// that Poll returned during it, could be skipped.
func (c *Consumer) resume() {
	c.paused = false
	parts, err := c.kc.Assignment()
	if err != nil {
		c.logger.Error("cannot read kafka assignment to resume it", "error", err)
		return
	}
	if err := c.kc.Resume(parts); err != nil {
		c.logger.Error("cannot resume kafka partitions", "error", err)
	}
	var seeks []ckafka.TopicPartition
	for _, tp := range parts {
		off, ok := c.next[tp.Partition]
		if !ok {
			off, ok = c.rewind[tp.Partition]
		}
		if !ok {
			// Nothing taken from it since it was assigned: it still starts
			// from the committed offset.
			continue
		}
		tp.Offset = ckafka.Offset(off)
		seeks = append(seeks, tp)
	}
	clear(c.rewind)
	if len(seeks) == 0 {
		return
	}
	res, err := c.kc.SeekPartitions(seeks)
	if err != nil {
		c.logger.Error("cannot seek kafka partitions after a pause", "error", err)
		return
	}
	for _, tp := range res {
		if tp.Error != nil {
			c.logger.Error("cannot seek kafka partition after a pause", "partition", tp.Partition, "offset", tp.Offset, "error", tp.Error)
		}
	}
}

// rebalance is the group's rebalance callback, called by librdkafka from
// inside Poll or Close on Run's goroutine.
func (c *Consumer) rebalance(kc *ckafka.Consumer, ev ckafka.Event) error {
	// cooperative-sticky is configured, but ask: Extra may have changed
	// the strategy, and each protocol needs its own calls.
	cooperative := kc.GetRebalanceProtocol() == "COOPERATIVE"
	switch e := ev.(type) {
	case ckafka.AssignedPartitions:
		c.logger.Info("kafka partitions assigned", "partitions", partitionList(e.Partitions))
		var err error
		if cooperative {
			err = kc.IncrementalAssign(e.Partitions)
		} else {
			err = kc.Assign(e.Partitions)
		}
		if err != nil {
			c.logger.Error("cannot assign kafka partitions", "error", err)
			return err
		}
		if c.paused {
			// Consumption is on hold: new partitions join it, rather than
			// deliver messages while the gate is failing.
			if err := kc.Pause(e.Partitions); err != nil {
				c.logger.Warn("cannot pause newly assigned kafka partitions", "error", err)
			}
		}
	case ckafka.RevokedPartitions:
		if kc.AssignmentLost() {
			// The partitions may already belong to another member (this one
			// was evicted, e.g. after a network split): committing could
			// move the group's offsets under the new owner. Just drop them;
			// the new owner redelivers what was not committed.
			c.logger.Warn("kafka partitions lost", "partitions", partitionList(e.Partitions))
		} else {
			c.logger.Info("kafka partitions revoked", "partitions", partitionList(e.Partitions))
			// Commit what was stored before the partitions go, so the next
			// owner starts right after the last message handled here.
			// librdkafka's auto-commit also does this on unassign; doing it
			// here keeps the guarantee explicit and its failures logged.
			if _, err := kc.Commit(); err != nil && !isNoOffset(err) {
				c.logger.Warn("cannot commit kafka offsets on revocation", "error", err)
			}
		}
		for _, tp := range e.Partitions {
			if tp.Topic == nil || *tp.Topic != c.cfg.Topic {
				continue
			}
			delete(c.next, tp.Partition)
			delete(c.rewind, tp.Partition)
			c.metrics.lag.DeleteLabelValues(c.cfg.Topic, partitionLabel(tp.Partition))
			if c.inHand != nil && c.inHand.TopicPartition.Partition == tp.Partition {
				c.inHandRevoked = true
			}
		}
		var err error
		if cooperative {
			err = kc.IncrementalUnassign(e.Partitions)
		} else {
			err = kc.Unassign()
		}
		if err != nil {
			c.logger.Error("cannot unassign kafka partitions", "error", err)
			return err
		}
	}
	return nil
}

// deadLetter publishes m to the dead-letter topic and, once the broker has
// acknowledged it, stores km's offset. A failed publish is retried, with
// consumption on hold meanwhile, until it succeeds or the message must be
// abandoned: the message is neither stored nor skipped before its copy is
// safe. ctx carries m's consumer span, which the copy's trace context
// names instead of the original producer's.
func (c *Consumer) deadLetter(ctx context.Context, km *ckafka.Message, m Message, cause error, attempts int, reason string, log *slog.Logger) {
	dm := c.deadLetterMessage(m, cause, attempts, reason, time.Now())
	c.tel.inject(ctx, &dm.Headers)
	backoff := firstBackoff
	for {
		// Not cancelled by ctx, like the handler: the message in hand is
		// finished on shutdown. The producer's delivery timeout bounds it.
		err := c.dlt.Publish(context.WithoutCancel(ctx), []Message{dm})[0]
		if err == nil {
			c.metrics.deadLettered.WithLabelValues(c.cfg.Topic, reason).Inc()
			log.WarnContext(ctx, "kafka message dead-lettered", "dead_letter_topic", c.cfg.DeadLetterTopic, "reason", reason, "attempts", attempts)
			// Only now, with the copy acknowledged, may the group move past
			// the original.
			c.store(km, log)
			return
		}
		log.ErrorContext(ctx, "cannot publish to the dead-letter topic, retrying", "dead_letter_topic", c.cfg.DeadLetterTopic, "error", err)
		if ctx.Err() != nil {
			return
		}
		until := time.Now().Add(backoff)
		backoff = min(2*backoff, maxDeadLetterBackoff)
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

// refreshLag sets the lag gauges of the assigned partitions, at most every
// lagInterval. It uses the high watermarks that fetch responses bring, so
// it costs no broker round trip.
func (c *Consumer) refreshLag() {
	if time.Now().Before(c.lagDue) {
		return
	}
	c.lagDue = time.Now().Add(lagInterval)
	parts, err := c.kc.Assignment()
	if err != nil || len(parts) == 0 {
		return
	}
	pos, err := c.kc.Position(parts)
	if err != nil {
		return
	}
	for _, tp := range pos {
		if tp.Offset < 0 || tp.Topic == nil {
			continue // nothing consumed yet: no position to measure from
		}
		_, high, err := c.kc.GetWatermarkOffsets(*tp.Topic, tp.Partition)
		if err != nil || high < 0 {
			continue
		}
		c.metrics.lag.WithLabelValues(c.cfg.Topic, partitionLabel(tp.Partition)).Set(float64(max(high-int64(tp.Offset), 0)))
	}
}

// toMessage converts a consumed record.
func toMessage(km *ckafka.Message) Message {
	m := Message{
		Partition: km.TopicPartition.Partition,
		Offset:    int64(km.TopicPartition.Offset),
		Key:       km.Key,
		Value:     km.Value,
		Timestamp: km.Timestamp,
	}
	if km.TopicPartition.Topic != nil {
		m.Topic = *km.TopicPartition.Topic
	}
	if len(km.Headers) > 0 {
		m.Headers = make([]Header, len(km.Headers))
		for i, h := range km.Headers {
			m.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
	return m
}

// isNoOffset reports the error Commit returns when nothing new was stored.
// isGroupChurn reports a commit refused because the group's membership is
// changing: retried implicitly by the next owner or the revocation commit.
func isGroupChurn(err error) bool {
	var kerr ckafka.Error
	if !errors.As(err, &kerr) {
		return false
	}
	switch kerr.Code() {
	case ckafka.ErrRebalanceInProgress, ckafka.ErrIllegalGeneration, ckafka.ErrUnknownMemberID:
		return true
	}
	return false
}

func isNoOffset(err error) bool {
	var kerr ckafka.Error
	return errors.As(err, &kerr) && kerr.Code() == ckafka.ErrNoOffset
}

func partitionList(tps []ckafka.TopicPartition) []int32 {
	ps := make([]int32, len(tps))
	for i, tp := range tps {
		ps[i] = tp.Partition
	}
	return ps
}

// sleep waits for d or until ctx ends, and reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
