package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/pkg/tracing"
)

// instrumentationName is the tracer's scope: this package.
const instrumentationName = "github.com/order-tracking/platform/services/orders-service/internal/outbox"

// Config configures a Relay. config.Load fills it from the environment;
// a zero field means its default (see SetDefaults).
type Config struct {
	// Topic receives every event.
	Topic string `env:"KAFKA_TOPIC"`
	// BatchSize is how many rows one read takes and one publish sends.
	BatchSize int `env:"OUTBOX_BATCH_SIZE"`
	// InFlight is how many batches may wait for Kafka's acknowledgements
	// at once: the relay reads and sends the next batch while earlier ones
	// are still unacknowledged, so its rate is not one batch per
	// acknowledgement round trip.
	InFlight int `env:"OUTBOX_IN_FLIGHT"`
	// PollInterval is the fallback when a notification is missed (for
	// example while the relay's connection was being re-established), and
	// how often a standby replica tries to become the active relay.
	PollInterval time.Duration `env:"OUTBOX_POLL_INTERVAL"`
	// LockID is the PostgreSQL advisory lock that elects the one active relay.
	LockID int64 `env:"OUTBOX_LOCK_ID"`
	// VacuumAfter is how many rows the relay deletes before it has the
	// outbox vacuumed, once it has caught up (or after ten times as many
	// during a long backlog). See Relay.vacuum for why autovacuum is not
	// enough.
	VacuumAfter int `env:"OUTBOX_VACUUM_AFTER"`
	// LeaseTimeout is how long the active relay may go without a word to
	// PostgreSQL before PostgreSQL ends its session, and with it the
	// relay lock, so that a standby takes over: a relay that is frozen
	// (SIGSTOP, a stalled node) or cut off keeps a live TCP connection,
	// and would otherwise hold the lock until the kernel gave up on it,
	// minutes later. A working relay speaks at least every PollInterval.
	LeaseTimeout time.Duration `env:"OUTBOX_LEASE_TIMEOUT"`
}

