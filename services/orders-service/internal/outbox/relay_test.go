package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/kafka"
	pg "github.com/order-tracking/platform/pkg/postgres"
	"github.com/order-tracking/platform/pkg/testinfra"
	"github.com/order-tracking/platform/pkg/tracing"
	"github.com/order-tracking/platform/services/orders-service/internal/orders"
	"github.com/order-tracking/platform/services/orders-service/internal/outbox"
	"github.com/order-tracking/platform/services/orders-service/internal/postgres"
	"github.com/order-tracking/platform/services/orders-service/internal/postgres/postgrestest"
)

// pollInterval is the relays' fallback poll: short, so a test never waits
// long for a row whose notification it did not get.
const pollInterval = 100 * time.Millisecond

// fixture is one test's own database, store and topic.
type fixture struct {
	pool    *pgxpool.Pool
	wakeup  *outbox.Wakeup // shared by store and relays, as in orders-service
	store   *postgres.OrderStore
	svc     *orders.Service
	brokers string
	topic   string
}

func newFixture(t *testing.T, brokers string) *fixture {
	t.Helper()
	pool := postgrestest.NewPool(t)
	w := outbox.NewWakeup()
	store := postgres.NewOrderStore(pool, postgres.StoreOptions{Source: "/orders-service-test", Wakeup: w})
	return &fixture{
		pool:    pool,
		wakeup:  w,
		store:   store,
		svc:     orders.NewService(store),
		brokers: brokers,
		topic:   testinfra.UniqueName("order-events-test-"),
	}
}

