package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/order-tracking/platform/pkg/events"
	pg "github.com/order-tracking/platform/pkg/postgres"
	"github.com/order-tracking/platform/services/orders-service/internal/orders"
	"github.com/order-tracking/platform/services/orders-service/internal/outbox"
)

// idempotencyLockSpace is the first key of the advisory locks that serialise
// requests sharing an idempotency key.
const idempotencyLockSpace int32 = 7272

// StoreOptions tunes an OrderStore; the zero value is usable.
type StoreOptions struct {
	// Source is the CloudEvents source of the events this store records.
	Source string
	// Wakeup is shared with the outbox relay of this process, whose writes
	// then wake it directly while it is the active relay (see
	// outbox.Wakeup); nil: every write notifies.
	Wakeup *outbox.Wakeup
	// KeyTTL is how long an idempotency key is remembered; default
	// DefaultKeyTTL. An older key is treated as never used, and
	// SweepKeys deletes it.
	KeyTTL time.Duration
	// PageTimeout bounds each page's query when Each lists every order;
	// default 2s, below the requests' deadline.
	PageTimeout time.Duration
}

// DefaultKeyTTL is how long idempotency keys are remembered unless
// IDEMPOTENCY_KEY_TTL says otherwise: a client's retries come within
// minutes, a day covers a client that was down overnight.
const DefaultKeyTTL = 24 * time.Hour

// idBlock is how many order ids the store takes from the orders' sequence
// at a time, as Hibernate's pooled sequence generators do (allocationSize
// 50): one round trip per block rather than one per order, which is what
// lets an order and its event be written in one statement (the event
// carries the id). Ids stay unique and increasing within a replica; a
// replica that stops leaves the rest of its block unused, a gap in the ids
// like the one a rolled-back insert leaves.
const idBlock = 50

// OrderStore is the PostgreSQL orders.Store. Its writes are one statement
// each (see outbox.Enqueue): a create is one round trip, an update two
// (read, then a write guarded by the version read).
type OrderStore struct {
	pool   *pgxpool.Pool
	source string
	wakeup *outbox.Wakeup
	keyTTL time.Duration
	// pageTimeout bounds each page of Each (see StoreOptions).
	pageTimeout time.Duration

	// idMu guards ids, the rest of the current block of order ids in
	// increasing order.
	idMu sync.Mutex
	ids  []int64
}

var _ orders.Store = (*OrderStore)(nil)

// NewOrderStore returns a store over pool.
func NewOrderStore(pool *pgxpool.Pool, opts StoreOptions) *OrderStore {
	if opts.Source == "" {
		opts.Source = "/orders-service"
	}
	if opts.KeyTTL <= 0 {
		opts.KeyTTL = DefaultKeyTTL
	}
	if opts.PageTimeout <= 0 {
		opts.PageTimeout = 2 * time.Second
	}
	return &OrderStore{pool: pool, source: opts.Source, wakeup: opts.Wakeup, keyTTL: opts.KeyTTL, pageTimeout: opts.PageTimeout}
}

