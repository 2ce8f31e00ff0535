package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/order-tracking/platform/pkg/logging"
)

// Timings of the consumer loop. They are constants rather than settings
// because they only trade CPU for reaction time. Those of the hold, the
// backoff, the dead-lettering and the lag gauges stand beside their code.
const (
	// pollTimeout bounds each Poll, and so how long a cancelled context, a
	// gate check during a hold or a lag refresh waits.
	pollTimeout = 100 * time.Millisecond
	// maxPollInterval is max.poll.interval.ms, set explicitly because the
	// loop's design depends on it: a handler call plus the retry budget
	// must stay far below it, or the group evicts this member mid-message.
	maxPollInterval = 300 * time.Second
)

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

// BatchHandler handles several messages in one call, for handlers whose
// cost per message is mostly a round trip that several messages can share
// (one Redis pipeline, one database transaction). ms are consecutive
// messages as consumed, in order within each partition, at most 64;
// ctxs[i] is ms[i]'s context, carrying its consumer span as a Handler's
// ctx does (not cancelled when the consumer stops). It handles them in
// order and returns how many of them, from the first, are done. When that
// is fewer than len(ms), err says why ms[done] failed; that message then
// goes through the Handler's path (retries, gate, dead-letter), counting
// this failure as its first attempt, and the messages after it come back
// in a later call. Those after the failed one must therefore be left
// undone, or be safe to handle again, which idempotent handlers are.
type BatchHandler func(ctxs []context.Context, ms []Message) (done int, err error)

// maxBatch caps the messages handed to a BatchHandler at once. Past a few
// dozen the shared round trip is already paid for; the cap bounds the work
// a crash can make a handler redo, and what a batch holds in memory.
const maxBatch = 64