// newTopicFixture is the start of most tests here: a fixture on the shared
// broker, a producer, its topic created, and a collector reading it.
func newTopicFixture(t *testing.T) (*fixture, *kafka.Producer, *collector) {
	t.Helper()
	f := newFixture(t, testinfra.KafkaBrokers(t))
	p := f.newProducer(t)
	f.createTopic(t, p)
	return f, p, f.consume(t)
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newProducer returns a producer on f's brokers, closed when the test ends.
// The delivery timeout is short so that a batch sent while the broker is
// away fails, and is retried, within seconds.
func (f *fixture) newProducer(t *testing.T) *kafka.Producer {
	t.Helper()
	p, err := kafka.NewProducer(kafka.ProducerConfig{
		Brokers:         f.brokers,
		ClientID:        "outbox-relay-test",
		DeliveryTimeout: 5 * time.Second,
	}, testLogger(t))
	if err != nil {
		t.Fatalf("cannot create producer: %v", err)
	}
	t.Cleanup(func() { p.Close(5 * time.Second) })
	return p
}

// createTopic creates f's topic with 3 partitions, so that events of
// different orders travel on different partitions, and deletes it when the
// test ends.
func (f *fixture) createTopic(t *testing.T, p *kafka.Producer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := p.EnsureTopic(ctx, f.topic, 3); err != nil {
		t.Fatalf("cannot create topic: %v", err)
	}
	t.Cleanup(func() {
		admin, err := ckafka.NewAdminClient(&ckafka.ConfigMap{"bootstrap.servers": f.brokers})
		if err != nil {
			t.Logf("cannot delete topic %s: %v", f.topic, err)
			return
		}
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.DeleteTopics(ctx, []string{f.topic}); err != nil {
			t.Logf("cannot delete topic %s: %v", f.topic, err)
		}
	})
}

// countingPublisher counts, per message, what the broker answered, so a
// test can tell which relay published and whether a send failed.
type countingPublisher struct {
	pub       outbox.Publisher
	published atomic.Int64
	failed    atomic.Int64
}

func (c *countingPublisher) Send(ctx context.Context, msgs []kafka.Message) func() []error {
	wait := c.pub.Send(ctx, msgs)
	return func() []error {
		errs := wait()
		for _, err := range errs {
			if err == nil {
				c.published.Add(1)
			} else {
				c.failed.Add(1)
			}
		}
		return errs
	}
}

// startRelay runs a relay over f's database in a goroutine owned by the
// test. The returned stop cancels it and waits for Run to return; it also
// runs when the test ends, and may be called more than once.
func (f *fixture) startRelay(t *testing.T, pub outbox.Publisher, lockID int64) (stop func()) {
	t.Helper()
	return f.startRelayPolling(t, pub, lockID, pollInterval)
}

// startRelayPolling is startRelay with the relay's fallback poll interval.
func (f *fixture) startRelayPolling(t *testing.T, pub outbox.Publisher, lockID int64, poll time.Duration) (stop func()) {
	t.Helper()
	return f.startRelayConfig(t, pub, outbox.Config{PollInterval: poll, LockID: lockID})
}

// startRelayConfig is startRelay with cfg (its topic is f's; a zero poll
// interval is pollInterval).
func (f *fixture) startRelayConfig(t *testing.T, pub outbox.Publisher, cfg outbox.Config) (stop func()) {
	t.Helper()
	return f.startRelayOn(t, f.pool, pub, cfg)
}

// startRelayOn is startRelayConfig over pool instead of f's.
func (f *fixture) startRelayOn(t *testing.T, pool *pgxpool.Pool, pub outbox.Publisher, cfg outbox.Config) (stop func()) {
	t.Helper()
	cfg.Topic = f.topic
	if cfg.PollInterval == 0 {
		cfg.PollInterval = pollInterval
	}
	r, err := outbox.NewRelay(cfg, pool, pub, testLogger(t), f.wakeup)
	if err != nil {
		t.Fatalf("cannot create relay: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("relay Run: got error %v, want nil after cancel", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("relay Run did not return within 30s of its context's end")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// received is one record as a consumer saw it.
type received struct {
	event     events.Event
	partition int32
}

// collector consumes a topic from the beginning in a goroutine owned by the
// test and keeps every decoded event in arrival order; mu guards all of it.
type collector struct {
	mu        sync.Mutex
	got       []received
	decodeErr []error
}

func (f *fixture) consume(t *testing.T) *collector {
	t.Helper()
	c, err := ckafka.NewConsumer(&ckafka.ConfigMap{
		"bootstrap.servers":  f.brokers,
		"group.id":           testinfra.UniqueName("outbox-relay-test-"),
		"auto.offset.reset":  "earliest",
		"enable.auto.commit": false,
		// The topic is brand new; do not wait minutes for its metadata.
		"topic.metadata.refresh.interval.ms": 1000,
	})
	if err != nil {
		t.Fatalf("cannot create consumer: %v", err)
	}
	if err := c.Subscribe(f.topic, nil); err != nil {
		c.Close()
		t.Fatalf("cannot subscribe to %s: %v", f.topic, err)
	}
	col := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			msg, err := c.ReadMessage(100 * time.Millisecond)
			if err != nil {
				// Timeouts, and broker connection errors while a broker is
				// away: the client reconnects by itself.
				continue
			}
			hs := make([]events.Header, len(msg.Headers))
			for i, h := range msg.Headers {
				hs[i] = events.Header{Key: h.Key, Value: h.Value}
			}
			e, err := events.Decode(hs, msg.Value)
			col.mu.Lock()
			if err != nil {
				col.decodeErr = append(col.decodeErr, fmt.Errorf("offset %v: %w", msg.TopicPartition, err))
			} else {
				if string(msg.Key) != string(e.Key()) {
					col.decodeErr = append(col.decodeErr, fmt.Errorf("got key %q, want %q", msg.Key, e.Key()))
				}
				col.got = append(col.got, received{event: e, partition: msg.TopicPartition.Partition})
			}
			col.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := c.Close(); err != nil {
			t.Logf("cannot close consumer: %v", err)
		}
		col.mu.Lock()
		defer col.mu.Unlock()
		for _, err := range col.decodeErr {
			t.Errorf("consumer: got %v, want every record to decode", err)
		}
	})
	return col
}

// events returns a copy of what arrived so far, in arrival order.
func (c *collector) events() []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// seen reports whether every event id in ids has arrived.
func (c *collector) seen(ids []string) (bool, string) {
	got := map[string]bool{}
	for _, r := range c.events() {
		got[r.event.ID] = true
	}
	missing := 0
	for _, id := range ids {
		if !got[id] {
			missing++
		}
	}
	return missing == 0, fmt.Sprintf("%d of %d events not consumed yet", missing, len(ids))
}

// change names one event by what it reports: an order at a version.
type change struct{ order, version int64 }

// seenChanges reports whether an event of every change in want has arrived.
// Tests that cannot read event ids before the relay deletes the rows name
// the events they expect this way.
func (c *collector) seenChanges(want []change) (bool, string) {
	got := map[change]bool{}
	for _, r := range c.events() {
		got[change{r.event.OrderID, r.event.Version}] = true
	}
	missing := 0
	for _, w := range want {
		if !got[w] {
			missing++
		}
	}
	return missing == 0, fmt.Sprintf("%d of %d events not consumed yet", missing, len(want))
}

// versionsByOrder returns, per order, the versions in arrival order.
func versionsByOrder(rs []received) map[int64][]int64 {
	out := map[int64][]int64{}
	for _, r := range rs {
		out[r.event.OrderID] = append(out[r.event.OrderID], r.event.Version)
	}
	return out
}

// upTo returns 1..n.
func upTo(n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

func (f *fixture) outboxCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(t.Context(), "SELECT count(*) FROM outbox").Scan(&n); err != nil {
		t.Fatalf("cannot count outbox rows: %v", err)
	}
	return n
}

// waitOutboxEmpty waits until the relay deleted every row; it deletes only
// after the broker acknowledged, so this trails the consumer a little.
func (f *fixture) waitOutboxEmpty(t *testing.T, timeout time.Duration) {
	t.Helper()
	testinfra.Eventually(t, timeout, func() (bool, string) {
		n := f.outboxCount(t)
		return n == 0, fmt.Sprintf("outbox holds %d rows, want 0", n)
	})
}

// eventIDs returns the ids of the outbox rows now present, in id order.
func (f *fixture) eventIDs(t *testing.T) []string {
	t.Helper()
	rows, err := f.pool.Query(t.Context(), "SELECT event_id::text FROM outbox ORDER BY id")
	if err != nil {
		t.Fatalf("cannot read outbox: %v", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatalf("cannot read outbox: %v", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("cannot read outbox: %v", err)
	}
	return ids
}

func (f *fixture) create(t *testing.T, name string) orders.Order {
	t.Helper()
	o, _, err := f.svc.Create(t.Context(), orders.Anyone, orders.CreateRequest{Order: orders.NewOrder{CustomerName: name, Item: "Book", Quantity: 1}})
	if err != nil {
		t.Fatalf("cannot create order: %v", err)
	}
	return o
}

// TestIntegrationRelayWakeUp checks both ways a write wakes the relay well
// before its poll: in-process, without NOTIFY, when the store shares the
// active relay's Wakeup; by NOTIFY when it does not (a write in another
// replica).
func TestIntegrationRelayWakeUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		shared     bool // the writing store shares the relay's Wakeup
		wantNotify bool
	}{
		{"same process: woken directly, no NOTIFY", true, false},
		{"other process: woken by NOTIFY", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testinfra.KafkaBrokers(t))
			p := f.newProducer(t)
			f.createTopic(t, p)
			col := f.consume(t)
			// A poll far beyond the test's deadline: only a wake-up gets
			// the event out in time. The lease must outlast the silence
			// between polls.
			f.startRelayConfig(t, p, outbox.Config{PollInterval: time.Hour, LeaseTimeout: 3 * time.Hour})
			store := f.store
			if !tt.shared {
				store = postgres.NewOrderStore(f.pool, postgres.StoreOptions{Source: "/orders-service-test"})
			}

			listener, err := f.pool.Acquire(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer listener.Release()
			if _, err := listener.Exec(t.Context(), "LISTEN outbox"); err != nil {
				t.Fatal(err)
			}
			// The relay leads (its first round ran) once a first event is
			// out; the order written after that is the one under test.
			first := f.create(t, "first")
			testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
				return len(col.events()) == 1, fmt.Sprintf("%d events, want the first order's", len(col.events()))
			})
			drain := func() int {
				n := 0
				for {
					ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
					_, err := listener.Conn().WaitForNotification(ctx)
					cancel()
					if err != nil {
						return n
					}
					n++
				}
			}
			drain()

			o, _, err := orders.NewService(store).Create(t.Context(), orders.Anyone, orders.CreateRequest{Order: orders.NewOrder{CustomerName: "second", Item: "Book", Quantity: 1}})
			if err != nil {
				t.Fatal(err)
			}
			testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
				got := versionsByOrder(col.events())
				return len(got[o.ID]) == 1, fmt.Sprintf("events of order %d: %v (first order %d)", o.ID, got[o.ID], first.ID)
			})
			if got := drain(); (got > 0) != tt.wantNotify {
				t.Errorf("got %d notifications for the write, want some: %v", got, tt.wantNotify)
			}
		})
	}
}