// SetDefaults fills the fields left at zero: events.Topic (the consumers'
// default too), 200 rows a batch, 4 batches in flight, a 1s poll, lock
// 727274, a vacuum every 2,000 rows deleted. config.Load calls
// it before reading the environment, and NewRelay calls it too, so a Config
// literal needs only what differs. Only zero is filled: a negative value is
// a mistake for Validate to report, not a request for the default.
func (c *Config) SetDefaults() {
	if c.Topic == "" {
		c.Topic = events.Topic
	}
	if c.BatchSize == 0 {
		c.BatchSize = 200
	}
	if c.InFlight == 0 {
		c.InFlight = 4
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.LockID == 0 {
		c.LockID = 727274
	}
	if c.VacuumAfter == 0 {
		c.VacuumAfter = 2000
	}
	if c.LeaseTimeout == 0 {
		c.LeaseTimeout = 10 * time.Second
	}
}

// Validate reports every setting that cannot work, at once.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Topic) == "" {
		errs = append(errs, errors.New("KAFKA_TOPIC must not be empty"))
	}
	if c.BatchSize <= 0 {
		errs = append(errs, fmt.Errorf("OUTBOX_BATCH_SIZE must be positive, got %d", c.BatchSize))
	}
	if c.InFlight <= 0 {
		errs = append(errs, fmt.Errorf("OUTBOX_IN_FLIGHT must be positive, got %d", c.InFlight))
	}
	if c.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("OUTBOX_POLL_INTERVAL must be positive, got %s", c.PollInterval))
	}
	if c.VacuumAfter <= 0 {
		errs = append(errs, fmt.Errorf("OUTBOX_VACUUM_AFTER must be positive, got %d", c.VacuumAfter))
	}
	if c.LeaseTimeout < 2*c.PollInterval+time.Second {
		errs = append(errs, fmt.Errorf("OUTBOX_LEASE_TIMEOUT must be at least twice OUTBOX_POLL_INTERVAL plus 1s (%s), got %s", 2*c.PollInterval+time.Second, c.LeaseTimeout))
	}
	// Zero is what an unset field means, so an explicit 0 would silently
	// become the default lock after all; refuse it instead.
	if c.LockID == 0 {
		errs = append(errs, errors.New("OUTBOX_LOCK_ID must not be 0"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid outbox config: %w", err)
	}
	return nil
}

// Publisher sends messages: *kafka.Producer. Send hands msgs to the
// broker's client in order and returns at once; the returned function
// waits and reports, per message, whether the broker took it. Messages of
// one partition must reach the broker in the order of the Send calls.
type Publisher interface {
	Send(ctx context.Context, msgs []kafka.Message) (wait func() []error)
}

// Relay publishes outbox rows. Run it in every replica: a PostgreSQL
// advisory lock lets exactly one of them publish at a time, and another takes
// over when that one's connection ends.
type Relay struct {
	cfg    Config
	pool   *pgxpool.Pool
	pub    Publisher
	logger *slog.Logger
	wakeup *Wakeup

	// deleted counts the rows deleted since the last vacuum; touched by
	// Run's goroutine only.
	deleted int
}

// NewRelay returns a relay reading what Enqueue wrote from pool and
// publishing it with pub. Zero fields of cfg take their defaults; it fails
// when cfg cannot work. w, shared with the order store of this process,
// lets that store's writes wake the relay without NOTIFY while it is the
// active one; nil means the relay hears only NOTIFY and its polls.
func NewRelay(cfg Config, pool *pgxpool.Pool, pub Publisher, logger *slog.Logger, w *Wakeup) (*Relay, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if w == nil {
		w = NewWakeup() // never leading for any writer: nothing skips NOTIFY
	}
	return &Relay{cfg: cfg, pool: pool, pub: pub, logger: logger, wakeup: w}, nil
}

// Run relays until ctx ends. Errors (database or broker away) are logged
// and retried with backoff; Run returns only when ctx is done.
func (r *Relay) Run(ctx context.Context) error {
	backoff := r.cfg.PollInterval
	for ctx.Err() == nil {
		led, err := r.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if led {
			// A session that worked starts the backoff over: one long outage
			// must not slow the recovery from every later blip.
			backoff = r.cfg.PollInterval
		}
		r.logger.Warn("outbox relay session ended, retrying", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
	return nil
}

// session owns one connection for as long as it works: the advisory lock and
// LISTEN are tied to it, so when it breaks both are released together. led
// reports whether it became the active relay.
func (r *Relay) session(ctx context.Context) (led bool, err error) {
	pc, err := r.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("cannot acquire connection: %w", err)
	}
	// Hijacked: the pool must never hand out a connection holding our lock.
	conn := pc.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))

	// PostgreSQL ends a session idle for longer than LeaseTimeout: the
	// relay's lease. A relay that stops speaking (frozen) loses its lock
	// to a standby within it, and when it wakes finds its session gone: its
	// next statement fails before it can delete a row, and it starts over
	// as a standby. A working relay speaks every PollInterval at least.
	if _, err := conn.Exec(ctx, "SELECT set_config('idle_session_timeout', $1, false)",
		strconv.FormatInt(r.cfg.LeaseTimeout.Milliseconds(), 10)); err != nil {
		return false, fmt.Errorf("cannot set the relay's lease (idle_session_timeout, PostgreSQL 14 or later): %w", err)
	}
	if err := r.becomeLeader(ctx, conn); err != nil {
		return false, err
	}
	r.logger.Info("outbox relay active", "topic", r.cfg.Topic)
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return true, fmt.Errorf("cannot listen for outbox notifications: %w", err)
	}
	// Only now may this process's writes skip NOTIFY: from here on either
	// the wake-up or the round below sees them. A write that skipped it
	// just before the session ends is found by the next active relay's
	// first round, which reads every row left.
	r.wakeup.leading.Store(true)
	defer r.wakeup.leading.Store(false)
	for {
		caughtUp, err := r.pass(ctx, conn)
		if err != nil {
			return true, err
		}
		if !caughtUp {
			continue // more rows are waiting
		}
		if r.deleted >= r.cfg.VacuumAfter {
			r.vacuum(ctx, conn)
		}
		if err := r.wait(ctx, conn); err != nil {
			return true, err
		}
	}
}

// wait returns after a NOTIFY, a wake-up from this process's writers or
// PollInterval, whichever comes first.
func (r *Relay) wait(ctx context.Context, conn *pgx.Conn) error {
	wctx, cancel := context.WithTimeout(ctx, r.cfg.PollInterval)
	defer cancel()
	woken := make(chan struct{})
	go func() {
		defer close(woken)
		select {
		case <-r.wakeup.wake:
			// Cancelling the wait sets a deadline on the connection's
			// read; pgconn keeps the connection usable after it.
			cancel()
		case <-wctx.Done():
		}
	}()
	_, err := conn.WaitForNotification(wctx)
	cancel()
	<-woken // the goroutine ends with the wait: nothing outlives a round
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return nil
	}
	return fmt.Errorf("cannot wait for outbox notification: %w", err)
}

// becomeLeader waits until this connection holds the relay's advisory lock.
func (r *Relay) becomeLeader(ctx context.Context, conn *pgx.Conn) error {
	for {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", r.cfg.LockID).Scan(&ok); err != nil {
			return fmt.Errorf("cannot try relay lock: %w", err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.cfg.PollInterval):
		}
	}
}

