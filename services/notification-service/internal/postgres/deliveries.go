package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/order-tracking/platform/services/notification-service/internal/notify"
)

// DeliveryLog is the PostgreSQL notify.DeliveryLog, over the
// notification_deliveries table.
type DeliveryLog struct {
	pool *pgxpool.Pool
}

var _ notify.DeliveryLog = (*DeliveryLog)(nil)

// NewDeliveryLog returns a delivery log over pool.
func NewDeliveryLog(pool *pgxpool.Pool) *DeliveryLog {
	return &DeliveryLog{pool: pool}
}

// maxErrorLen caps the last_error kept per row: enough to diagnose, not a
// whole HTML error page from a provider.
const maxErrorLen = 1000

// recordTimeout bounds what follows the send: recording its result and
// committing. It runs under a context of its own, not the send's, so that a
// send that succeeded just before the handler's deadline is still recorded
// rather than sent again on redelivery.
const recordTimeout = 5 * time.Second

// recordContext is ctx without its cancellation and deadline, bounded by
// recordTimeout from now instead: see recordTimeout.
func recordContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
}

// Deliver implements notify.DeliveryLog, in one transaction, so that the
// normal case (first delivery of the event, send succeeds) costs one
// commit and two round trips to PostgreSQL:
//
//  1. BEGIN, and insert the row as 'pending', or find it, and lock it, in
//     one statement (the upsert below), sent together;
//  2. if it is 'sent', roll back (nothing to keep) and report AlreadySent;
//  3. send, holding the lock;
//  4. mark the row 'sent', or record the failure on it, and COMMIT, sent
//     together.
//
// Concurrency: two consumers can hold the same event at once while a
// rebalance moves its partition (the old owner is still sending when the
// new one starts). The second one's upsert waits on the first one's
// uncommitted row (or its row lock) until the first transaction ends; it
// then finds the row 'sent' and skips, or, if the first failed and
// recorded it, 'pending' and sends, or, if the first died (rolled back),
// no row and inserts it. A row lock rather than an advisory lock because
// the row exists anyway, its lock ends with the transaction whatever
// happens to the connection, and it needs no key scheme shared with other
// services.
//
// Crashes: nothing is committed before the send's result is known, so a
// crash (or a lost connection) between the send and the commit leaves no
// row for a first delivery, or the pending row of an earlier failed
// attempt: the redelivered event is sent again, once. That is the window
// the package notify documents, unchanged: at most one duplicate per
// crash. A failed send is committed as a 'pending' row with its error, so
// operators see failed attempts (GET /notifications); an attempt still in
// progress, or cut off by a crash, is not visible until the event is
// handled again.
//
// The price is a transaction, and a pooled connection, held open for the
// duration of the send. ctx bounds the send (the dispatcher gives each
// message 30s), and the webhook sender's timeout and retries bound it too.
func (l *DeliveryLog) Deliver(ctx context.Context, n notify.Notification, send func(context.Context, notify.Notification) error) (notify.Outcome, error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("cannot begin delivery: %w", err)
	}
	// Every path that does not commit rolls back, under a context the
	// send's deadline cannot have cut off. A connection that could not
	// roll back is closed by the pool on release rather than handed out
	// inside a transaction.
	defer func() {
		if conn.Conn().PgConn().TxStatus() != 'I' {
			rctx, cancel := recordContext(ctx)
			defer cancel()
			_, _ = conn.Exec(rctx, "ROLLBACK")
		}
		conn.Release()
	}()

	// Step 1. DO NOTHING would not lock an existing row, so a conflict
	// makes a no-op update instead: it takes the row lock, waits for a
	// concurrent transaction holding the same event, and RETURNING gives
	// the status committed by whoever came first. Only a redelivery pays
	// for it (a new row version). The BEGIN travels with it: the
	// transaction it opens outlives the batch.
	var status notify.Status
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(`INSERT INTO notification_deliveries (event_id, channel, order_id, recipient, text)
		 VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT (event_id, channel) DO UPDATE SET status = notification_deliveries.status
		 RETURNING status`,
		n.EventID, n.Channel, n.OrderID, n.Recipient, n.Text).QueryRow(func(r pgx.Row) error { return r.Scan(&status) })
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("cannot claim delivery: %w", err)
	}
	// Step 2: the deferred rollback discards the no-op update and releases
	// the lock; nothing is committed.
	if status == notify.StatusSent {
		return notify.AlreadySent, nil
	}

	// Step 3. From here until the commit below succeeds, a crash means the
	// notification is sent again on redelivery (the documented duplicate
	// window).
	sendErr := send(ctx, n)
	rctx, cancel := recordContext(ctx)
	defer cancel()
	if sendErr != nil {
		// Step 4, failed: recorded for operators, and the row stays
		// 'pending', so the redelivered event tries again (or, for
		// notify.ErrPermanent, the event is dead-lettered and the row says
		// why). The send's error decides what happens to the event; a
		// failure to record it only adds detail.
		msg := sendErr.Error()
		if len(msg) > maxErrorLen {
			msg = msg[:maxErrorLen]
		}
		if err := execAndCommit(rctx, conn, `UPDATE notification_deliveries SET attempts = attempts + 1, last_error = $3
			 WHERE event_id = $1 AND channel = $2`,
			n.EventID, n.Channel, msg); err != nil {
			err = fmt.Errorf("cannot record the failed attempt: %w", err)
			return 0, fmt.Errorf("cannot send %s: %w", n.Channel, errors.Join(sendErr, err))
		}
		return 0, fmt.Errorf("cannot send %s: %w", n.Channel, sendErr)
	}

	// Step 4, sent. The text is what was actually sent: it differs from
	// the row's if the templates changed since an earlier failed attempt.
	// clock_timestamp, not now(): now() is when the transaction began,
	// before the send.
	if err := execAndCommit(rctx, conn, `UPDATE notification_deliveries
		 SET status = 'sent', sent_at = clock_timestamp(), attempts = attempts + 1, last_error = NULL, recipient = $3, text = $4
		 WHERE event_id = $1 AND channel = $2`,
		n.EventID, n.Channel, n.Recipient, n.Text); err != nil {
		return 0, fmt.Errorf("%s sent but not recorded, a redelivery will send it again: %w", n.Channel, err)
	}
	return notify.Sent, nil
}