// TestIntegrationRelayKeepsCommitOrder commits many changes concurrently,
// several racing on the same order, and checks that every order's events
// reach the topic exactly once each and in version order.
func TestIntegrationRelayKeepsCommitOrder(t *testing.T) {
	t.Parallel()
	f, p, col := newTopicFixture(t)
	// Small batches, several in flight: the 200 events cross the pipeline
	// in about 30 batches, and every pass ends in the middle of the load.
	f.startRelayConfig(t, p, outbox.Config{BatchSize: 7, InFlight: 4})

	const workers, ordersPerWorker, othersPerWorker = 20, 2, 6
	// Every worker walks each order it touches along the whole delivery
	// path, so every order ends DELIVERED at version 5 however the workers
	// interleave: each step is accepted once, no-op or refused otherwise.
	path := []orders.Status{orders.StatusConfirmed, orders.StatusShipped, orders.StatusOutForDelivery, orders.StatusDelivered}
	const wantVersion = 5

	ids := make([][]int64, workers) // ids[w] is written by worker w only
	errs := make(chan error, workers*(ordersPerWorker+othersPerWorker)*len(path))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range ordersPerWorker {
				o, _, err := f.svc.Create(t.Context(), orders.Anyone, orders.CreateRequest{Order: orders.NewOrder{
					CustomerName: fmt.Sprintf("worker-%d", w), Item: fmt.Sprintf("item-%d", i), Quantity: 1,
				}})
				if err != nil {
					errs <- err
					return
				}
				ids[w] = append(ids[w], o.ID)
			}
		})
	}
	wg.Wait()
	all := slices.Concat(ids...)
	if len(all) != workers*ordersPerWorker {
		close(errs)
		for err := range errs {
			t.Errorf("create: got error %v, want none", err)
		}
		t.FailNow()
	}

	for w := range workers {
		// Its own orders, and some of the others' to race on.
		mine := slices.Clone(ids[w])
		for range othersPerWorker {
			mine = append(mine, all[rand.N(len(all))])
		}
		rand.Shuffle(len(mine), func(i, j int) { mine[i], mine[j] = mine[j], mine[i] })
		wg.Go(func() {
			for _, id := range mine {
				for _, to := range path {
					_, _, err := f.svc.UpdateStatus(t.Context(), orders.Anyone, id, to, nil)
					var te *orders.TransitionError
					if err != nil && !errors.As(err, &te) {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("update: got error %v, want none or a *TransitionError", err)
	}

	testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
		byOrder := versionsByOrder(col.events())
		done := 0
		for _, id := range all {
			if slices.Contains(byOrder[id], wantVersion) {
				done++
			}
		}
		return done == len(all), fmt.Sprintf("%d of %d orders have their last event (version %d) consumed", done, len(all), wantVersion)
	})
	f.waitOutboxEmpty(t, 30*time.Second)

	rs := col.events()
	byOrder := versionsByOrder(rs)
	for _, id := range all {
		if got := byOrder[id]; !slices.Equal(got, upTo(wantVersion)) {
			t.Errorf("order %d: got versions %v, want %v", id, got, upTo(wantVersion))
		}
	}
	if len(byOrder) != len(all) {
		t.Errorf("got events of %d orders, want %d", len(byOrder), len(all))
	}
	// Keying by order id keeps an order on one partition.
	partition := map[int64]int32{}
	for _, r := range rs {
		if p, ok := partition[r.event.OrderID]; ok && p != r.partition {
			t.Errorf("order %d: got events on partitions %d and %d, want one", r.event.OrderID, p, r.partition)
		}
		partition[r.event.OrderID] = r.partition
	}
}

// beginCreate creates an order, and its event's outbox row written with
// Enqueue as the store writes it, in a transaction it leaves open: the row
// holds its outbox id, invisible, until the test commits tx.
func (f *fixture) beginCreate(t *testing.T, name string) (tx pgx.Tx, o events.Order, e events.Event, outboxID int64) {
	t.Helper()
	ctx := t.Context()
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatalf("cannot begin: %v", err)
	}
	t.Cleanup(func() { tx.Rollback(context.WithoutCancel(ctx)) }) // no-op once committed
	if err := tx.QueryRow(ctx,
		`INSERT INTO orders (customer_name, item, quantity, status) VALUES ($1, 'Book', 1, 'PENDING')
		 RETURNING id, customer_name, item, quantity, status, created_at, updated_at`, name,
	).Scan(&o.ID, &o.CustomerName, &o.Item, &o.Quantity, &o.Status, &o.CreatedAt, &o.UpdatedAt); err != nil {
		t.Fatalf("cannot insert order %s: %v", name, err)
	}
	e = events.NewOrderCreated(o, 1, o.UpdatedAt)
	// The order row is written above, so the change Enqueue applies with
	// the event is a no-op that always applies.
	if applied, err := outbox.Enqueue(ctx, tx, nil, outbox.Change{SQL: "SELECT 1"}, e, "/orders-service-test"); err != nil || !applied {
		t.Fatalf("cannot enqueue the event of %s: applied %v, %v", name, applied, err)
	}
	if err := tx.QueryRow(ctx, "SELECT id FROM outbox WHERE event_id = $1", e.ID).Scan(&outboxID); err != nil {
		t.Fatalf("cannot read the outbox row of %s: %v", name, err)
	}
	return tx, o, e, outboxID
}

// TestIntegrationRelayLateCommitOfLowerID is the classic outbox trap: a
// transaction takes a lower outbox id but commits after a higher one was
// published. A relay that remembers "last id published" would skip it.
func TestIntegrationRelayLateCommitOfLowerID(t *testing.T) {
	t.Parallel()
	f, p, col := newTopicFixture(t)
	ctx := t.Context()

	// Transaction A: an order and its outbox row, left open.
	txA, a, eventA, outboxA := f.beginCreate(t, "late")

	// B commits first, with a higher outbox id.
	b := f.create(t, "early")
	idsB := f.eventIDs(t) // A is invisible: not committed yet
	if len(idsB) != 1 {
		t.Fatalf("got %d visible outbox rows, want 1 (B's)", len(idsB))
	}
	var outboxB int64
	if err := f.pool.QueryRow(ctx, "SELECT id FROM outbox WHERE event_id = $1", idsB[0]).Scan(&outboxB); err != nil {
		t.Fatalf("cannot read outbox row B: %v", err)
	}
	if outboxB <= outboxA {
		t.Fatalf("got outbox ids A=%d B=%d, want A < B for this test to mean anything", outboxA, outboxB)
	}

	f.startRelay(t, p, 0)
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		ok, msg := col.seen(idsB)
		return ok, "event of order B: " + msg
	})
	f.waitOutboxEmpty(t, 30*time.Second) // B is deleted, A still invisible

	if err := txA.Commit(ctx); err != nil {
		t.Fatalf("cannot commit A: %v", err)
	}
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		ok, msg := col.seen([]string{eventA.ID})
		return ok, "event of order A, committed late with a lower outbox id: " + msg
	})
	f.waitOutboxEmpty(t, 30*time.Second)

	got := versionsByOrder(col.events())
	for _, id := range []int64{a.ID, b.ID} {
		if !slices.Equal(got[id], []int64{1}) {
			t.Errorf("order %d: got versions %v, want [1]", id, got[id])
		}
	}
}