// nextID returns an unused order id, taking a new block from the sequence
// when the current one is used up.
func (s *OrderStore) nextID(ctx context.Context) (int64, error) {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	if len(s.ids) == 0 {
		rows, err := s.pool.Query(ctx, "SELECT nextval(pg_get_serial_sequence('orders', 'id')) FROM generate_series(1, $1)", idBlock)
		if err != nil {
			return 0, fmt.Errorf("cannot allocate order ids: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return 0, fmt.Errorf("cannot allocate order ids: %w", err)
		}
		// Other sessions' nextval calls may interleave with ours: the block
		// is a set of ids, handed out in increasing order.
		slices.Sort(ids)
		s.ids = ids
	}
	id := s.ids[0]
	s.ids = s.ids[1:]
	return id, nil
}

// timestamp is the time of a change as the database stores it: UTC, in
// microseconds, so that the order returned equals the order read back.
func timestamp() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

// insertOrder writes a new order with an id from nextID; the identity
// column otherwise refuses ids it did not generate.
// It writes nothing once the request's deadline ($10, NULL for none) has
// passed by the database's clock (see deadlineOf).
const insertOrder = `INSERT INTO orders (id, customer_name, item, quantity, status, version, created_at, updated_at, owner, tracking_code)
	OVERRIDING SYSTEM VALUE SELECT $1, $2, $3, $4, $5, $6, $7, $7, NULLIF($8, ''), $9
	WHERE $10::timestamptz IS NULL OR clock_timestamp() < $10 RETURNING id, version, status, updated_at`

// updateOrder writes a change only if the order is still at the version
// it was read at ($3), and the request's deadline ($5) has not passed; it
// returns no row when another change came first or the deadline passed.
const updateOrder = `UPDATE orders SET status = $2, version = version + 1, updated_at = $4
	WHERE id = $1 AND version = $3 AND ($5::timestamptz IS NULL OR clock_timestamp() < $5) RETURNING id, version, status, updated_at`

// recordStatus writes the change's entry of the order's status timeline,
// in the change's statement (outbox.Change.Also): the timeline is the
// source of truth that tracking-service rebuilds its own from when Redis
// has lost it.
const recordStatus = `INSERT INTO order_status_history (order_id, version, status, at)
	SELECT id, version, status, updated_at FROM changed`

// deadlineOf is the deadline of ctx for the writes' guards, nil when it has
// none. A write checks it against the database's clock as it executes, so
// that a statement that reached a frozen server, and runs only once the
// server thaws, long after its client was answered 503, writes nothing:
// otherwise a client retrying the 503 would place the order twice. The
// guard trusts the service's and the database's clocks to agree to within
// a fraction of the request timeout, as NTP keeps them.
func deadlineOf(ctx context.Context) *time.Time {
	if d, ok := ctx.Deadline(); ok {
		return &d
	}
	return nil
}

// errDeadlinePassed is a write its guard refused.
var errDeadlinePassed = fmt.Errorf("the request's deadline passed before the change was written: %w", context.DeadlineExceeded)

// unavailable marks err as orders.ErrUnavailable when it means PostgreSQL
// cannot serve the request now (see pg.Unavailable): the API answers those
// with 503, not 500.
func unavailable(err error) error {
	if pg.Unavailable(err) && !errors.Is(err, orders.ErrUnavailable) {
		return fmt.Errorf("%w: %w", orders.ErrUnavailable, err)
	}
	return err
}

const orderColumns = "id, customer_name, item, quantity, status, version, created_at, updated_at, coalesce(owner, ''), tracking_code"

func scanOrder(row pgx.Row) (orders.Order, error) {
	var o orders.Order
	err := row.Scan(&o.ID, &o.CustomerName, &o.Item, &o.Quantity, &o.Status, &o.Version, &o.CreatedAt, &o.UpdatedAt, &o.Owner, &o.TrackingCode)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, orders.ErrNotFound
	}
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return o, err
}

// Create implements orders.Store. Without an idempotency key it is one
// statement; with one, a transaction serialises the requests sharing it.
func (s *OrderStore) Create(ctx context.Context, req orders.CreateRequest) (o orders.Order, replay *orders.Receipt, err error) {
	defer func() { err = unavailable(err) }()
	// The id is taken before any transaction: a block refill inside one
	// would need a second connection while holding the first, and callers
	// waiting on the idempotency lock could hold all the others.
	o, err = s.newOrder(ctx, req.Order)
	if err != nil {
		return orders.Order{}, nil, err
	}
	if req.IdempotencyKey == "" {
		return o, nil, s.insert(ctx, s.pool, s.wakeup, o)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Serialises requests that share a key, so two concurrent retries
		// cannot both miss the key and create two orders. The two-key form
		// keeps these locks apart from the relay's and goose's bigint locks.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2 || ':' || $3))",
			idempotencyLockSpace, req.KeyScope, req.IdempotencyKey); err != nil {
			return fmt.Errorf("cannot lock idempotency key: %w", err)
		}
		replay, err = s.replay(ctx, tx, req)
		if err != nil || replay != nil {
			return err
		}
		// No wake-up inside the transaction: the row is visible only once
		// it commits, so the relay is told by NOTIFY, at commit.
		if err := s.insert(ctx, tx, nil, o); err != nil {
			return err
		}
		r := req.Receipt(o)
		if _, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, order_id, response_status, response_header, response_body)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			req.KeyScope, req.IdempotencyKey, req.RequestHash, o.ID, r.Status, r.Header, r.Body); err != nil {
			return fmt.Errorf("cannot record idempotency key: %w", err)
		}
		return nil
	})
	if err != nil {
		return orders.Order{}, nil, err
	}
	return o, replay, nil
}

