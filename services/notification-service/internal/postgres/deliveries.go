package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	pg "github.com/order-tracking/platform/pkg/postgres"
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

// Deliver delivers one notification: DeliverAll of n alone.
func (l *DeliveryLog) Deliver(ctx context.Context, n notify.Notification, send func(context.Context, notify.Notification) error) (notify.Outcome, error) {
	outcomes, err := l.DeliverAll(ctx, []notify.Notification{n}, func(int) error { return send(ctx, n) })
	if err != nil {
		return 0, err
	}
	return outcomes[0], nil
}

// DeliverAll implements notify.DeliveryLog, in one transaction, so that
// the normal case (first delivery of the events, every send succeeds)
// costs one commit and two round trips to PostgreSQL whatever the number
// of notifications:
//
//  1. BEGIN, and insert each row as 'pending', or find it, and lock it,
//     in one statement (the upsert below), sent together;
//  2. skip those that are 'sent';
//  3. send the others in order, holding the locks, stopping at the first
//     failure;
//  4. mark those sent 'sent', record the failure on the failed one, drop
//     the rows this transaction inserted for those not attempted, and
//     COMMIT, sent together. When nothing was sent, roll back instead:
//     nothing to keep.
//
// Concurrency: two consumers can hold the same events at once while a
// rebalance moves their partition (the old owner is still sending when
// the new one starts). The second one's upsert waits on the first one's
// uncommitted rows (or their row locks) until the first transaction ends;
// it then finds each row 'sent' and skips it, or, if the first failed and
// recorded it, 'pending' and sends, or, if the first died (rolled back),
// no row and inserts it. Both take the locks in event order, which is
// partition order, so they cannot deadlock on each other (PostgreSQL would
// break such a cycle anyway, failing one side, which is retried). A row
// lock rather than an advisory lock because the row exists anyway, its
// lock ends with the transaction whatever happens to the connection, and
// it needs no key scheme shared with other services.
//
// Crashes: nothing is committed before the sends' results are known, so a
// crash (or a lost connection) between a send and the commit leaves no
// row for a first delivery, or the pending row of an earlier failed
// attempt: the redelivered event is sent again, once. That is the window
// the package notify documents: at most one duplicate of each
// notification of the batch in hand per crash. A failed send is committed
// as a 'pending' row with its error, so operators see failed attempts
// (GET /notifications); an attempt still in progress, or cut off by a
// crash, is not visible until the event is handled again.
//
// The price is a transaction, and a pooled connection, held open for the
// duration of the sends. ctx bounds them (the dispatcher gives each
// message 30s), and the webhook sender's timeout and retries bound each.
func (l *DeliveryLog) DeliverAll(ctx context.Context, ns []notify.Notification, send func(i int) error) ([]notify.Outcome, error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot begin delivery: %w", err)
	}
	// Every path that does not commit rolls back, under a context the
	// sends' deadline cannot have cut off. A connection that could not
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
	// for it (a new row version). One statement may not touch a row
	// twice, so a notification that appears twice in ns (a record the
	// relay published twice) is claimed once. The BEGIN travels with it:
	// the transaction it opens outlives the batch.
	type key struct {
		event   string
		channel notify.Channel
	}
	claim := claimArgs{}
	first := make(map[key]int, len(ns)) // index in ns of each key's first appearance
	// PostgreSQL writes uuids in lower case; events may not.
	keyOf := func(n notify.Notification) key { return key{strings.ToLower(n.EventID), n.Channel} }
	for i, n := range ns {
		k := keyOf(n)
		if _, seen := first[k]; !seen {
			first[k] = i
			claim.add(n)
		}
	}
	status := make(map[key]notify.Status, len(first))
	// newest is, per order and channel, the newest version sent: a
	// notification older than it is superseded, not sent.
	type stream struct {
		order   int64
		channel notify.Channel
	}
	newest := map[stream]int64{}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(`INSERT INTO notification_deliveries (event_id, channel, order_id, recipient, text, version)
		 SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[])
		 ON CONFLICT (event_id, channel) DO UPDATE SET status = notification_deliveries.status
		 RETURNING event_id::text, channel, status`,
		claim.events, claim.channels, claim.orders, claim.recipients, claim.texts, claim.versions).Query(func(rows pgx.Rows) error {
		var (
			k key
			s notify.Status
		)
		_, err := pgx.ForEachRow(rows, []any{&k.event, &k.channel, &s}, func() error {
			status[k] = s
			return nil
		})
		return err
	})
	// After the claims, under their row locks: a concurrent delivery of
	// a newer version of the same order waits for them or is seen here.
	b.Queue(`SELECT order_id, channel, max(version) FROM notification_deliveries
		 WHERE order_id = ANY($1) AND status = 'sent' AND version IS NOT NULL GROUP BY order_id, channel`,
		claim.orders).Query(func(rows pgx.Rows) error {
		var (
			st stream
			v  int64
		)
		_, err := pgx.ForEachRow(rows, []any{&st.order, &st.channel, &v}, func() error {
			newest[st] = v
			return nil
		})
		return err
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("cannot claim delivery: %w", err)
	}

	// Steps 2 and 3. From the first send until the commit below succeeds,
	// a crash means the notifications sent are sent again on redelivery
	// (the documented duplicate window).
	outcomes := make([]notify.Outcome, 0, len(ns))
	var (
		sent       markArgs
		superseded claimArgs
		sendErr    error
	)
	for i, n := range ns {
		k := keyOf(n)
		st := stream{n.OrderID, n.Channel}
		switch {
		case status[k] == notify.StatusSent || status[k] == notify.StatusSuperseded || first[k] != i:
			// Sent (or passed over) before, or by this very batch.
			outcomes = append(outcomes, notify.AlreadySent)
			continue
		case n.Version > 0 && n.Version < newest[st]:
			status[k] = notify.StatusSuperseded
			superseded.add(n)
			outcomes = append(outcomes, notify.Superseded)
			continue
		}
		if sendErr = send(i); sendErr != nil {
			break
		}
		status[k] = notify.StatusSent
		newest[st] = max(newest[st], n.Version)
		sent.add(n, time.Now())
		outcomes = append(outcomes, notify.Sent)
	}
	if len(sent.events) == 0 && len(superseded.events) == 0 && sendErr == nil {
		// Step 2 only: the deferred rollback discards the no-op updates and
		// releases the locks; nothing is committed.
		return outcomes, nil
	}

	// Step 4. The text is what was actually sent: it differs from the
	// row's if the templates changed since an earlier failed attempt.
	rctx, cancel := recordContext(ctx)
	defer cancel()
	b = &pgx.Batch{}
	if len(superseded.events) > 0 {
		// Kept, not dropped: a redelivery then finds them decided, and
		// GET /notifications shows why they were not sent.
		b.Queue(`UPDATE notification_deliveries d SET status = 'superseded'
			 FROM unnest($1::uuid[], $2::text[]) AS u(event_id, channel)
			 WHERE d.event_id = u.event_id AND d.channel = u.channel`,
			superseded.events, superseded.channels)
	}
	if len(sent.events) > 0 {
		b.Queue(`UPDATE notification_deliveries d
			 SET status = 'sent', sent_at = u.sent_at, attempts = d.attempts + 1, last_error = NULL, recipient = u.recipient, text = u.text
			 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS u(event_id, channel, recipient, text, sent_at)
			 WHERE d.event_id = u.event_id AND d.channel = u.channel`,
			sent.events, sent.channels, sent.recipients, sent.texts, sent.at)
	}
	if sendErr != nil {
		// The failed one is recorded for operators, and its row stays
		// 'pending', so the redelivered event tries again (or, for
		// notify.ErrPermanent, the event is dead-lettered and the row says
		// why). Rows of those after it were claimed but not attempted:
		// the ones this transaction inserted (pending, no attempt yet; a
		// row committed pending always has one) are dropped, as if never
		// claimed.
		n := ns[len(outcomes)]
		msg := sendErr.Error()
		if len(msg) > maxErrorLen {
			msg = msg[:maxErrorLen]
		}
		b.Queue(`UPDATE notification_deliveries SET attempts = attempts + 1, last_error = $3
			 WHERE event_id = $1 AND channel = $2`, n.EventID, n.Channel, msg)
		var rest claimArgs
		for _, r := range ns[len(outcomes)+1:] {
			rest.add(r)
		}
		if len(rest.events) > 0 {
			b.Queue(`DELETE FROM notification_deliveries d
				 USING unnest($1::uuid[], $2::text[]) AS u(event_id, channel)
				 WHERE d.event_id = u.event_id AND d.channel = u.channel AND d.status = 'pending' AND d.attempts = 0`,
				rest.events, rest.channels)
		}
	}
	b.Queue("COMMIT")
	if err := conn.SendBatch(rctx, b).Close(); err != nil {
		if sendErr != nil {
			err = fmt.Errorf("cannot record the failed attempt: %w", err)
			return nil, fmt.Errorf("cannot send %s: %w", ns[len(outcomes)].Channel, errors.Join(sendErr, err))
		}
		return nil, fmt.Errorf("%d notifications sent but not recorded, a redelivery will send them again: %w", len(sent.events), err)
	}
	if sendErr != nil {
		return outcomes, fmt.Errorf("cannot send %s: %w", ns[len(outcomes)].Channel, sendErr)
	}
	return outcomes, nil
}