// TestIntegrationRelayBrokerDown takes a private broker away while orders
// are created, and checks that nothing is lost: creates still succeed, the
// rows wait in the outbox, and every event is published once the broker is
// back. It never touches the shared broker of KAFKA_BROKERS, which other
// packages' tests use at the same time.
func TestIntegrationRelayBrokerDown(t *testing.T) {
	t.Parallel()
	testinfra.KafkaBrokers(t) // skips (or fails in CI) like the other tests without Kafka
	broker := startPrivateBroker(t)
	f := newFixture(t, broker.addr)
	p := f.newProducer(t)
	f.createTopic(t, p)
	col := f.consume(t)
	pub := &countingPublisher{pub: p}
	f.startRelay(t, pub, 0)

	first := f.create(t, "before")
	testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
		return col.seenChanges([]change{{first.ID, 1}})
	})
	f.waitOutboxEmpty(t, 30*time.Second)

	broker.stop(t)

	const n = 5
	for i := range n {
		o := f.create(t, fmt.Sprintf("during-%d", i))
		if _, _, err := f.svc.UpdateStatus(t.Context(), orders.Anyone, o.ID, orders.StatusConfirmed, nil); err != nil {
			t.Fatalf("update with the broker down: got error %v, want none", err)
		}
	}
	// Nothing can be acknowledged now, so the rows stay and can be read.
	during := f.eventIDs(t)
	if len(during) != 2*n {
		t.Fatalf("got %d outbox rows with the broker down, want %d", len(during), 2*n)
	}
	// The relay must have tried and failed (delivery timeout 5s) ...
	testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
		return pub.failed.Load() > 0, "relay has not seen a failed publish yet"
	})
	// ... and kept every row it could not deliver.
	if got := f.eventIDs(t); !slices.Equal(got, during) {
		t.Fatalf("got outbox %v after failed publishes, want it unchanged %v", got, during)
	}

	broker.start(t)
	testinfra.Eventually(t, 90*time.Second, func() (bool, string) {
		return col.seen(during)
	})
	f.waitOutboxEmpty(t, 30*time.Second)

	// A batch that timed out may have reached the broker after all, so
	// duplicates are allowed; but a consumer that keeps only versions newer
	// than the one it holds must see every order's history complete.
	for id, vs := range versionsByOrder(col.events()) {
		var kept []int64
		for _, v := range vs {
			if len(kept) == 0 || v > kept[len(kept)-1] {
				kept = append(kept, v)
			}
		}
		wantVersions := upTo(2)
		if id == first.ID {
			wantVersions = upTo(1)
		}
		if !slices.Equal(kept, wantVersions) {
			t.Errorf("order %d: got versions %v (newer-only: %v), want %v", id, vs, kept, wantVersions)
		}
	}
	t.Logf("publishes: %d acknowledged, %d failed", pub.published.Load(), pub.failed.Load())
}

