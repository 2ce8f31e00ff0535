package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/tracing"
	"github.com/order-tracking/platform/services/orders-service/internal/orders"
	"github.com/order-tracking/platform/services/orders-service/internal/postgres"
	"github.com/order-tracking/platform/services/orders-service/internal/postgres/postgrestest"
)

// newStore returns a store over a fresh, migrated database of its own.
func newStore(t *testing.T) (*postgres.OrderStore, *pgxpool.Pool) {
	t.Helper()
	pool := postgrestest.NewPool(t)
	return postgres.NewOrderStore(pool, postgres.StoreOptions{}), pool
}

// outboxRow is one outbox row with its payload decoded the way a consumer
// decodes the Kafka record the relay makes of it.
type outboxRow struct {
	ID      int64
	Key     string
	Type    string
	OrderID int64
	Version int64
	Event   events.Event
}

// readOutbox returns every outbox row in id (publication) order.
func readOutbox(t *testing.T, pool *pgxpool.Pool) []outboxRow {
	t.Helper()
	rows, err := pool.Query(t.Context(),
		"SELECT id, event_id::text, event_type, order_id, version, message_key, payload, headers FROM outbox ORDER BY id")
	if err != nil {
		t.Fatalf("cannot read outbox: %v", err)
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		var eventID string
		var key, payload, hdrs []byte
		if err := rows.Scan(&r.ID, &eventID, &r.Type, &r.OrderID, &r.Version, &key, &payload, &hdrs); err != nil {
			t.Fatalf("cannot scan outbox row: %v", err)
		}
		var headers []events.Header
		if err := json.Unmarshal(hdrs, &headers); err != nil {
			t.Fatalf("outbox row %d: cannot decode headers %s: %v", r.ID, hdrs, err)
		}
		e, err := events.Decode(headers, payload)
		if err != nil {
			t.Fatalf("outbox row %d: cannot decode event: %v", r.ID, err)
		}
		// The columns the relay and operators rely on must agree with the payload.
		if eventID != e.ID || r.Type != string(e.Type) || r.OrderID != e.OrderID || r.Version != e.Version || string(key) != string(e.Key()) {
			t.Fatalf("outbox row %d: got columns (%s, %s, %d, %d, key %q), want them equal to the event's (%s, %s, %d, %d, key %q)",
				r.ID, eventID, r.Type, r.OrderID, r.Version, key, e.ID, e.Type, e.OrderID, e.Version, e.Key())
		}
		r.Key = string(key)
		r.Event = e
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("cannot read outbox: %v", err)
	}
	return out
}

func countOrders(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM orders").Scan(&n); err != nil {
		t.Fatalf("cannot count orders: %v", err)
	}
	return n
}

// snapshot is what the event contract should say about o.
func snapshot(o orders.Order) events.Order {
	return events.Order{
		ID: o.ID, TrackingCode: o.TrackingCode, Owner: o.Owner, CustomerName: o.CustomerName, Item: o.Item, Quantity: o.Quantity,
		Status: string(o.Status), CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
	}
}

func create(t *testing.T, s *postgres.OrderStore, customer, item string, qty int) orders.Order {
	t.Helper()
	o, _, err := s.Create(t.Context(), orders.CreateRequest{Order: orders.NewOrder{CustomerName: customer, Item: item, Quantity: qty}})
	if err != nil {
		t.Fatalf("cannot create order: %v", err)
	}
	return o
}

func setStatus(to orders.Status) func(*orders.Order) (bool, error) {
	return func(o *orders.Order) (bool, error) { return o.ChangeStatus(to) }
}