// claimArgs are the claim statement's arrays, one element per row.
type claimArgs struct {
	events, channels, recipients, texts []string
	orders, versions                    []int64
}

func (a *claimArgs) add(n notify.Notification) {
	a.versions = append(a.versions, n.Version)
	a.events = append(a.events, n.EventID)
	a.channels = append(a.channels, string(n.Channel))
	a.orders = append(a.orders, n.OrderID)
	a.recipients = append(a.recipients, n.Recipient)
	a.texts = append(a.texts, n.Text)
}

// markArgs are the arrays of the statement marking rows sent.
type markArgs struct {
	claimArgs
	at []time.Time
}

func (a *markArgs) add(n notify.Notification, at time.Time) {
	a.claimArgs.add(n)
	a.at = append(a.at, at)
}

// CheckWrite reports whether the delivery log accepts a write: the
// consumer's gate. A ping passes while PostgreSQL refuses writes (a
// read-only standby after a failover, a full disk), and every event would
// then fail while the gate said all was well.
func (l *DeliveryLog) CheckWrite(ctx context.Context) error {
	if _, err := l.pool.Exec(ctx, "INSERT INTO consumer_gate (id, at) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET at = excluded.at"); err != nil {
		return fmt.Errorf("the delivery log refuses writes: %w", err)
	}
	return nil
}

// List implements notify.DeliveryLog. Newest first means latest claimed:
// one order's events share a partition and are handled in order, so that is
// event order.
func (l *DeliveryLog) List(ctx context.Context, orderID int64) (_ []notify.Delivery, err error) {
	defer func() {
		if pg.Unavailable(err) {
			err = fmt.Errorf("%w: %w", notify.ErrUnavailable, err)
		}
	}()
	rows, err := l.pool.Query(ctx,
		`SELECT event_id::text, order_id, channel, recipient, text, coalesce(version, 0), status, sent_at
		 FROM notification_deliveries WHERE order_id = $1 ORDER BY id DESC`, orderID)
	if err != nil {
		return nil, fmt.Errorf("cannot query deliveries: %w", err)
	}
	defer rows.Close()
	out := []notify.Delivery{}
	for rows.Next() {
		var d notify.Delivery
		var sentAt *time.Time
		if err := rows.Scan(&d.EventID, &d.OrderID, &d.Channel, &d.Recipient, &d.Text, &d.Version, &d.Status, &sentAt); err != nil {
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