// execAndCommit runs sql and the COMMIT of conn's open transaction in one
// round trip. If sql fails, PostgreSQL skips the COMMIT queued behind it,
// and the caller's rollback ends the transaction.
func execAndCommit(ctx context.Context, conn *pgxpool.Conn, sql string, args ...any) error {
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	b.Queue("COMMIT")
	return conn.SendBatch(ctx, b).Close()
}

// List implements notify.DeliveryLog. Newest first means latest claimed:
// one order's events share a partition and are handled in order, so that is
// event order.
func (l *DeliveryLog) List(ctx context.Context, orderID int64) ([]notify.Delivery, error) {
	rows, err := l.pool.Query(ctx,
		`SELECT event_id::text, order_id, channel, recipient, text, status, sent_at
		 FROM notification_deliveries WHERE order_id = $1 ORDER BY id DESC`, orderID)
	if err != nil {
		return nil, fmt.Errorf("cannot query deliveries: %w", err)
	}
	defer rows.Close()
	out := []notify.Delivery{}
	for rows.Next() {
		var d notify.Delivery
		var sentAt *time.Time
		if err := rows.Scan(&d.EventID, &d.OrderID, &d.Channel, &d.Recipient, &d.Text, &d.Status, &sentAt); err != nil {
			return nil, fmt.Errorf("cannot read delivery: %w", err)
		}
		if sentAt != nil {
			utc := sentAt.UTC()
			d.SentAt = &utc
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read deliveries: %w", err)
	}
	return out, nil
}