func TestIntegrationCreate(t *testing.T) {
	s, pool := newStore(t)
	// The database server runs on this host, so its clock is ours; a second
	// of slack absorbs the rounding to microseconds.
	before := time.Now().Add(-time.Second)

	o, replay, err := s.Create(t.Context(), orders.CreateRequest{Order: orders.NewOrder{CustomerName: "Ada", Item: "Book", Quantity: 2}})
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	after := time.Now().Add(time.Second)

	if replay != nil {
		t.Errorf("got a replay, want none for a request without idempotency key")
	}
	if o.ID <= 0 || o.CustomerName != "Ada" || o.Item != "Book" || o.Quantity != 2 {
		t.Errorf("got %+v, want a new order for Ada of 2 Book", o)
	}
	if o.Status != orders.StatusPending || o.Version != 1 {
		t.Errorf("got status %s version %d, want PENDING version 1", o.Status, o.Version)
	}
	if o.CreatedAt.Before(before) || o.CreatedAt.After(after) || !o.UpdatedAt.Equal(o.CreatedAt) {
		t.Errorf("got createdAt %s updatedAt %s, want both equal and between %s and %s", o.CreatedAt, o.UpdatedAt, before, after)
	}
	if o.CreatedAt.Location() != time.UTC {
		t.Errorf("got createdAt in %s, want UTC", o.CreatedAt.Location())
	}

	got, err := s.Get(t.Context(), o.ID)
	if err != nil || got != o {
		t.Errorf("Get: got %+v, %v, want %+v", got, err, o)
	}

	rows := readOutbox(t, pool)
	if len(rows) != 1 {
		t.Fatalf("got %d outbox rows, want 1", len(rows))
	}
	want := events.Event{
		ID:         rows[0].Event.ID, // random
		Type:       events.TypeOrderCreated,
		OrderID:    o.ID,
		Version:    1,
		OccurredAt: o.UpdatedAt,
		Order:      snapshot(o),
	}
	if rows[0].Event != want {
		t.Errorf("got event %+v, want %+v", rows[0].Event, want)
	}
}

func TestIntegrationGetNotFound(t *testing.T) {
	s, _ := newStore(t)
	_, err := s.Get(t.Context(), 424242)
	if !errors.Is(err, orders.ErrNotFound) {
		t.Fatalf("got error %v, want orders.ErrNotFound", err)
	}
}