type row struct {
	id          int64
	key         []byte
	payload     []byte
	headers     []byte
	traceparent *string
}

// pass publishes what the outbox holds, oldest first, and deletes the rows
// the broker acknowledged. It reads from the start of the table rather
// than "after the last id seen", so that a transaction that took a lower
// id but committed later is never skipped. Rows of one order are committed
// in id order (see Enqueue), so reading by id keeps each order's events in
// commit order.
//
// Within a pass the reads are pipelined: while up to InFlight batches wait
// for their acknowledgements, the next read takes the rows after the last
// one in flight, and batches are settled (their acknowledged rows deleted)
// oldest first. Such a read would put an order's event ahead of an earlier
// one if that earlier row, with an id below the ones in flight, committed
// only after they were read: so the same statement counts the rows at or
// below the last id in flight. More than are in flight means a late row;
// the batch is not sent and the pass ends once nothing is in flight, for
// the next one to read from the start. (The later event committed after
// the earlier one, so a snapshot that sees it sees the earlier one too.)
// The pass also ends when a read comes back short: caughtUp, the caller
// waits for a wake-up.
//
// Only the acknowledged prefix of the batches, in order, is deleted: at
// the first message the broker did not take, the pass waits for what is
// still in flight, deletes none of it and returns the error, and the next
// session reads that row and every later one again. No order's events are
// reordered for good, at the cost of duplicates, which the consumers
// absorb by version.
func (r *Relay) pass(ctx context.Context, conn *pgx.Conn) (caughtUp bool, err error) {
	var inFlight []*flight
	defer func() {
		// Reached with flights left only on an error: they are waited for,
		// so that no publish outlives the session, and kept.
		for _, f := range inFlight {
			<-f.done
			f.end(errors.New("abandoned: an earlier batch failed"))
		}
	}()
	var after int64 // the last id in flight
	late := false   // a row below after committed late: end the pass
	for {
		if !caughtUp && !late && len(inFlight) < r.cfg.InFlight {
			batch, below, err := r.read(ctx, conn, after)
			if err != nil {
				return false, err
			}
			if below > rowsOf(inFlight) {
				late = true
				continue
			}
			caughtUp = len(batch) < r.cfg.BatchSize
			if len(batch) > 0 {
				inFlight = append(inFlight, r.send(ctx, batch))
				after = batch[len(batch)-1].id
			}
			continue
		}
		if len(inFlight) == 0 {
			return caughtUp, nil
		}
		f := inFlight[0]
		inFlight = inFlight[1:]
		if err := r.settle(ctx, conn, f); err != nil {
			return false, err
		}
		if r.deleted >= 10*r.cfg.VacuumAfter {
			// A backlog long enough for the reads to slow down: the flights
			// left wait at the broker meanwhile.
			r.vacuum(ctx, conn)
		}
	}
}

// vacuumTimeout bounds one vacuum. A vacuum cut off by it breaks the
// relay's connection (pgconn gives up on it), which ends the session; the
// next one starts over.
const vacuumTimeout = time.Minute

// vacuum has PostgreSQL vacuum the outbox. Every row the relay deletes
// stays in the table and its index as a dead tuple until a vacuum, and
// read scans the index from the lowest id (to find rows that committed
// late): after a burst of 30,000 events each read walked every dead
// entry, 13 ms a read where 0.1 ms is usual, until autovacuum came round,
// which it does per database once a minute at most (autovacuum_naptime).
// The outbox is small once drained, so its vacuum takes milliseconds. A
// role that does not own the table gets a warning from PostgreSQL, not an
// error, and autovacuum remains.
func (r *Relay) vacuum(ctx context.Context, conn *pgx.Conn) {
	vctx, cancel := context.WithTimeout(ctx, vacuumTimeout)
	defer cancel()
	t := time.Now()
	if _, err := conn.Exec(vctx, "VACUUM outbox"); err != nil {
		r.logger.Warn("cannot vacuum the outbox", "error", err)
	} else {
		r.logger.Debug("outbox vacuumed", "rows_deleted_since", r.deleted, "took", time.Since(t))
	}
	r.deleted = 0
}

// rowsOf is how many rows the flights carry.
func rowsOf(fs []*flight) (n int64) {
	for _, f := range fs {
		n += int64(len(f.ids))
	}
	return n
}