// refusingPublisher has the broker refuse, once, every message of its
// second batch from the third on, as a broker that times out or rejects a
// partition's messages would, while the batches around it go through.
type refusingPublisher struct {
	pub   outbox.Publisher
	calls atomic.Int64
	// refused is closed once the refusal has been answered.
	refused chan struct{}
}

func (r *refusingPublisher) Send(ctx context.Context, msgs []kafka.Message) func() []error {
	if r.calls.Add(1) != 2 || len(msgs) < 3 {
		return r.pub.Send(ctx, msgs)
	}
	wait := r.pub.Send(ctx, msgs[:2])
	return func() []error {
		defer close(r.refused)
		errs := make([]error, len(msgs))
		copy(errs, wait())
		for i := 2; i < len(msgs); i++ {
			errs[i] = errors.New("refused by the test")
		}
		return errs
	}
}

// TestIntegrationRelayPipelineKeepsWhatFailed has the broker refuse part of
// a batch while later batches are in flight: the rows from the refused one
// on, including the later batches' that the broker did take, must stay in
// the outbox until they are published again, and every order's history must
// reach the consumers complete.
func TestIntegrationRelayPipelineKeepsWhatFailed(t *testing.T) {
	t.Parallel()
	f, p, col := newTopicFixture(t)

	// The rows exist before the relay starts, so that its first pass
	// reads them in full batches, several in flight at once.
	const n = 40
	path := []orders.Status{orders.StatusConfirmed, orders.StatusShipped}
	var ids []int64
	for i := range n {
		o := f.create(t, fmt.Sprintf("pipelined-%d", i))
		ids = append(ids, o.ID)
	}
	for _, to := range path {
		for _, id := range ids {
			if _, _, err := f.svc.UpdateStatus(t.Context(), orders.Anyone, id, to, nil); err != nil {
				t.Fatalf("update: got error %v, want none", err)
			}
		}
	}
	pub := &refusingPublisher{pub: p, refused: make(chan struct{})}
	f.startRelayConfig(t, pub, outbox.Config{BatchSize: 10, InFlight: 4})

	select {
	case <-pub.refused:
	case <-time.After(30 * time.Second):
		t.Fatal("the relay did not publish a second batch within 30s")
	}
	f.waitOutboxEmpty(t, 60*time.Second)
	if got := pub.calls.Load(); got <= int64(n*(1+len(path))/10) {
		t.Errorf("got %d publishes, want more than the %d batches of one pass: the refused rows were not sent again", got, n*(1+len(path))/10)
	}
	want := upTo(int64(1 + len(path)))
	testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
		byOrder := versionsByOrder(col.events())
		for _, id := range ids {
			if !slices.Contains(byOrder[id], want[len(want)-1]) {
				return false, fmt.Sprintf("order %d: consumed versions %v so far", id, byOrder[id])
			}
		}
		return true, ""
	})
	// Every version reached the topic; what was sent again after the
	// refusal may repeat earlier ones, which consumers absorb by version.
	for _, id := range ids {
		vs := versionsByOrder(col.events())[id]
		for _, v := range want {
			if !slices.Contains(vs, v) {
				t.Errorf("order %d: got versions %v, want each of %v", id, vs, want)
				break
			}
		}
	}
}

// gatedPublisher holds the broker's answers to its first batch until
// release is closed; sends counts the batches handed to it.
type gatedPublisher struct {
	pub     outbox.Publisher
	sends   atomic.Int64
	release chan struct{}
}