// replay returns the receipt kept with req's key, nil when the key is
// unused or expired (an expired key is deleted, to be used afresh), and
// ErrIdempotencyKeyReused when it was used for another request. It runs
// under the key's lock.
func (s *OrderStore) replay(ctx context.Context, tx pgx.Tx, req orders.CreateRequest) (*orders.Receipt, error) {
	var (
		hash    string
		first   int64
		expired bool
		status  *int
		header  map[string]string
		body    []byte
	)
	err := tx.QueryRow(ctx, `SELECT request_hash, order_id, created_at <= now() - make_interval(secs => $3),
			response_status, response_header, response_body
		FROM idempotency_keys WHERE scope = $1 AND key = $2`,
		req.KeyScope, req.IdempotencyKey, s.keyTTL.Seconds()).Scan(&hash, &first, &expired, &status, &header, &body)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("cannot look up idempotency key: %w", err)
	case expired:
		if _, err := tx.Exec(ctx, "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2", req.KeyScope, req.IdempotencyKey); err != nil {
			return nil, fmt.Errorf("cannot delete expired idempotency key: %w", err)
		}
		return nil, nil
	case hash != req.RequestHash:
		return nil, orders.ErrIdempotencyKeyReused
	case status != nil:
		return &orders.Receipt{Status: *status, Header: header, Body: body}, nil
	}
	// A key recorded before answers were kept: answer from the order.
	o, err := scanOrder(tx.QueryRow(ctx, "SELECT "+orderColumns+" FROM orders WHERE id = $1", first))
	if err != nil {
		return nil, fmt.Errorf("cannot read the order of idempotency key: %w", err)
	}
	r := req.Receipt(o)
	return &r, nil
}

// SweepKeysEvery runs SweepKeys every interval until ctx ends. A failed
// sweep is logged and tried again at the next tick: expired keys are
// already ignored by Create, the sweep only reclaims their space.
func (s *OrderStore) SweepKeysEvery(ctx context.Context, interval time.Duration, log *slog.Logger) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n, err := s.SweepKeys(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("cannot sweep expired idempotency keys", "err", err)
		case n > 0:
			log.Debug("swept expired idempotency keys", "deleted", n)
		}
	}
}