// read returns the oldest rows whose id is above after, at most BatchSize,
// and, in the same snapshot, how many rows have an id at or below after.
func (r *Relay) read(ctx context.Context, conn *pgx.Conn, after int64) (batch []row, below int64, err error) {
	rows, err := conn.Query(ctx, `SELECT id, message_key, payload, headers, traceparent, (SELECT count(*) FROM outbox WHERE id <= $1)
		FROM outbox WHERE id > $1 ORDER BY id LIMIT $2`, after, r.cfg.BatchSize)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot read outbox: %w", err)
	}
	batch, err = pgx.CollectRows(rows, func(rw pgx.CollectableRow) (row, error) {
		var x row
		err := rw.Scan(&x.id, &x.key, &x.payload, &x.headers, &x.traceparent, &below)
		return x, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("cannot read outbox: %w", err)
	}
	return batch, below, nil
}

// await waits for f's acknowledgements, renewing the relay's lease (see
// Config.LeaseTimeout) while it waits: with the broker slow or down an
// acknowledgement can take up to the producer's delivery timeout, and a
// session that stayed silent that long would be ended as a frozen one. The
// flight itself is not abandoned on an error: the caller's cleanup waits
// for it.
func (r *Relay) await(ctx context.Context, conn *pgx.Conn, f *flight) error {
	renew := time.NewTicker(r.cfg.LeaseTimeout / 3)
	defer renew.Stop()
	for {
		select {
		case <-f.done:
			return nil
		case <-renew.C:
			if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
				<-f.done
				return fmt.Errorf("cannot renew the relay's lease: %w", err)
			}
		}
	}
}

// flight is one batch on its way to Kafka.
type flight struct {
	ids  []int64
	span trace.Span
	// errs, one per row, is set before done is closed.
	errs []error
	done chan struct{}
}

// end ends the batch's span; err is the batch's failure, if any.
func (f *flight) end(err error) {
	if err != nil {
		f.span.RecordError(err)
		f.span.SetStatus(codes.Error, err.Error())
	}
	f.span.End()
}

// send starts publishing batch and returns at once; the flight's done
// closes when the broker has answered for every row (or the producer's
// delivery timeout, or ctx, ended the wait).
//
// Each row's traceparent goes into its message's headers: the publish span
// then continues the trace of the request that changed the order. The
// batch has a span of its own, "outbox relay", linked to those requests.
// A row whose headers do not parse is sent without them rather than
// holding up every later event: it cannot happen with rows Enqueue wrote.
func (r *Relay) send(ctx context.Context, batch []row) *flight {
	msgs := make([]kafka.Message, len(batch))
	ids := make([]int64, len(batch))
	var links []trace.Link
	for i, x := range batch {
		ids[i] = x.id
		var hs []events.Header
		if err := json.Unmarshal(x.headers, &hs); err != nil {
			r.logger.Error("outbox row has unreadable headers, publishing it without them", "id", x.id, "error", err)
		}
		msgs[i] = kafka.Message{Topic: r.cfg.Topic, Key: x.key, Value: x.payload, Headers: kafka.EventHeaders(hs, 1)}
		if x.traceparent == nil {
			continue
		}
		if sc := tracing.SpanContextFromTraceparent(*x.traceparent); sc.IsValid() {
			msgs[i].Headers = append(msgs[i].Headers, kafka.Header{Key: tracing.HeaderTraceparent, Value: []byte(*x.traceparent)})
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	ctx, span := otel.Tracer(instrumentationName).Start(ctx, "outbox relay",
		trace.WithLinks(links...),
		trace.WithAttributes(semconv.MessagingDestinationName(r.cfg.Topic), semconv.MessagingBatchMessageCount(len(batch))))
	f := &flight{ids: ids, span: span, done: make(chan struct{})}
	// Sent here, in the relay's goroutine, so that batches reach the
	// producer in id order; only the wait for the broker runs beside it.
	wait := r.pub.Send(ctx, msgs)
	go func() {
		defer close(f.done)
		f.errs = wait()
	}()
	return f
}

// settle waits for f's acknowledgements and deletes the acknowledged
// prefix of its rows; it fails, after deleting that prefix, if any row was
// not acknowledged.
func (r *Relay) settle(ctx context.Context, conn *pgx.Conn, f *flight) (err error) {
	if err := r.await(ctx, conn, f); err != nil {
		f.end(err)
		return err
	}
	defer func() { f.end(err) }()
	done := f.ids
	var firstErr error
	for i, e := range f.errs {
		if e != nil {
			done, firstErr = f.ids[:i], e
			break
		}
	}
	if len(done) > 0 {
		if _, err := conn.Exec(ctx, "DELETE FROM outbox WHERE id = ANY($1)", done); err != nil {
			return fmt.Errorf("cannot delete published outbox rows: %w", err)
		}
		r.deleted += len(done)
	}
	if firstErr != nil {
		return fmt.Errorf("cannot publish outbox rows: %w", firstErr)
	}
	return nil
}