func (g *gatedPublisher) Send(ctx context.Context, msgs []kafka.Message) func() []error {
	wait := g.pub.Send(ctx, msgs)
	if g.sends.Add(1) != 1 {
		return wait
	}
	return func() []error {
		<-g.release
		return wait()
	}
}

// TestIntegrationRelayPipelineLateCommit commits an order's first event
// with an outbox id below the batches in flight, then its second event,
// while the relay's pipeline is full: the relay must not send the second,
// read after the batches in flight, before the first.
func TestIntegrationRelayPipelineLateCommit(t *testing.T) {
	t.Parallel()
	f, p, col := newTopicFixture(t)

	txA, a, _, outboxA := f.beginCreate(t, "late")
	for i := range 12 {
		f.create(t, fmt.Sprintf("early-%d", i))
	}
	pub := &gatedPublisher{pub: p, release: make(chan struct{})}
	f.startRelayConfig(t, pub, outbox.Config{BatchSize: 3, InFlight: 2})
	// The first batch waits for its answers and the second is sent: the
	// pipeline is full, and every id in it is above A's.
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		return pub.sends.Load() >= 2, fmt.Sprintf("%d batches sent, want 2", pub.sends.Load())
	})
	var lowest int64
	if err := f.pool.QueryRow(t.Context(), "SELECT min(id) FROM outbox").Scan(&lowest); err != nil {
		t.Fatal(err)
	}
	if lowest <= outboxA {
		t.Fatalf("got lowest visible outbox id %d, want it above A's %d for this test to mean anything", lowest, outboxA)
	}

	if err := txA.Commit(t.Context()); err != nil {
		t.Fatalf("cannot commit A: %v", err)
	}
	if _, _, err := f.svc.UpdateStatus(t.Context(), orders.Anyone, a.ID, orders.StatusConfirmed, nil); err != nil {
		t.Fatalf("cannot update A: %v", err)
	}
	close(pub.release)

	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		got := versionsByOrder(col.events())[a.ID]
		return slices.Contains(got, 2), fmt.Sprintf("order A: consumed versions %v, waiting for 2", got)
	})
	f.waitOutboxEmpty(t, 30*time.Second)
	if got := versionsByOrder(col.events())[a.ID]; !slices.Equal(got, upTo(2)) {
		t.Errorf("order A: got versions %v, want %v", got, upTo(2))
	}
}

// TestIntegrationRelayLeaderElection runs two relays over one database: only
// the one holding the advisory lock publishes, and the other takes over
// when the first stops.
func TestIntegrationRelayLeaderElection(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testinfra.KafkaBrokers(t))
	p1, p2 := f.newProducer(t), f.newProducer(t) // two replicas
	f.createTopic(t, p1)
	col := f.consume(t)
	const lockID = 4711

	pub1 := &countingPublisher{pub: p1}
	stop1 := f.startRelay(t, pub1, lockID)
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		n := f.lockHolders(t, lockID)
		return n == 1, fmt.Sprintf("%d sessions hold the relay lock, want 1", n)
	})
	pub2 := &countingPublisher{pub: p2}
	f.startRelay(t, pub2, lockID)

	var want []change
	for i := range 10 {
		o := f.create(t, fmt.Sprintf("leader-%d", i))
		if _, _, err := f.svc.UpdateStatus(t.Context(), orders.Anyone, o.ID, orders.StatusConfirmed, nil); err != nil {
			t.Fatalf("cannot update: %v", err)
		}
		want = append(want, change{o.ID, 1}, change{o.ID, 2})
	}
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) { return col.seenChanges(want) })
	f.waitOutboxEmpty(t, 30*time.Second)
	if got := pub1.published.Load(); got != int64(len(want)) {
		t.Errorf("first relay: got %d published, want %d", got, len(want))
	}
	if got := pub2.published.Load() + pub2.failed.Load(); got != 0 {
		t.Errorf("second relay: got %d publishes while the first led, want 0", got)
	}
	if n := f.lockHolders(t, lockID); n != 1 {
		t.Errorf("got %d sessions holding the relay lock, want 1", n)
	}

	stop1()
	var later []change
	for i := range 5 {
		o := f.create(t, fmt.Sprintf("follower-%d", i))
		later = append(later, change{o.ID, 1})
	}
	want = append(want, later...)
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		ok, msg := col.seenChanges(later)
		return ok, "after the first relay stopped: " + msg
	})
	f.waitOutboxEmpty(t, 30*time.Second)
	if got := pub2.published.Load(); got != int64(len(later)) {
		t.Errorf("second relay: got %d published, want %d", got, len(later))
	}

	// Exactly once: per event id, and per change (no second event with
	// another id for the same order version either).
	byID, byChange := map[string]int{}, map[change]int{}
	for _, r := range col.events() {
		byID[r.event.ID]++
		byChange[change{r.event.OrderID, r.event.Version}]++
	}
	for id, n := range byID {
		if n != 1 {
			t.Errorf("event %s: got published %d times, want 1", id, n)
		}
	}
	for _, w := range want {
		if byChange[w] != 1 {
			t.Errorf("order %d version %d: got %d events, want 1", w.order, w.version, byChange[w])
		}
	}
	if len(byID) != len(want) {
		t.Errorf("got %d distinct events, want %d", len(byID), len(want))
	}
}

