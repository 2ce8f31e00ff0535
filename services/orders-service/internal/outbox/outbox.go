// Package outbox owns the transactional outbox: Enqueue writes an event's
// row inside the transaction that changes the order, and the Relay
// publishes the rows to Kafka in order, removing each only once the broker
// has acknowledged it. The table itself is created by the orders-service
// migrations (internal/postgres/migrations), which run before either.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/tracing"
)

// channel is the LISTEN/NOTIFY channel on which Enqueue wakes the relay.
// Unexported: both ends live in this package, so they cannot drift apart.
const channel = "outbox"

// Enqueue writes e, encoded with the CloudEvents source, to the outbox
// inside tx and notifies the relay. Taking the caller's transaction is the
// point: the row exists if and only if the change it reports commits, and
// the notification is delivered only if tx commits. The row keeps the W3C
// traceparent of the span in ctx (the request's), so that the relay's
// publish and the consumers continue that request's trace.
//
// The relay publishes in outbox id order, so callers must serialise the
// changes of one order (a row lock) before calling Enqueue: that is what
// makes id order match commit order for the events of one order.
func Enqueue(ctx context.Context, tx pgx.Tx, e events.Event, source string) error {
	key, value, headers, err := events.Encode(e, source)
	if err != nil {
		return fmt.Errorf("cannot encode event: %w", err)
	}
	hdrs, err := json.Marshal(headers)
	if err != nil {
		return fmt.Errorf("cannot encode event headers: %w", err)
	}
	var traceparent *string // NULL: the change was made outside any trace
	if tp := tracing.Traceparent(ctx); tp != "" {
		traceparent = &tp
	}
	if _, err := tx.Exec(ctx,
		`INSERT INTO outbox (event_id, event_type, order_id, version, message_key, payload, headers, traceparent)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, e.Type, e.OrderID, e.Version, key, value, hdrs, traceparent); err != nil {
		return fmt.Errorf("cannot write outbox row: %w", err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_notify($1, '')", channel); err != nil {
		return fmt.Errorf("cannot notify outbox relay: %w", err)
	}
	return nil
}