// ConsumerOptions are a Consumer's optional collaborators.
type ConsumerOptions struct {
	// Gate, if set, says whether the handler's dependency (e.g. Redis) is
	// up. It is asked only after the handler failed with a transient
	// error, never before an attempt, so a message handled at the first
	// attempt costs no gate call. If it then fails, the failure is put
	// down to the dependency and consumption pauses: assigned partitions
	// are paused, the consumer keeps polling (so the group does not evict
	// it), no retry budget is spent and nothing is dead-lettered, and it
	// resumes by itself when Gate succeeds again, re-handling the message
	// in hand. If it passes, the failure is retried, with backoff, within
	// the budget. Each call gets a context with a 5s timeout.
	Gate func(ctx context.Context) error
	// Batch, if set, handles the messages that are already fetched when
	// the loop takes one, up to maxBatch at a time, instead of the Handler
	// one by one; the Handler is still called for a message the batch
	// failed on, and for its retries. A message that waits alone costs no
	// more than with the Handler: gathering never waits for more.
	Batch BatchHandler
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
	batch   BatchHandler
	gate    func(context.Context) error
	logger  *slog.Logger
	metrics *consumerMetrics
	kc      *ckafka.Consumer
	dlt     *Producer
	tel     telemetry

	started atomic.Bool

	// logsDone is closed once librdkafka's log lines are all written,
	// after kc is closed; every holds back repeated client errors.
	logsDone <-chan struct{}
	every    *logging.Every

	// closeMu guards closed and the closing of kc against Ping, which a
	// readiness probe calls from another goroutine while Run may be closing
	// the client; confluent-kafka-go's own closed flag is not synchronised.
	closeMu sync.RWMutex
	closed  bool

	// The loop state below is touched only by the goroutine running Run:
	// librdkafka calls the rebalance callback from inside Poll and Close,
	// on that goroutine. So it needs no lock.

	// inHand is the message going through the Handler's path; its km is
	// nil between such messages.
	inHand taken
	// epoch counts, per partition, the revocations of that partition: a
	// message taken in an earlier epoch belongs to a partition that was
	// revoked since (during a hold, or while a batch was gathered), which
	// another member may now own, so it must be dropped without storing
	// its offset.
	epoch map[int32]uint64
	// gathered is gather's buffer, reused from one round to the next.
	gathered []taken
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
		"session.timeout.ms": 10000,
		// librdkafka's own log lines go through the service's logger.
		"go.logs.channel.enable": true,
		// librdkafka prefetches up to 64 MB per partition by default
		// (queued.max.messages.kbytes); a lagging consumer held tens of MB
		// of events it would only reach seconds later. 1 MB per partition,
		// a few thousand events, keeps the next fetch ready without that.
		"queued.max.messages.kbytes": 1024,
	}
	// Extra comes last, so a setting the struct lacks can still refine
	// the security ones (ssl.endpoint.identification.algorithm, say).
	cfg.Security.apply(cm)
	for k, v := range cfg.Extra {
		cm[k] = v
	}
	kc, err := ckafka.NewConsumer(&cm)
	if err != nil {
		return nil, fmt.Errorf("cannot create kafka consumer: %w", err)
	}
	dlt, err := newDeadLetterProducer(cfg, logger)
	if err != nil {
		_ = kc.Close()
		return nil, fmt.Errorf("cannot create dead-letter producer: %w", err)
	}
	return &Consumer{
		logsDone: forwardLogs(kc.Logs(), logger),
		every:    logging.NewEvery(repeatInterval),
		cfg:      cfg,
		handler:  h,
		batch:    opts.Batch,
		gate:     opts.Gate,
		logger:   logger,
		metrics:  metrics,
		kc:       kc,
		dlt:      dlt,
		tel:      newTelemetry(),
		next:     map[int32]int64{},
		rewind:   map[int32]int64{},
		epoch:    map[int32]uint64{},
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
	c.logger.Info("kafka consumer started", "dead_letter_topic", c.cfg.DeadLetterTopic)
	for ctx.Err() == nil && c.fatal == nil {
		if c.batch != nil {
			c.handleBatch(ctx, c.gather(maxBatch))
			continue
		}
		for _, t := range c.gather(1) {
			c.process(ctx, t, toMessage(t.km), nil)
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
	timeout := pingTimeout
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
	<-c.logsDone
	c.dlt.Close(5 * time.Second)
	return errors.Join(errs...)
}

// poll waits up to timeout for the next event and returns it if it is a
// message. Rebalances are handled by c.rebalance from inside Poll.
func (c *Consumer) poll(timeout time.Duration) *ckafka.Message {
	c.refreshLag()
	switch e := c.kc.Poll(int(timeout / time.Millisecond)).(type) {
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
			clientError(c.logger, c.every, "kafka consumer error", e)
		}
	}
	return nil
}

// taken is a message taken for handling, with its partition's epoch then.
type taken struct {
	km    *ckafka.Message
	epoch uint64
}

// gather waits up to pollTimeout for a message, then adds those already
// fetched, without waiting, up to limit in all. Each is taken: the
// partition's next offset moves past it (see hold) and it counts as
// consumed. The slice is valid until the next call.
func (c *Consumer) gather(limit int) []taken {
	batch := c.gathered[:0]
	for km := c.poll(pollTimeout); km != nil; km = c.poll(0) {
		p := km.TopicPartition.Partition
		c.next[p] = int64(km.TopicPartition.Offset) + 1
		batch = append(batch, taken{km: km, epoch: c.epoch[p]})
		if len(batch) == limit || c.fatal != nil {
			break
		}
	}
	if len(batch) > 0 {
		c.metrics.consumed.WithLabelValues(c.cfg.Topic).Add(float64(len(batch)))
	}
	c.gathered = batch
	return batch
}

// revoked reports whether t's partition was revoked since t was taken.
func (c *Consumer) revoked(t taken) bool {
	if t.km == nil {
		return false
	}
	return c.epoch[t.km.TopicPartition.Partition] != t.epoch
}

// attempt is a failed first attempt made in a batch, handed on to process
// with the message's span.
type attempt struct {
	ctx  context.Context
	span trace.Span
	err  error
}

// process runs the handler on m (t's message) until it succeeds, fails
// permanently or runs out of retry budget, as decide rules, and stores
// m's offset once m is done with (handled, or its dead-letter copy
// acknowledged). It returns without storing when ctx ends between
// attempts or m's partition is revoked during a hold: m is then
// redelivered, here or elsewhere. first, if not nil, is m's first
// attempt, made and failed in a batch.
func (c *Consumer) process(ctx context.Context, t taken, m Message, first *attempt) {
	c.inHand = t
	defer func() { c.inHand = taken{} }()
	// c.logger already carries the topic.
	log := c.logger.With("partition", m.Partition, "offset", m.Offset)
	// The handler's context does not end with ctx: on shutdown the message
	// in hand is finished rather than cut off half-way. It carries the
	// message's consumer span, which covers every attempt and the
	// dead-lettering.
	var (
		hctx context.Context
		span trace.Span
	)
	if first != nil {
		hctx, span = first.ctx, first.span
	} else {
		hctx, span = c.tel.startProcess(context.WithoutCancel(ctx), c.cfg.GroupID, m)
	}
	defer span.End()
	// ctx with the span in it: it still ends with the consumer, and the
	// dead-letter publish made under it is a child of the span.
	sctx := trace.ContextWithSpan(ctx, span)
	var (
		attempts int
		panics   int   // attempts in a row that panicked
		err      error // of the last attempt
	)
	for {
		if attempts > 0 {
			c.metrics.retried.WithLabelValues(c.cfg.Topic).Inc()
		}
		attempts++
		// The handler is called without asking the gate first: on the happy
		// path the gate costs nothing. It is asked only below, once an
		// attempt failed.
		if attempts == 1 && first != nil {
			err = first.err
		} else {
			err = c.call(hctx, m)
		}
		if err == nil {
			c.metrics.handled.WithLabelValues(c.cfg.Topic).Inc()
			c.store(t, log)
			return
		}
		span.RecordError(err, trace.WithAttributes(attribute.Int("attempt", attempts)))
		if errors.As(err, new(*panicError)) {
			panics++
		} else {
			panics = 0
		}
		// A Permanent error dead-letters whatever the gate says, so the
		// gate is asked about transient errors only.
		var gerr error
		if c.gate != nil && !IsPermanent(err) {
			gerr = c.checkGate(ctx)
		}
		d := decide(err, attempts, panics, gerr == nil)
		if d.action == deadLetter {
			c.metrics.failed.WithLabelValues(c.cfg.Topic, "permanent").Inc()
			log.WarnContext(hctx, "kafka message cannot be handled, dead-lettering it", "error", err, "attempt", attempts, "reason", d.reason)
			span.SetStatus(codes.Error, "dead-lettered ("+d.reason+"): "+err.Error())
			c.deadLetter(sctx, t, m, err, attempts, d.reason, log)
			return
		}
		c.metrics.failed.WithLabelValues(c.cfg.Topic, "transient").Inc()
		// Stopping is not the policy's business: a message whose last error
		// was transient is left for redelivery.
		if ctx.Err() != nil {
			log.InfoContext(hctx, "kafka consumer stopping, message left for redelivery", "error", err, "attempt", attempts)
			span.AddEvent("left for redelivery")
			return
		}
		if d.action == hold {
			// The dependency is down: the message is retried at once when
			// the gate passes again.
			c.logRetry(hctx, log, "kafka handler failed and its dependency is down", err, attempts)
			span.AddEvent("held for the gate")
			if !c.holdForGate(ctx, log, gerr) {
				return
			}
			continue
		}
		c.logRetry(hctx, log, "kafka handler failed, retrying", err, attempts, "retry_in", d.backoff)
		// Held, not slept: the wait may repeat for as long as the
		// dependency refuses, far beyond max.poll.interval.ms, so the
		// partitions are paused and the loop keeps polling, and the group
		// keeps this member.
		until := time.Now().Add(d.backoff)
		if !c.hold(ctx, func() bool { return !time.Now().Before(until) }) {
			log.InfoContext(hctx, "kafka consumer stopping, message left for redelivery", "attempt", attempts)
			span.AddEvent("left for redelivery")
			return
		}
	}
}

// logRetry logs a failed attempt that will be retried: the first few of a
// message each, then one line per repeatInterval with how many were held
// back, since a dependency that refuses for an hour fails an attempt every
// few seconds all along.
func (c *Consumer) logRetry(ctx context.Context, log *slog.Logger, msg string, err error, attempts int, attrs ...any) {
	if attempts > 3 {
		ok, suppressed := c.every.Allow(msg)
		if !ok {
			return
		}
		attrs = append(attrs, "repeated", suppressed)
	}
	log.InfoContext(ctx, msg, append([]any{"error", err, "attempt", attempts}, attrs...)...)
}

// call runs the handler, turning a panic into a (transient) error: a
// handler bug triggered by one record then costs that record a trip to the
// dead-letter topic, instead of crashing every replica in turn as the
// record is redelivered to each.
func (c *Consumer) call(ctx context.Context, m Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.logger.ErrorContext(ctx, "kafka handler panicked", "partition", m.Partition, "offset", m.Offset, "panic", r, "stack", string(debug.Stack()))
			err = &panicError{value: r}
		}
	}()
	t := time.Now()
	defer func() { c.metrics.duration.WithLabelValues(c.cfg.Topic).Observe(time.Since(t).Seconds()) }()
	return c.handler(ctx, m)
}

// panicError is a handler's panic, recovered: decide counts them.
type panicError struct{ value any }

func (e *panicError) Error() string { return fmt.Sprintf("handler panicked: %v", e.value) }

// store stores t's offset for the next commit. Callers call it only once
// t is done with (handled, or its dead-letter copy acknowledged): storing
// is what lets the group move past t, so storing any earlier could lose
// it if the process died in between.
func (c *Consumer) store(t taken, log *slog.Logger) {
	if c.revoked(t) {
		// The partition's new owner starts from the last commit and handles
		// the message again; storing would fail anyway.
		log.Info("partition revoked while the message was in hand, offset not stored")
		return
	}
	if _, err := c.kc.StoreMessage(t.km); err != nil {
		log.Warn("cannot store kafka offset, message will be redelivered", "error", err)
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

// isNoOffset reports the error Commit returns when nothing new was stored.
func isNoOffset(err error) bool {
	var kerr ckafka.Error
	return errors.As(err, &kerr) && kerr.Code() == ckafka.ErrNoOffset
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