// TestIntegrationRelayFrozenLeaderIsReplaced: the active relay freezes
// (its database connection holds every byte, as SIGSTOP would): a standby
// publishes within 15s, and the frozen one, once it runs again, publishes
// nothing more, its session and lock gone.
func TestIntegrationRelayFrozenLeaderIsReplaced(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testinfra.KafkaBrokers(t))
	p1, p2 := f.newProducer(t), f.newProducer(t)
	f.createTopic(t, p1)
	col := f.consume(t)
	const lockID = 4712
	cfg := outbox.Config{LockID: lockID, PollInterval: 200 * time.Millisecond, LeaseTimeout: 3 * time.Second}

	url := f.pool.Config().ConnString()
	proxy := testinfra.NewProxy(t, testinfra.Host(t, url))
	frozenPool, err := pg.Open(t.Context(), proxy.Through(t, url), pg.PoolOptions{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(frozenPool.Close)
	leader := &countingPublisher{pub: p1}
	f.startRelayOn(t, frozenPool, leader, cfg)
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		n := f.lockHolders(t, lockID)
		return n == 1, fmt.Sprintf("%d sessions hold the relay lock, want 1", n)
	})
	standby := &countingPublisher{pub: p2}
	f.startRelayConfig(t, standby, cfg)

	first := f.create(t, "before the freeze")
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) { return col.seenChanges([]change{{first.ID, 1}}) })
	if got := leader.published.Load(); got != 1 {
		t.Fatalf("the first relay published %d, want 1: it was not the leader", got)
	}

	proxy.Freeze()
	frozenAt := time.Now()
	second := f.create(t, "while the leader is frozen")
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) { return col.seenChanges([]change{{second.ID, 1}}) })
	if took := time.Since(frozenAt); took > 15*time.Second {
		t.Errorf("the standby published %s after the freeze, want within 15s", took.Round(time.Millisecond))
	}

	proxy.Thaw()
	third := f.create(t, "after the thaw")
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) { return col.seenChanges([]change{{third.ID, 1}}) })
	f.waitOutboxEmpty(t, 30*time.Second)
	if got := leader.published.Load(); got != 1 {
		t.Errorf("the relay that froze published %d in all, want only its 1 before the freeze", got)
	}
	if n := f.lockHolders(t, lockID); n != 1 {
		t.Errorf("got %d sessions holding the relay lock, want 1", n)
	}
}

// lockHolders counts the sessions holding advisory lock id in f's database.
// pg_try_advisory_lock(bigint) shows in pg_locks as classid = high 32 bits,
// objid = low 32 bits, objsubid = 1.
func (f *fixture) lockHolders(t *testing.T, id int64) int {
	t.Helper()
	var n int
	err := f.pool.QueryRow(t.Context(),
		`SELECT count(*) FROM pg_locks
		 WHERE locktype = 'advisory' AND granted AND objsubid = 1
		   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		   AND classid::bigint = $1 AND objid::bigint = $2`,
		id>>32, id&0xffffffff).Scan(&n)
	if err != nil {
		t.Fatalf("cannot read pg_locks: %v", err)
	}
	return n
}

// privateBroker is a Kafka broker of one test, run by hack/devenv.sh on a
// free port with its state in a temporary directory.
type privateBroker struct {
	addr string
	env  []string
	root string
}

func startPrivateBroker(t *testing.T) *privateBroker {
	t.Helper()
	root := repoRoot(t)
	port := freePortPair(t)
	b := &privateBroker{
		addr: "127.0.0.1:" + strconv.Itoa(port),
		root: root,
		env: append(os.Environ(),
			"KAFKA_PORT="+strconv.Itoa(port),
			"KAFKA_CONTROLLER_PORT="+strconv.Itoa(port+1),
			"DEVENV_DIR="+t.TempDir(),
		),
	}
	// Registered after t.TempDir, so it runs before the directory goes.
	t.Cleanup(func() { b.stop(t) })
	b.start(t)
	return b
}

func (b *privateBroker) start(t *testing.T) { t.Helper(); b.devenv(t, "start-kafka", 150*time.Second) }
func (b *privateBroker) stop(t *testing.T)  { t.Helper(); b.devenv(t, "stop-kafka", 60*time.Second) }

func (b *privateBroker) devenv(t *testing.T, cmd string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := exec.CommandContext(ctx, filepath.Join(b.root, "hack", "devenv.sh"), cmd)
	c.Env = b.env
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("hack/devenv.sh %s (%s): %v\n%s", cmd, b.addr, err, out)
	}
	t.Logf("hack/devenv.sh %s (%s): %s", cmd, b.addr, out)
}

// repoRoot walks up from the package directory to the directory of go.work.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("cannot get working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.work above the package directory")
		}
		dir = parent
	}
}

// freePortPair returns a port p such that p and p+1 (the broker's
// controller listener) are both free now.
func freePortPair(t *testing.T) int {
	t.Helper()
	// Below the kernel's ephemeral range: the broker binds these ports
	// seconds after they were found free, and a port from that range can
	// be taken meanwhile as the local end of any outgoing connection
	// (the other tests' clients make many), which failed a cold CI run.
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	for range 200 {
		port := 10000 + rand.IntN(low-10000-2)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1))
		l.Close()
		if err == nil {
			l2.Close()
			return port
		}
	}
	t.Fatalf("cannot find two adjacent free ports below %d", low)
	return 0
}

