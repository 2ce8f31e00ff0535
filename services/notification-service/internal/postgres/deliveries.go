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

// Deliver implements notify.DeliveryLog.
//
// Concurrency: two consumers can hold the same event at once while a
// rebalance moves its partition (the old owner is still sending when the
// new one starts). The claim is committed on its own, so both then find the
// row, and both take its row lock with SELECT ... FOR UPDATE before
// sending. The second blocks until the first commits, then reads 'sent'
// and skips; if the first failed, the row is still 'pending' and the
// second sends. A row lock rather than an advisory lock because the row
// exists anyway, its lock ends with the transaction whatever happens to the
// connection, and it needs no key scheme shared with other services.
//
// The price is a transaction, and a pooled connection, held open for the
// duration of the send. The webhook sender's timeout and retries bound it.
func (l *DeliveryLog) Deliver(ctx context.Context, n notify.Notification, send func(context.Context, notify.Notification) error) (notify.Outcome, error) {
	// Step 1, the claim: committed at once, so a failed or interrupted
	// attempt stays visible as 'pending' (with its error) in the log.
	if _, err := l.pool.Exec(ctx,
		`INSERT INTO notification_deliveries (event_id, channel, order_id, recipient, text)
		 VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT (event_id, channel) DO NOTHING`,
		n.EventID, n.Channel, n.OrderID, n.Recipient, n.Text); err != nil {
		return 0, fmt.Errorf("cannot claim delivery: %w", err)
	}

	var outcome notify.Outcome
	var sendErr error
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		// Step 2: the lock that serialises concurrent handlers of this
		// event, held until commit.
		var status notify.Status
		if err := tx.QueryRow(ctx,
			"SELECT status FROM notification_deliveries WHERE event_id = $1 AND channel = $2 FOR UPDATE",
			n.EventID, n.Channel).Scan(&status); err != nil {
			return fmt.Errorf("cannot lock delivery: %w", err)
		}
		if status == notify.StatusSent {
			outcome = notify.AlreadySent
			return nil
		}

		// Step 3. From here until the commit below succeeds, a crash means
		// the notification is sent again on redelivery (the documented
		// duplicate window).
		if sendErr = send(ctx, n); sendErr != nil {
			// Recorded for operators; the row stays 'pending', so the
			// redelivered event tries again.
			msg := sendErr.Error()
			if len(msg) > maxErrorLen {
				msg = msg[:maxErrorLen]
			}
			_, err := tx.Exec(ctx,
				`UPDATE notification_deliveries SET attempts = attempts + 1, last_error = $3
				 WHERE event_id = $1 AND channel = $2`,
				n.EventID, n.Channel, msg)
			return err
		}

		// Step 4. The text is what was actually sent: it differs from the
		// claim's if the templates changed between attempts.
		outcome = notify.Sent
		if _, err := tx.Exec(ctx,
			`UPDATE notification_deliveries
			 SET status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL, recipient = $3, text = $4
			 WHERE event_id = $1 AND channel = $2`,
			n.EventID, n.Channel, n.Recipient, n.Text); err != nil {
			return fmt.Errorf("cannot mark delivery sent: %w", err)
		}
		return nil
	})
	switch {
	case sendErr != nil:
		// The send's error decides what happens to the event (ErrPermanent
		// or not); a failure to record it only adds detail.
		return 0, fmt.Errorf("cannot send %s: %w", n.Channel, errors.Join(sendErr, err))
	case err != nil && outcome == notify.Sent:
		return 0, fmt.Errorf("%s sent but not recorded, a redelivery will send it again: %w", n.Channel, err)
	case err != nil:
		return 0, err
	}
	return outcome, nil
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
