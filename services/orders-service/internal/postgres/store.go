package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/order-tracking/platform/pkg/events"
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
}

// OrderStore is the PostgreSQL orders.Store.
type OrderStore struct {
	pool   *pgxpool.Pool
	source string
}

var _ orders.Store = (*OrderStore)(nil)

// NewOrderStore returns a store over pool.
func NewOrderStore(pool *pgxpool.Pool, opts StoreOptions) *OrderStore {
	if opts.Source == "" {
		opts.Source = "/orders-service"
	}
	return &OrderStore{pool: pool, source: opts.Source}
}

const orderColumns = "id, customer_name, item, quantity, status, version, created_at, updated_at"

func scanOrder(row pgx.Row) (orders.Order, error) {
	var o orders.Order
	err := row.Scan(&o.ID, &o.CustomerName, &o.Item, &o.Quantity, &o.Status, &o.Version, &o.CreatedAt, &o.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, orders.ErrNotFound
	}
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return o, err
}

// Create implements orders.Store.
func (s *OrderStore) Create(ctx context.Context, req orders.CreateRequest) (o orders.Order, replayed bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if req.IdempotencyKey != "" {
			// Serialises requests that share a key, so two concurrent retries
			// cannot both miss the key and create two orders. The two-key form
			// keeps these locks apart from the relay's and goose's bigint locks.
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", idempotencyLockSpace, req.IdempotencyKey); err != nil {
				return fmt.Errorf("cannot lock idempotency key: %w", err)
			}
			var hash string
			var id int64
			err := tx.QueryRow(ctx, "SELECT request_hash, order_id FROM idempotency_keys WHERE key = $1", req.IdempotencyKey).Scan(&hash, &id)
			switch {
			case err == nil:
				if hash != req.RequestHash {
					return orders.ErrIdempotencyKeyReused
				}
				replayed = true
				o, err = scanOrder(tx.QueryRow(ctx, "SELECT "+orderColumns+" FROM orders WHERE id = $1", id))
				return err
			case !errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("cannot look up idempotency key: %w", err)
			}
		}
		o, err = scanOrder(tx.QueryRow(ctx,
			"INSERT INTO orders (customer_name, item, quantity, status) VALUES ($1, $2, $3, $4) RETURNING "+orderColumns,
			req.Order.CustomerName, req.Order.Item, req.Order.Quantity, orders.StatusPending))
		if err != nil {
			return fmt.Errorf("cannot insert order: %w", err)
		}
		if req.IdempotencyKey != "" {
			if _, err := tx.Exec(ctx, "INSERT INTO idempotency_keys (key, request_hash, order_id) VALUES ($1, $2, $3)",
				req.IdempotencyKey, req.RequestHash, o.ID); err != nil {
				return fmt.Errorf("cannot record idempotency key: %w", err)
			}
		}
		// In the same transaction: the event exists if and only if the order
		// change does.
		return outbox.Enqueue(ctx, tx, events.NewOrderCreated(snapshot(o), o.Version, o.UpdatedAt), s.source)
	})
	return o, replayed, err
}

// Get implements orders.Store.
func (s *OrderStore) Get(ctx context.Context, id int64) (orders.Order, error) {
	return scanOrder(s.pool.QueryRow(ctx, "SELECT "+orderColumns+" FROM orders WHERE id = $1", id))
}

// List implements orders.Store.
func (s *OrderStore) List(ctx context.Context, f orders.Filter) ([]orders.Order, error) {
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
	if f.CustomerName != nil {
		add("customer_name = $%d", *f.CustomerName)
	}
	if f.Item != nil {
		add("item = $%d", *f.Item)
	}
	if f.Status != nil {
		add("status = $%d", string(*f.Status))
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
	defer rows.Close()
	out := []orders.Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("cannot read order: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Update implements orders.Store.
func (s *OrderStore) Update(ctx context.Context, id int64, change func(o *orders.Order) (bool, error)) (orders.Order, error) {
	var o orders.Order
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The row lock orders concurrent changes of one order: each sees the
		// previous one's version, and each writes its outbox row (and takes
		// its outbox id) after the previous one committed. That is what makes
		// outbox id order match commit order for the events of one order.
		cur, err := scanOrder(tx.QueryRow(ctx, "SELECT "+orderColumns+" FROM orders WHERE id = $1 FOR UPDATE", id))
		if err != nil {
			return err
		}
		o = cur
		changed, err := change(&o)
		if err != nil || !changed {
			return err
		}
		o, err = scanOrder(tx.QueryRow(ctx,
			"UPDATE orders SET status = $2, version = version + 1, updated_at = now() WHERE id = $1 RETURNING "+orderColumns,
			id, o.Status))
		if err != nil {
			return fmt.Errorf("cannot update order: %w", err)
		}
		return outbox.Enqueue(ctx, tx, events.NewOrderUpdated(snapshot(o), string(cur.Status), o.Version, o.UpdatedAt), s.source)
	})
	return o, err
}

// snapshot is the event contract's view of an order.
func snapshot(o orders.Order) events.Order {
	return events.Order{
		ID:           o.ID,
		CustomerName: o.CustomerName,
		Item:         o.Item,
		Quantity:     o.Quantity,
		Status:       string(o.Status),
		CreatedAt:    o.CreatedAt,
		UpdatedAt:    o.UpdatedAt,
	}
}