func TestIntegrationList(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()

	seed := []struct {
		customer, item string
		status         orders.Status
	}{
		{"alice", "book", orders.StatusPending},
		{"bob", "book", orders.StatusConfirmed},
		{"alice", "pen", orders.StatusConfirmed},
		{"carol", "lamp", orders.StatusPending},
		{"alice", "book", orders.StatusCancelled},
	}
	all := make([]orders.Order, len(seed))
	for i, sd := range seed {
		o := create(t, s, sd.customer, sd.item, i+1)
		if sd.status != orders.StatusPending {
			var err error
			if o, err = s.Update(ctx, o.ID, setStatus(sd.status)); err != nil {
				t.Fatalf("cannot move order %d to %s: %v", o.ID, sd.status, err)
			}
		}
		all[i] = o
	}
	ptr := func(s string) *string { return &s }
	status := func(s orders.Status) *orders.Status { return &s }
	id := func(i int) *int64 { return &all[i].ID }

	tests := []struct {
		name   string
		filter orders.Filter
		want   []int // indexes into all
	}{
		{"no filter", orders.Filter{}, []int{0, 1, 2, 3, 4}},
		{"id", orders.Filter{ID: id(2)}, []int{2}},
		{"unknown id", orders.Filter{ID: new(int64(424242))}, []int{}},
		{"customer", orders.Filter{CustomerName: ptr("alice")}, []int{0, 2, 4}},
		{"customer is case sensitive", orders.Filter{CustomerName: ptr("Alice")}, []int{}},
		{"item", orders.Filter{Item: ptr("book")}, []int{0, 1, 4}},
		{"status", orders.Filter{Status: status(orders.StatusConfirmed)}, []int{1, 2}},
		{"status nobody has", orders.Filter{Status: status(orders.StatusDelivered)}, []int{}},
		{"customer and item", orders.Filter{CustomerName: ptr("alice"), Item: ptr("book")}, []int{0, 4}},
		{"customer and status", orders.Filter{CustomerName: ptr("alice"), Status: status(orders.StatusConfirmed)}, []int{2}},
		{"id and other customer", orders.Filter{ID: id(1), CustomerName: ptr("alice")}, []int{}},
		{"after", orders.Filter{After: all[1].ID}, []int{2, 3, 4}},
		{"after last", orders.Filter{After: all[4].ID}, []int{}},
		{"limit", orders.Filter{Limit: 2}, []int{0, 1}},
		{"limit above count", orders.Filter{Limit: 50}, []int{0, 1, 2, 3, 4}},
		{"after and limit", orders.Filter{After: all[0].ID, Limit: 2}, []int{1, 2}},
		{"filter, after and limit", orders.Filter{CustomerName: ptr("alice"), After: all[0].ID, Limit: 1}, []int{2}},
		{"next page of filter", orders.Filter{CustomerName: ptr("alice"), After: all[2].ID, Limit: 1}, []int{4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []orders.Order{}
			err := s.Each(t.Context(), tt.filter, func(o orders.Order) error {
				got = append(got, o)
				return nil
			})
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			want := make([]orders.Order, len(tt.want))
			for i, j := range tt.want {
				want[i] = all[j]
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestIntegrationUpdate(t *testing.T) {
	s, pool := newStore(t)
	o := create(t, s, "Ada", "Book", 1)

	got, err := s.Update(t.Context(), o.ID, setStatus(orders.StatusConfirmed))
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	if got.Status != orders.StatusConfirmed || got.Version != 2 {
		t.Errorf("got status %s version %d, want CONFIRMED version 2", got.Status, got.Version)
	}
	if !got.CreatedAt.Equal(o.CreatedAt) || got.UpdatedAt.Before(o.UpdatedAt) {
		t.Errorf("got createdAt %s updatedAt %s, want createdAt %s kept and updatedAt not before %s",
			got.CreatedAt, got.UpdatedAt, o.CreatedAt, o.UpdatedAt)
	}
	if stored, err := s.Get(t.Context(), o.ID); err != nil || stored != got {
		t.Errorf("Get: got %+v, %v, want %+v", stored, err, got)
	}

	rows := readOutbox(t, pool)
	if len(rows) != 2 {
		t.Fatalf("got %d outbox rows, want 2 (created, updated)", len(rows))
	}
	want := events.Event{
		ID:             rows[1].Event.ID,
		Type:           events.TypeOrderUpdated,
		OrderID:        o.ID,
		Version:        2,
		OccurredAt:     got.UpdatedAt,
		Order:          snapshot(got),
		PreviousStatus: string(orders.StatusPending),
	}
	if rows[1].Event != want {
		t.Errorf("got event %+v, want %+v", rows[1].Event, want)
	}
	if rows[0].Event.ID == rows[1].Event.ID {
		t.Errorf("got event id %s twice, want a new id per event", rows[0].Event.ID)
	}
}

func TestIntegrationUpdateUnchangedWritesNothing(t *testing.T) {
	s, pool := newStore(t)
	o := create(t, s, "Ada", "Book", 1)

	var seen orders.Order
	got, err := s.Update(t.Context(), o.ID, func(cur *orders.Order) (bool, error) {
		seen = *cur
		return cur.ChangeStatus(orders.StatusPending) // already PENDING: a no-op
	})
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	if seen != o {
		t.Errorf("change saw %+v, want the stored order %+v", seen, o)
	}
	if got != o {
		t.Errorf("got %+v, want the order unchanged %+v", got, o)
	}
	if stored, _ := s.Get(t.Context(), o.ID); stored.Version != 1 {
		t.Errorf("got stored version %d, want 1", stored.Version)
	}
	if rows := readOutbox(t, pool); len(rows) != 1 {
		t.Errorf("got %d outbox rows, want 1 (creation only)", len(rows))
	}
}

func TestIntegrationUpdateErrorRollsBack(t *testing.T) {
	s, pool := newStore(t)
	o := create(t, s, "Ada", "Book", 1)
	errRefused := errors.New("refused")

	_, err := s.Update(t.Context(), o.ID, func(cur *orders.Order) (bool, error) {
		cur.Status = orders.StatusShipped // modified, then refused
		return true, errRefused
	})
	if !errors.Is(err, errRefused) {
		t.Fatalf("got error %v, want the change's error", err)
	}
	if stored, err := s.Get(t.Context(), o.ID); err != nil || stored != o {
		t.Errorf("got stored %+v, %v, want %+v unchanged", stored, err, o)
	}
	if rows := readOutbox(t, pool); len(rows) != 1 {
		t.Errorf("got %d outbox rows, want 1 (creation only)", len(rows))
	}
}

func TestIntegrationUpdateNotFound(t *testing.T) {
	s, pool := newStore(t)
	called := false
	_, err := s.Update(t.Context(), 424242, func(*orders.Order) (bool, error) { called = true; return true, nil })
	if !errors.Is(err, orders.ErrNotFound) {
		t.Fatalf("got error %v, want orders.ErrNotFound", err)
	}
	if called {
		t.Errorf("got change called, want it not called for a missing order")
	}
	if rows := readOutbox(t, pool); len(rows) != 0 {
		t.Errorf("got %d outbox rows, want 0", len(rows))
	}
}

// receiptOf is a create's receipt as a test renders it: the order's id,
// status and version, so that a replay shows which state it was made from.
func receiptOf(o orders.Order) orders.Receipt {
	return orders.Receipt{Status: 201, Header: map[string]string{"ETag": fmt.Sprint(o.Version)},
		Body: fmt.Appendf(nil, "%d %s %d", o.ID, o.Status, o.Version)}
}

// TestIntegrationHistory: every change leaves its entry in the order's
// timeline, written with the change; a change that did not happen leaves
// none.
func TestIntegrationHistory(t *testing.T) {
	s, _ := newStore(t)
	o := create(t, s, "alice", "book", 1)
	confirmed, err := s.Update(t.Context(), o.ID, setStatus(orders.StatusConfirmed))
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := s.Update(t.Context(), o.ID, setStatus(orders.StatusShipped))
	if err != nil {
		t.Fatal(err)
	}
	// Refused by its own guard: the deadline has passed.
	past, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := s.Update(past, o.ID, setStatus(orders.StatusDelivered)); err == nil {
		t.Fatal("an update past its deadline succeeded")
	}
	h, err := s.History(t.Context(), o.ID)
	want := []orders.StatusChange{
		{Status: orders.StatusPending, At: o.UpdatedAt, Version: 1},
		{Status: orders.StatusConfirmed, At: confirmed.UpdatedAt, Version: 2},
		{Status: orders.StatusShipped, At: shipped.UpdatedAt, Version: 3},
	}
	if err != nil || !slices.Equal(h, want) {
		t.Errorf("got %+v, %v, want %+v", h, err, want)
	}
	if _, err := s.History(t.Context(), 999999); !errors.Is(err, orders.ErrNotFound) {
		t.Errorf("unknown order: got %v, want ErrNotFound", err)
	}
}

// TestIntegrationEachPages: every order, over several pages, each once and
// in id order.
func TestIntegrationEachPages(t *testing.T) {
	s, pool := newStore(t)
	const n = 2*1000 + 7
	if _, err := pool.Exec(t.Context(), `INSERT INTO orders (customer_name, item, quantity, status)
		SELECT 'c' || i, 'item', 1, 'PENDING' FROM generate_series(1, $1) i`, n); err != nil {
		t.Fatal(err)
	}
	var last int64
	count := 0
	err := s.Each(t.Context(), orders.Filter{}, func(o orders.Order) error {
		if o.ID <= last {
			return fmt.Errorf("order %d after %d", o.ID, last)
		}
		last = o.ID
		count++
		return nil
	})
	if err != nil || count != n {
		t.Fatalf("got %d orders, %v, want %d in id order", count, err, n)
	}
}

// TestIntegrationEachUpdatedSince: the orders changed at or after a time.
func TestIntegrationEachUpdatedSince(t *testing.T) {
	s, pool := newStore(t)
	old := create(t, s, "alice", "book", 1)
	if _, err := pool.Exec(t.Context(), "UPDATE orders SET updated_at = now() - interval '2 days' WHERE id = $1", old.ID); err != nil {
		t.Fatal(err)
	}
	recent := create(t, s, "bob", "book", 1)
	since := time.Now().Add(-24 * time.Hour)
	var got []int64
	if err := s.Each(t.Context(), orders.Filter{UpdatedSince: &since}, func(o orders.Order) error {
		got = append(got, o.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int64{recent.ID}) {
		t.Errorf("got %v, want only %d, changed within the day", got, recent.ID)
	}
}

// TestIntegrationEachStops: an error from the callback ends the list and
// is returned as it is.
func TestIntegrationEachStops(t *testing.T) {
	s, _ := newStore(t)
	for range 3 {
		create(t, s, "alice", "book", 1)
	}
	stop := errors.New("enough")
	n := 0
	err := s.Each(t.Context(), orders.Filter{}, func(orders.Order) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("got %d calls and %v, want 1 call and the callback's error", n, err)
	}
}

func TestIntegrationCreateIdempotent(t *testing.T) {
	s, pool := newStore(t)
	req := orders.CreateRequest{
		Order:          orders.NewOrder{CustomerName: "Ada", Item: "Book", Quantity: 1, Owner: "alice"},
		IdempotencyKey: "key-1",
		KeyScope:       "alice",
		RequestHash:    "hash-1",
		Receipt:        receiptOf,
	}
	first, replay, err := s.Create(t.Context(), req)
	if err != nil || replay != nil {
		t.Fatalf("first: got replay=%v err=%v, want a new order", replay, err)
	}
	if first.Owner != "alice" || !strings.HasPrefix(first.TrackingCode, events.TrackingCodePrefix) {
		t.Errorf("first: got owner %q tracking code %q, want alice and a code", first.Owner, first.TrackingCode)
	}
	want := receiptOf(first)
	// A retry may arrive after the order changed: it gets the first answer,
	// not the current order.
	if _, err = s.Update(t.Context(), first.ID, setStatus(orders.StatusConfirmed)); err != nil {
		t.Fatalf("cannot update: %v", err)
	}

	_, replay, err = s.Create(t.Context(), req)
	if err != nil {
		t.Fatalf("second: got error %v, want none", err)
	}
	if replay == nil || replay.Status != want.Status || string(replay.Body) != string(want.Body) || replay.Header["ETag"] != "1" {
		t.Errorf("second: got replay %+v, want the first answer %+v", replay, want)
	}
	if n := countOrders(t, pool); n != 1 {
		t.Errorf("got %d orders, want 1", n)
	}
	if rows := readOutbox(t, pool); len(rows) != 2 || rows[0].Event.Type != events.TypeOrderCreated {
		t.Errorf("got %d outbox rows, want 2 (one creation, one update)", len(rows))
	}
	if rows := readOutbox(t, pool); rows[0].Event.Order.Owner != "alice" || rows[0].Event.Order.TrackingCode != first.TrackingCode {
		t.Errorf("got event order %+v, want owner alice and the order's tracking code", rows[0].Event.Order)
	}

	t.Run("same key, other request", func(t *testing.T) {
		other := req
		other.RequestHash = "hash-2"
		other.Order.Quantity = 5
		_, _, err := s.Create(t.Context(), other)
		if !errors.Is(err, orders.ErrIdempotencyKeyReused) {
			t.Fatalf("got error %v, want orders.ErrIdempotencyKeyReused", err)
		}
		if n := countOrders(t, pool); n != 1 {
			t.Errorf("got %d orders, want 1", n)
		}
	})

	t.Run("other key, same request", func(t *testing.T) {
		other := req
		other.IdempotencyKey = "key-2"
		o, replay, err := s.Create(t.Context(), other)
		if err != nil || replay != nil || o.ID == first.ID {
			t.Fatalf("got order %d replay=%v err=%v, want a second order", o.ID, replay, err)
		}
	})

	t.Run("same key, another caller", func(t *testing.T) {
		other := req
		other.KeyScope, other.Order.Owner = "bob", "bob"
		o, replay, err := s.Create(t.Context(), other)
		if err != nil || replay != nil || o.ID == first.ID {
			t.Fatalf("got order %d replay=%v err=%v, want bob's own new order: keys are per caller", o.ID, replay, err)
		}
	})

	t.Run("expired key", func(t *testing.T) {
		short := postgres.NewOrderStore(pool, postgres.StoreOptions{KeyTTL: time.Minute})
		if _, err := pool.Exec(t.Context(), "UPDATE idempotency_keys SET created_at = now() - interval '2 minutes' WHERE scope = 'alice' AND key = 'key-1'"); err != nil {
			t.Fatal(err)
		}
		o, replay, err := short.Create(t.Context(), req)
		if err != nil || replay != nil || o.ID == first.ID {
			t.Fatalf("got order %d replay=%v err=%v, want a new order: the key expired", o.ID, replay, err)
		}
		_, replay, err = short.Create(t.Context(), req)
		if err != nil || replay == nil || string(replay.Body) != string(receiptOf(o).Body) {
			t.Fatalf("got replay %+v err=%v, want the new order's answer", replay, err)
		}
	})

	t.Run("sweep", func(t *testing.T) {
		short := postgres.NewOrderStore(pool, postgres.StoreOptions{KeyTTL: time.Minute})
		if _, err := pool.Exec(t.Context(), "UPDATE idempotency_keys SET created_at = now() - interval '2 minutes' WHERE key = 'key-2'"); err != nil {
			t.Fatal(err)
		}
		n, err := short.SweepKeys(t.Context())
		if err != nil || n != 1 {
			t.Fatalf("got %d keys swept, err %v, want 1 (key-2)", n, err)
		}
		var left []string
		rows, _ := pool.Query(t.Context(), "SELECT scope || '/' || key FROM idempotency_keys ORDER BY 1")
		left, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || strings.Join(left, ",") != "alice/key-1,bob/key-1" {
			t.Errorf("got keys %v (%v), want alice/key-1,bob/key-1", left, err)
		}
	})
}

func TestIntegrationCreateIdempotentConcurrent(t *testing.T) {
	s, pool := newStore(t)
	req := orders.CreateRequest{
		Order:          orders.NewOrder{CustomerName: "Ada", Item: "Book", Quantity: 1},
		IdempotencyKey: "key-concurrent",
		RequestHash:    "hash",
		Receipt:        receiptOf,
	}
	const n = 10
	type result struct {
		body   string
		replay *orders.Receipt
		err    error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			var r result
			var o orders.Order
			o, r.replay, r.err = s.Create(t.Context(), req)
			if r.replay == nil {
				r.body = string(receiptOf(o).Body)
			} else {
				r.body = string(r.replay.Body)
			}
			results[i] = r // each goroutine owns its index
		})
	}
	close(start)
	wg.Wait()

	fresh := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("create %d: got error %v, want none", i, r.err)
		}
		if r.body != results[0].body {
			t.Errorf("create %d: got answer %q, want create 0's %q", i, r.body, results[0].body)
		}
		if r.replay == nil {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("got %d creates with replayed=false, want 1", fresh)
	}
	if got := countOrders(t, pool); got != 1 {
		t.Errorf("got %d orders, want 1", got)
	}
	if rows := readOutbox(t, pool); len(rows) != 1 {
		t.Errorf("got %d outbox rows, want 1", len(rows))
	}
}

// TestIntegrationConcurrentUpdates races many status changes of one order
// through the Service: the row lock must serialise them so that every
// accepted change bumps the version by exactly one and leaves exactly one
// event, and the events chain (each previousStatus is the status before).
func TestIntegrationConcurrentUpdates(t *testing.T) {
	s, pool := newStore(t)
	svc := orders.NewService(s)
	o := create(t, s, "Ada", "Book", 1)

	const goroutines = 50
	// Each goroutine walks the delivery path, skipping steps at random, and
	// always ends with DELIVERED: the racers overtake each other, so many
	// requests are no-ops or refused moves backwards. Random targets would
	// mostly hit a final status at once and leave little to race over.
	path := []orders.Status{orders.StatusConfirmed, orders.StatusShipped, orders.StatusOutForDelivery, orders.StatusDelivered}
	var accepted, refused atomic.Int64
	errs := make(chan error, goroutines*len(path))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			<-start
			for i, to := range path {
				if i < len(path)-1 && rand.N(2) == 0 {
					continue
				}
				_, changed, err := svc.UpdateStatus(t.Context(), orders.Anyone, o.ID, to, nil)
				var te *orders.TransitionError
				switch {
				case errors.As(err, &te):
					refused.Add(1) // the order moved past `to` already
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

	final, err := s.Get(t.Context(), o.ID)
	if err != nil {
		t.Fatalf("cannot get order: %v", err)
	}
	n := accepted.Load()
	t.Logf("%d changes accepted, %d refused", n, refused.Load())
	if n < 1 || n > int64(len(path)) {
		t.Errorf("got %d accepted changes, want 1 to %d", n, len(path))
	}
	if final.Status != orders.StatusDelivered {
		t.Errorf("got final status %s, want DELIVERED", final.Status)
	}
	if final.Version != 1+n {
		t.Errorf("got version %d, want %d (1 + %d accepted changes)", final.Version, 1+n, n)
	}

	rows := readOutbox(t, pool)
	if int64(len(rows)) != 1+n {
		t.Fatalf("got %d outbox rows, want %d (creation + %d accepted changes)", len(rows), 1+n, n)
	}
	prev := ""
	for i, r := range rows {
		e := r.Event
		wantType := events.TypeOrderUpdated
		if i == 0 {
			wantType = events.TypeOrderCreated
		}
		if e.Version != int64(i+1) || e.Type != wantType || e.PreviousStatus != prev {
			t.Errorf("outbox row %d: got %s version %d previousStatus %q, want %s version %d previousStatus %q",
				i, e.Type, e.Version, e.PreviousStatus, wantType, i+1, prev)
		}
		prev = e.Order.Status
	}
	if prev != string(final.Status) {
		t.Errorf("got last event status %s, want the order's final status %s", prev, final.Status)
	}
}

// TestIntegrationOutboxKeepsTraceparent checks that an outbox row keeps the
// traceparent of the change's context, for the relay to carry on.
func TestIntegrationOutboxKeepsTraceparent(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name string
		ctx  context.Context
		want *string
	}{
		{name: "in a trace", ctx: trace.ContextWithSpanContext(context.Background(), tracing.SpanContextFromTraceparent(tp)), want: ptr(tp)},
		{name: "outside any trace", ctx: context.Background(), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, pool := newStore(t)
			o, _, err := s.Create(tt.ctx, orders.CreateRequest{Order: orders.NewOrder{CustomerName: "Ada", Item: "Book", Quantity: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Update(tt.ctx, o.ID, func(o *orders.Order) (bool, error) { o.Status = orders.StatusConfirmed; return true, nil }); err != nil {
				t.Fatal(err)
			}
			rows, err := pool.Query(t.Context(), "SELECT traceparent FROM outbox ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[*string])
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("got %d outbox rows, want 2 (create, update)", len(got))
			}
			for i, g := range got {
				if (g == nil) != (tt.want == nil) || (g != nil && *g != *tt.want) {
					t.Errorf("row %d: got traceparent %v, want %v", i, deref(g), deref(tt.want))
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}