// SweepKeys deletes the idempotency keys older than the store's key TTL,
// in batches so that no statement holds many locks or runs long, and
// returns how many it deleted.
func (s *OrderStore) SweepKeys(ctx context.Context) (int64, error) {
	const batch = 5000
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE ctid IN (
			SELECT ctid FROM idempotency_keys WHERE created_at <= now() - make_interval(secs => $1) LIMIT $2)`,
			s.keyTTL.Seconds(), batch)
		if err != nil {
			return total, fmt.Errorf("cannot sweep idempotency keys: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < batch {
			return total, nil
		}
	}
}

// newOrder is n as the new PENDING order at version 1 that Create writes.
func (s *OrderStore) newOrder(ctx context.Context, n orders.NewOrder) (orders.Order, error) {
	id, err := s.nextID(ctx)
	if err != nil {
		return orders.Order{}, err
	}
	now := timestamp()
	return orders.Order{
		ID: id, CustomerName: n.CustomerName, Item: n.Item, Quantity: n.Quantity,
		Owner: n.Owner, TrackingCode: events.NewTrackingCode(),
		Status: orders.StatusPending, Version: 1, CreatedAt: now, UpdatedAt: now,
	}, nil
}

// insert writes the new order o and its OrderCreatedEvent in one statement.
func (s *OrderStore) insert(ctx context.Context, db outbox.Querier, w *outbox.Wakeup, o orders.Order) error {
	if applied, err := outbox.Enqueue(ctx, db, w, outbox.Change{SQL: insertOrder,
		Args: []any{o.ID, o.CustomerName, o.Item, o.Quantity, o.Status, o.Version, o.CreatedAt, o.Owner, o.TrackingCode, deadlineOf(ctx)},
		Also: []string{recordStatus}},
		events.NewOrderCreated(snapshot(o), o.Version, o.UpdatedAt), s.source); err != nil {
		return fmt.Errorf("cannot insert order: %w", err)
	} else if !applied {
		return errDeadlinePassed
	}
	return nil
}

// Get implements orders.Store.
func (s *OrderStore) Get(ctx context.Context, id int64) (orders.Order, error) {
	o, err := scanOrder(s.pool.QueryRow(ctx, "SELECT "+orderColumns+" FROM orders WHERE id = $1", id))
	return o, unavailable(err)
}

// History implements orders.Store.
func (s *OrderStore) History(ctx context.Context, id int64) (_ []orders.StatusChange, err error) {
	defer func() { err = unavailable(err) }()
	rows, err := s.pool.Query(ctx, "SELECT status, at, version FROM order_status_history WHERE order_id = $1 ORDER BY version", id)
	if err != nil {
		return nil, fmt.Errorf("cannot query status history: %w", err)
	}
	h, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (orders.StatusChange, error) {
		var c orders.StatusChange
		err := row.Scan(&c.Status, &c.At, &c.Version)
		c.At = c.At.UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read status history: %w", err)
	}
	if len(h) == 0 {
		return nil, orders.ErrNotFound
	}
	return h, nil
}

// pageSize is how many orders Each reads per query when the filter has no
// limit: memory holds one page, however many orders match.
const pageSize = 1000

// Each implements orders.Store. A filter without a limit (every order) is
// read a page at a time, each page by its own query bounded by PageTimeout
// and read whole before fn sees it, so that neither a slow client nor the
// size of the table makes one query run long, and a frozen database turns
// into an error within PageTimeout even for a caller without a deadline.
func (s *OrderStore) Each(ctx context.Context, f orders.Filter, fn func(orders.Order) error) (err error) {
	defer func() { err = unavailable(err) }()
	if f.Limit > 0 {
		page, err := s.page(ctx, f)
		if err != nil {
			return err
		}
		return each(page, fn)
	}
	f.Limit = pageSize
	for {
		pctx, cancel := context.WithTimeout(ctx, s.pageTimeout)
		page, err := s.page(pctx, f)
		cancel()
		if err != nil {
			return err
		}
		if err := each(page, fn); err != nil {
			return err
		}
		if len(page) < pageSize {
			return nil
		}
		f.After = page[len(page)-1].ID
	}
}

func each(os []orders.Order, fn func(orders.Order) error) error {
	for _, o := range os {
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// page reads the orders matching f, in id order, at most f.Limit of them
// when it is set.
func (s *OrderStore) page(ctx context.Context, f orders.Filter) ([]orders.Order, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	add("id > $%d", f.After)
	if f.ID != nil {
		add("id = $%d", *f.ID)
	}
	if f.Owner != nil {
		add("owner = $%d", *f.Owner)
	}
	if f.TrackingCode != nil {
		add("tracking_code = $%d", *f.TrackingCode)
	}
	if f.CustomerName != nil {
		add("customer_name = $%d", *f.CustomerName)
	}
	if f.Item != nil {
		add("item = $%d", *f.Item)
	}
	if f.Status != nil {
		add("status = $%d", string(*f.Status))
	}
	if f.UpdatedSince != nil {
		add("updated_at >= $%d", *f.UpdatedSince)
	}
	q := "SELECT " + orderColumns + " FROM orders WHERE " + strings.Join(where, " AND ") + " ORDER BY id"
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot query orders: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (orders.Order, error) { return scanOrder(row) })
	if err != nil {
		return nil, fmt.Errorf("cannot read orders: %w", err)
	}
	return out, nil
}

// Update implements orders.Store, optimistically: it reads the order, lets
// change decide, and writes the change and its event in one statement that
// applies only if the order is still at the version read. When another
// change came first it reads again and asks change again, so change may be
// called more than once. The write takes the order's row lock before its
// outbox row takes an id, so the events of one order are numbered in
// commit order (see outbox.Enqueue).
func (s *OrderStore) Update(ctx context.Context, id int64, change func(o *orders.Order) (bool, error)) (_ orders.Order, err error) {
	defer func() { err = unavailable(err) }()
	for {
		cur, err := s.Get(ctx, id)
		if err != nil {
			return orders.Order{}, err
		}
		o := cur
		changed, err := change(&o)
		if err != nil || !changed {
			return o, err
		}
		o.Version = cur.Version + 1
		o.UpdatedAt = timestamp()
		applied, err := outbox.Enqueue(ctx, s.pool, s.wakeup, outbox.Change{SQL: updateOrder,
			Args: []any{id, o.Status, cur.Version, o.UpdatedAt, deadlineOf(ctx)},
			Also: []string{recordStatus}},
			events.NewOrderUpdated(snapshot(o), string(cur.Status), o.Version, o.UpdatedAt), s.source)
		if err != nil {
			return orders.Order{}, fmt.Errorf("cannot update order: %w", err)
		}
		if applied {
			return o, nil
		}
		if err := ctx.Err(); err != nil {
			return orders.Order{}, fmt.Errorf("cannot update order: %w", err)
		}
	}
}

// snapshot is the event contract's view of an order.
func snapshot(o orders.Order) events.Order {
	return events.Order{
		ID:           o.ID,
		TrackingCode: o.TrackingCode,
		Owner:        o.Owner,
		CustomerName: o.CustomerName,
		Item:         o.Item,
		Quantity:     o.Quantity,
		Status:       string(o.Status),
		CreatedAt:    o.CreatedAt,
		UpdatedAt:    o.UpdatedAt,
	}
}
