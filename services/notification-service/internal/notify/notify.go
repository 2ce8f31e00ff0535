// Package notify turns order events into customer notifications: an email
// when an order is placed, an SMS when its status changes. It holds the
// domain types, the Sender and DeliveryLog interfaces that adapters
// implement, the message templates, and the Notifier that ties them
// together.
//
// # Delivery guarantee
//
// Kafka delivers at least once, so the same event can arrive again after a
// rebalance, a restart or a retry. The DeliveryLog records every
// notification under (event id, channel) and the Notifier sends only
// through DeliveryLog.DeliverAll, which does, in one transaction for the
// events the consumer hands over together (up to 64 already fetched):
//
//  1. insert each row as 'pending', or find it, and lock it (one upsert);
//  2. skip those that are 'sent';
//  3. send the others in order, still holding the locks, stopping at the
//     first failure;
//  4. mark the rows 'sent' (and record the failed attempt, if any) and
//     commit, which releases the locks.
//
// The normal case, a first delivery whose sends succeed, therefore costs
// one commit per batch, and a batch of one is a single event handled
// alone. A redelivered event sends nothing new, and two consumers handling
// the same event at once (during a rebalance) are serialised by the row
// lock: the second waits, then sees 'sent' and skips. A failed send is
// committed as a 'pending' row with its error, so the attempt is visible
// to operators and the redelivered event tries again.
//
// The remaining window: if the process dies, or the database becomes
// unreachable, after the provider accepted a notification (step 3) but
// before the commit of step 4, the transaction is rolled back: no row is
// left for a first delivery (the 'pending' row of an earlier failed
// attempt otherwise), and the redelivered event sends it again. That is
// at most one duplicate of each notification of the batch in hand per
// such crash. No scheme closes it without the provider's help, which is
// why the webhook sender passes the event id as Idempotency-Key: a
// provider that honours it drops the duplicate.
package notify

import (
	"context"
	"errors"
	"time"
)

// Channel is how a notification reaches the customer.
type Channel string

// The channels. The values are stored in the delivery log and shown by the
// API, so they are part of the contract.
const (
	// ChannelEmail is used for OrderCreatedEvent.
	ChannelEmail Channel = "email"
	// ChannelSMS is used for OrderUpdatedEvent.
	ChannelSMS Channel = "sms"
)

// Notification is one message to one customer, caused by one event.
type Notification struct {
	// EventID is the id of the event that caused it; with Channel it
	// identifies the notification, and providers get it as idempotency key.
	EventID string `json:"eventId"`
	// OrderID is the order the event is about.
	OrderID int64 `json:"orderId"`
	// Channel is email or sms.
	Channel Channel `json:"channel"`
	// Recipient says who gets it. Events carry no email address or phone
	// number, only the customer's name, so the name is used as a label for
	// the recipient; a real provider would look the contact up by it.
	Recipient string `json:"recipient"`
	// Text is the rendered message.
	Text string `json:"text"`
	// Version is the order's version the event reports; a notification
	// older than the newest sent for its order and channel is not sent.
	Version int64 `json:"version"`
}

// Sender hands a notification to whatever delivers it. Implementations
// must be safe for concurrent use. An error wrapping ErrPermanent says that
// retrying cannot help (the provider refused the notification); any other
// error is treated as transient and the event is retried.
type Sender interface {
	Send(ctx context.Context, n Notification) error
}

// ErrPermanent is wrapped by errors that retrying cannot fix.
var ErrPermanent = errors.New("permanent failure")

// ErrUnavailable is wrapped by the errors of a delivery log that cannot
// serve a read now (its database down, frozen or restarting, or the
// request's deadline passed): the API answers 503, not 500.
var ErrUnavailable = errors.New("delivery log unavailable")

// Status is the state of a delivery log row.
type Status string

const (
	// StatusPending means not (known to be) sent: the last attempt's send
	// failed (a permanently refused one stays so; its event is
	// dead-lettered). An attempt in progress is not visible until it
	// ends, and one cut off by a crash leaves only what the previous
	// attempt recorded.
	StatusPending Status = "pending"
	// StatusSent means the sender accepted the notification.
	StatusSent Status = "sent"
	// StatusSuperseded means it was never sent: when it came, a newer
	// version of its order had been notified on its channel already.
	StatusSuperseded Status = "superseded"
)

// Delivery is a notification as recorded in the delivery log.
type Delivery struct {
	Notification
	// Status is pending or sent.
	Status Status `json:"status"`
	// SentAt is when the sender accepted it; nil while pending.
	SentAt *time.Time `json:"sentAt"`
}

// Outcome says what DeliveryLog.Deliver did.
type Outcome int

const (
	// Sent means send was called and succeeded, and the row is 'sent'.
	Sent Outcome = iota + 1
	// AlreadySent means an earlier delivery of the same event and channel
	// succeeded, so send was not called.
	AlreadySent
	// Superseded means a notification of a newer version of the order, on
	// the same channel, was sent already, so send was not called: the
	// customer must not learn of an older status after a newer one.
	Superseded
)

// DeliveryLog records notifications so that each event is sent once.
type DeliveryLog interface {
	// DeliverAll calls send(i) for each ns[i], in order, unless its event
	// and channel were already sent, and records the results; see the
	// package doc for the protocol and its one remaining duplicate window.
	// It returns the outcomes of the notifications done before the first
	// failure. An error from send stops it: it is returned (wrapped) and
	// recorded on that notification's row, which stays pending, to be
	// retried, and those after it are left as they were.
	DeliverAll(ctx context.Context, ns []Notification, send func(i int) error) ([]Outcome, error)
	// List returns the notifications of one order, newest first, and an
	// empty (non-nil) slice when there are none.
	List(ctx context.Context, orderID int64) ([]Delivery, error)
}
