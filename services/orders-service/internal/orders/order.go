// Package orders is the domain of orders-service: what an order is, which
// changes it allows, and the errors those rules produce. It has no
// dependencies: storage and HTTP adapters live in their own packages.
package orders

import (
	"context"
	"time"
	"unicode/utf8"
)

// Order is one customer order. Version grows by one with every change and is
// what events, ETags and optimistic concurrency checks refer to.
type Order struct {
	ID int64
	// TrackingCode is the order's private tracking link: whoever holds it
	// may follow the order's progress (see NewTrackingCode).
	TrackingCode string
	// Owner is the subject of the customer the order belongs to; empty for
	// an order created with auth off and no owner named.
	Owner        string
	CustomerName string
	Item         string
	Quantity     int
	Status       Status
	Version      int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// NewOrder is what a client supplies to create an order.
type NewOrder struct {
	CustomerName string
	Item         string
	Quantity     int
	// Owner is the customer the order is placed for, when a caller that
	// may create orders for anyone (a shop's backend) names one; empty
	// means the caller itself.
	Owner string
}

// Limits on client input, shared by both APIs and the OpenAPI document.
const (
	MaxNameLength = 200
	MinQuantity   = 1
	MaxQuantity   = 10000
	// MaxOwnerLength bounds a subject, in characters: OIDC allows 255
	// ASCII characters, and an owner named by an orders:write caller is
	// held to the same number, as the orders table's check does.
	MaxOwnerLength = 255
)

// Validate reports every problem with n at once, so a client can fix its
// request in one round trip.
func (n NewOrder) Validate() error {
	var v ValidationError
	v.checkText("customerName", n.CustomerName)
	v.checkText("item", n.Item)
	if n.Quantity < MinQuantity || n.Quantity > MaxQuantity {
		v.Add("quantity", "must be an integer from 1 to 10000")
	}
	if utf8.RuneCountInString(n.Owner) > MaxOwnerLength {
		v.Add("owner", "must be at most 255 characters")
	}
	return v.OrNil()
}

func (v *ValidationError) checkText(field, value string) {
	switch n := len([]rune(value)); {
	case n == 0:
		v.Add(field, "is required")
	case n > MaxNameLength:
		v.Add(field, "must be at most 200 characters")
	}
}

// StatusChange is one entry of an order's status timeline: the status it
// reached at one version, and when.
type StatusChange struct {
	Status  Status
	At      time.Time
	Version int64
}

// Filter selects orders; nil fields match everything. Results are ordered by
// id, and After is the keyset cursor: only ids greater than it are returned.
type Filter struct {
	ID           *int64
	Owner        *string
	TrackingCode *string
	CustomerName *string
	Item         *string
	Status       *Status
	// UpdatedSince, when set, keeps the orders changed at or after it.
	UpdatedSince *time.Time
	After        int64
	// Limit caps the number of results; 0 means no limit.
	Limit int
}

// CreateRequest is a creation with its optional idempotency key. RequestHash
// fingerprints the request body, so a key reused with another body is caught.
type CreateRequest struct {
	Order          NewOrder
	IdempotencyKey string
	// KeyScope is whose key IdempotencyKey is: the caller's subject, so
	// that two callers' keys never meet; empty with auth off. The service
	// sets it.
	KeyScope    string
	RequestHash string
	// Receipt renders the answer to the create, which the store keeps with
	// the key so that a retry is answered with exactly the first answer,
	// not the order's state at the time of the retry. Required with a key.
	Receipt func(Order) Receipt
}

// Receipt is the answer a create was given, as its transport wrote it.
type Receipt struct {
	Status int
	Header map[string]string
	Body   []byte
}

// Store keeps orders. Every method that changes an order also records the
// matching event in the same transaction (the transactional outbox), so an
// accepted change and its event are never separated.
type Store interface {
	// Create stores a new PENDING order at version 1 with a new tracking
	// code. With an idempotency key of req.KeyScope used for the same
	// request within the keys' lifetime, it creates nothing and returns the
	// first create's receipt; ErrIdempotencyKeyReused for another request.
	Create(ctx context.Context, req CreateRequest) (o Order, replay *Receipt, err error)
	// Get returns the order or ErrNotFound.
	Get(ctx context.Context, id int64) (Order, error)
	// Each calls fn with each order matching f, in id order, as they are
	// read: a list of every order never needs the whole table in memory.
	// An error from fn stops the iteration and is returned as it is.
	Each(ctx context.Context, f Filter, fn func(Order) error) error
	// History returns the order's status timeline, oldest first, or
	// ErrNotFound. An order created before timelines were kept starts at
	// the version it had then.
	History(ctx context.Context, id int64) ([]StatusChange, error)
	// Update loads the order, lets change modify it and, when change reports
	// a change, bumps the version, saves it and records the event, together
	// and only if no other change of the order came in between; otherwise
	// it loads the order again and asks change again, so change may run
	// more than once and must not have effects beyond the order it gets
	// and its own result. change's error writes nothing.
	Update(ctx context.Context, id int64, change func(o *Order) (changed bool, err error)) (Order, error)
}
