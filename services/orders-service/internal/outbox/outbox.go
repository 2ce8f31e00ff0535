// Package outbox owns the transactional outbox: Enqueue writes an event's
// row in the same statement that changes the order, and the Relay
// publishes the rows to Kafka in order, removing each only once the broker
// has acknowledged it. The table itself is created by the orders-service
// migrations (internal/postgres/migrations), which run before either.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/tracing"
)

// channel is the LISTEN/NOTIFY channel on which Enqueue wakes the relay.
// Unexported: both ends live in this package, so they cannot drift apart.
const channel = "outbox"

// Enqueue applies an order change and records its event e in one SQL
// statement, so that the event exists if and only if the change does and
// a write costs one round trip to PostgreSQL instead of a transaction of
// several. change is a data-modifying statement (INSERT ... or UPDATE ...
// RETURNING something) with the parameters $1 to $len(args); it applies
// when it returns a row, and only then is e's row written and the relay
// notified. applied reports whether it did: an UPDATE guarded by the
// version it read returns no row once another change got there first.
//
// The relay is woken by a NOTIFY sent when the statement commits, or, when
// w is the Wakeup of this process's active relay, directly once the
// statement has returned; then db must commit with the statement (a pool,
// not a transaction the caller commits later). Pass a nil w inside a
// transaction.
//
// e is encoded with the CloudEvents source. The row keeps the W3C
// traceparent of the span in ctx (the request's), so that the relay's
// publish and the consumers continue that request's trace.
//
// The relay publishes in outbox id order. The outbox row is formed from
// change's output, so its id is taken after change has locked the order's
// row, which a concurrent change of the same order must wait for: the
// events of one order get ids in commit order. db is a pool, or the
// caller's transaction when the change needs more than one statement.
func Enqueue(ctx context.Context, db Querier, w *Wakeup, c Change, e events.Event, source string) (applied bool, err error) {
	key, value, headers, err := events.Encode(e, source)
	if err != nil {
		return false, fmt.Errorf("cannot encode event: %w", err)
	}
	hdrs, err := json.Marshal(headers)
	if err != nil {
		return false, fmt.Errorf("cannot encode event headers: %w", err)
	}
	var traceparent *string // NULL: the change was made outside any trace
	if tp := tracing.Traceparent(ctx); tp != "" {
		traceparent = &tp
	}
	n := len(c.Args)
	local := w.local()
	sql := statement(c, n, local)
	all := append(c.Args[:n:n], e.ID, e.Type, e.OrderID, e.Version, key, value, hdrs, traceparent)
	var rows int
	if err := db.QueryRow(ctx, sql, all...).Scan(&rows); err != nil {
		return false, fmt.Errorf("cannot write change and outbox row: %w", err)
	}
	if rows > 0 && local {
		w.signal()
	}
	return rows > 0, nil
}

// Change is an order change as Enqueue writes it.
type Change struct {
	// SQL is a data-modifying statement (INSERT ... or UPDATE ...
	// RETURNING ...) with the parameters $1 to $len(Args); it applies when
	// it returns a row.
	SQL  string
	Args []any
	// Also are more data-modifying statements that read the change's
	// output from the CTE "changed", such as the row of the order's status
	// timeline; they run in the same statement, so they exist if and only
	// if the change does.
	Also []string
}

// statementKey names one of Enqueue's statements: the caller's change, how
// many parameters it takes, and whether the statement notifies.
type statementKey struct {
	change, also string
	params       int
	local        bool
}

// statements holds Enqueue's statements, built once each: the callers'
// changes are constants, so there are a handful, and a write on the hot
// path then costs no string building.
var statements sync.Map // statementKey -> string

// statement is the SQL of Enqueue for change with its params parameters:
// change, then the outbox row from its output (parameters params+1 to
// params+8), then, unless local, the NOTIFY; it answers how many rows the
// change produced.
func statement(c Change, params int, local bool) string {
	// One statement in Also, the usual case, keys without building a
	// string on the hot path.
	also := ""
	switch len(c.Also) {
	case 0:
	case 1:
		also = c.Also[0]
	default:
		also = strings.Join(c.Also, "\x00")
	}
	key := statementKey{c.SQL, also, params, local}
	if sql, ok := statements.Load(key); ok {
		return sql.(string)
	}
	p := func(i int) string { return "$" + strconv.Itoa(params+i) }
	sql := "WITH changed AS (" + c.SQL + "),"
	for i, also := range c.Also {
		sql += " also" + strconv.Itoa(i) + " AS (" + also + "),"
	}
	sql += `
		event AS (
			INSERT INTO outbox (event_id, event_type, order_id, version, message_key, payload, headers, traceparent)
			SELECT ` + p(1) + `, ` + p(2) + `, ` + p(3) + `, ` + p(4) + `, ` + p(5) + `, ` + p(6) + `, ` + p(7) + `, ` + p(8) + ` FROM changed
			RETURNING id)`
	if local {
		sql += " SELECT count(*) FROM event"
	} else {
		sql += `, woken AS (SELECT pg_notify('` + channel + `', '') FROM event)
		SELECT count(*) FROM woken`
	}
	statements.Store(key, sql)
	return sql
}