// TestIntegrationRelayOneEventPerAcceptedChange races 50 goroutines on one
// order: the topic must hold exactly one event per accepted change (plus the
// creation), no more and no fewer, in version order.
func TestIntegrationRelayOneEventPerAcceptedChange(t *testing.T) {
	t.Parallel()
	f, p, col := newTopicFixture(t)
	f.startRelay(t, p, 0)
	o := f.create(t, "racer")

	const goroutines = 50
	path := []orders.Status{orders.StatusConfirmed, orders.StatusShipped, orders.StatusOutForDelivery, orders.StatusDelivered}
	var accepted atomic.Int64
	errs := make(chan error, goroutines*len(path))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			<-start
			for i, to := range path {
				if i < len(path)-1 && rand.N(2) == 0 {
					continue // skip a step now and then, as clients may
				}
				_, changed, err := f.svc.UpdateStatus(t.Context(), orders.Anyone, o.ID, to, nil)
				var te *orders.TransitionError
				switch {
				case errors.As(err, &te):
				case err != nil:
					errs <- err
				case changed:
					accepted.Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("got error %v, want none or a *TransitionError", err)
	}

	final, err := f.store.Get(t.Context(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := 1 + accepted.Load()
	if final.Version != want {
		t.Fatalf("got version %d, want %d (creation + %d accepted changes)", final.Version, want, accepted.Load())
	}
	testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
		got := versionsByOrder(col.events())[o.ID]
		return slices.Contains(got, want), fmt.Sprintf("consumed versions %v, waiting for %d", got, want)
	})
	f.waitOutboxEmpty(t, 30*time.Second)
	if got := versionsByOrder(col.events())[o.ID]; !slices.Equal(got, upTo(want)) {
		t.Errorf("got versions %v on the topic, want exactly %v", got, upTo(want))
	}
}

// capturingPublisher keeps a copy of every message it is asked to publish.
type capturingPublisher struct {
	pub  outbox.Publisher
	mu   sync.Mutex
	msgs []kafka.Message
}

func (c *capturingPublisher) Send(ctx context.Context, msgs []kafka.Message) func() []error {
	c.mu.Lock()
	c.msgs = append(c.msgs, msgs...)
	c.mu.Unlock()
	return c.pub.Send(ctx, msgs)
}

// TestIntegrationRelayCarriesTraceparent checks that the traceparent stored
// with a change reaches its Kafka message's headers, once, and that a
// change made outside any trace gets none from the relay.
func TestIntegrationRelayCarriesTraceparent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testinfra.KafkaBrokers(t))
	p := f.newProducer(t)
	f.createTopic(t, p)
	pub := &capturingPublisher{pub: p}
	f.startRelay(t, pub, 0)

	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	traced := trace.ContextWithSpanContext(t.Context(), tracing.SpanContextFromTraceparent(tp))
	want := map[string][]string{}
	for _, c := range []struct {
		ctx  context.Context
		want []string
	}{{traced, []string{tp}}, {t.Context(), nil}} {
		o, _, err := f.svc.Create(c.ctx, orders.Anyone, orders.CreateRequest{Order: orders.NewOrder{CustomerName: "Ada", Item: "Book", Quantity: 1}})
		if err != nil {
			t.Fatal(err)
		}
		want[fmt.Sprint(o.ID)] = c.want
	}

	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		pub.mu.Lock()
		defer pub.mu.Unlock()
		return len(pub.msgs) >= len(want), fmt.Sprintf("%d messages published, want %d", len(pub.msgs), len(want))
	})
	pub.mu.Lock()
	defer pub.mu.Unlock()
	for _, m := range pub.msgs {
		var got []string
		for _, h := range m.Headers {
			if h.Key == "traceparent" {
				got = append(got, string(h.Value))
			}
		}
		if !slices.Equal(got, want[string(m.Key)]) {
			t.Errorf("order %s: got traceparent headers %q, want %q", m.Key, got, want[string(m.Key)])
		}
	}
}

// TestIntegrationRelayVacuumsTheOutbox: once the relay has deleted
// VacuumAfter rows and caught up, it has the outbox vacuumed, so that its
// reads stop walking the dead rows; below that it does not.
func TestIntegrationRelayVacuumsTheOutbox(t *testing.T) {
	t.Parallel()
	f, p, _ := newTopicFixture(t)
	vacuums := func() int64 {
		var n int64
		if err := f.pool.QueryRow(t.Context(), "SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'outbox'::regclass").Scan(&n); err != nil {
			t.Fatalf("cannot read the outbox's vacuum count: %v", err)
		}
		return n
	}
	for i := range 9 {
		f.create(t, fmt.Sprintf("vacuum-%d", i))
	}
	f.startRelayConfig(t, p, outbox.Config{VacuumAfter: 10})
	f.waitOutboxEmpty(t, 30*time.Second)
	if got := vacuums(); got != 0 {
		t.Fatalf("after 9 rows deleted: got %d vacuums, want 0 (VacuumAfter is 10)", got)
	}
	f.create(t, "vacuum-9")
	f.waitOutboxEmpty(t, 30*time.Second)
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		n := vacuums()
		return n == 1, fmt.Sprintf("%d vacuums after 10 rows deleted, want 1", n)
	})
}
