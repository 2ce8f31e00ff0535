// Package tracking is the domain of tracking-service: the latest known state
// of each order and its status timeline, kept current from order events and,
// when the store has forgotten an order, refilled from orders-service.
//
// It defines what the adapters implement (Store, Source) and has no
// dependency on Redis, Kafka or HTTP.
package tracking

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/order-tracking/platform/pkg/events"
)

// Order is the latest known state of an order.
type Order struct {
	// ID is the order's id in orders-service.
	ID int64
	// TrackingCode is the order's private tracking link: whoever holds it
	// may follow the order, without any other right. Empty for an order
	// whose events predate tracking codes.
	TrackingCode string
	// Owner is the subject of the customer the order belongs to.
	Owner string
	// CustomerName is who placed the order.
	CustomerName string
	// Item is what was ordered.
	Item string
	// Quantity is how many of Item were ordered.
	Quantity int
	// Status is the order's status, e.g. SHIPPED. A string, so that a status
	// added later in orders-service passes through unchanged.
	Status string
	// CreatedAt is when the order was placed (UTC).
	CreatedAt time.Time
	// UpdatedAt is when the order last changed (UTC).
	UpdatedAt time.Time
	// Version is the order's version in orders-service: 1 on creation, +1
	// per change. It decides which of two states is newer.
	Version int64
}

// Change is the entry an order's state leaves in its timeline.
func (o Order) Change() StatusChange {
	return StatusChange{Status: o.Status, At: o.UpdatedAt, Version: o.Version}
}

// StatusChange is one entry of an order's timeline: the status the order had
// at one version, and since when.
type StatusChange struct {
	// Status is the order's status at Version.
	Status string
	// At is when the order reached Version (UTC).
	At time.Time
	// Version is the order's version this entry describes.
	Version int64
}

// FromEvent returns the state an event reports.
func FromEvent(e events.Event) Order {
	return Order{
		ID:           e.OrderID,
		TrackingCode: e.Order.TrackingCode,
		Owner:        e.Order.Owner,
		CustomerName: e.Order.CustomerName,
		Item:         e.Order.Item,
		Quantity:     e.Order.Quantity,
		Status:       e.Order.Status,
		CreatedAt:    e.Order.CreatedAt,
		UpdatedAt:    e.Order.UpdatedAt,
		Version:      e.Version,
	}
}

// ErrNotFound means the order is unknown: neither the store nor
// orders-service has it.
var ErrNotFound = errors.New("order not found")

// ErrUnavailable is wrapped by errors of a dependency that cannot answer now
// (Redis down, orders-service down or failing). It is not the client's fault
// and may pass by itself, unlike ErrNotFound: telling a client "not found"
// for an order that exists would be a lie.
var ErrUnavailable = errors.New("dependency unavailable")

// Result is what applying one state did.
type Result int

const (
	// Stale means the store held the same or a newer version already.
	Stale Result = iota
	// Applied means the state replaced the stored one.
	Applied
	// Unknown means nothing was stored: the store does not hold the order
	// (see Store.ApplyAll's knownOnly).
	Unknown
)

// Store keeps the latest state and the timeline of each order.
type Store interface {
	// Apply stores o as the order's latest state if o.Version is newer than
	// the stored one, and adds o's timeline entry if the timeline has none
	// for that version, both in one atomic step. applied reports whether
	// the latest state changed. A duplicate, replayed or late state
	// therefore never moves an order backwards.
	Apply(ctx context.Context, o Order) (applied bool, err error)
	// ApplyAll applies each of os as Apply does, in order, in as few round
	// trips as the store can. With knownOnly, a state of an order the
	// store does not hold is not stored (Unknown) unless it is the order's
	// first version. It returns the results of those applied before the
	// first failure, if any, and the error of that failure; the ones after
	// it may or may not have been applied.
	ApplyAll(ctx context.Context, os []Order, knownOnly bool) ([]Result, error)
	// Get returns the order's latest state, or ErrNotFound.
	Get(ctx context.Context, id int64) (Order, error)
	// History returns the order's timeline, oldest first; empty when the
	// store does not know the order.
	History(ctx context.Context, id int64) ([]StatusChange, error)
	// IDByCode returns the id of the order with tracking code code, or
	// ErrNotFound when the store does not know the code.
	IDByCode(ctx context.Context, code string) (int64, error)
	// Empty reports whether the store holds no order at all: Redis lost
	// its data, or this is a first start.
	Empty(ctx context.Context) (bool, error)
	// AddHistory adds the entries of h that the order's timeline lacks
	// (by version), keeping those it has; it does nothing for an order
	// whose state the store does not hold.
	AddHistory(ctx context.Context, id int64, h []StatusChange) error
}

// Source is where an order the store has forgotten is read again: the
// system of record, orders-service.
type Source interface {
	// Order returns the order's current state, ErrNotFound, or an error
	// wrapping ErrUnavailable.
	Order(ctx context.Context, id int64) (Order, error)
	// OrderByCode returns the current state of the order with tracking
	// code code, ErrNotFound, or an error wrapping ErrUnavailable.
	OrderByCode(ctx context.Context, code string) (Order, error)
	// History returns the order's whole status timeline, oldest first,
	// ErrNotFound, or an error wrapping ErrUnavailable.
	History(ctx context.Context, id int64) ([]StatusChange, error)
	// ChangedSince returns a page of the orders changed at or after since,
	// in id order, from the page after cursor ("" is the first), and the
	// cursor of the next page, "" after the last.
	ChangedSince(ctx context.Context, since time.Time, cursor string) (page []Order, next string, err error)
}

// Service answers tracking queries and applies order events.
type Service struct {
	store  Store
	source Source
}

// NewService returns a Service reading and writing store, refilling misses
// from source.
func NewService(store Store, source Source) *Service {
	return &Service{store: store, source: source}
}

// Apply records the state e reports; see Store.Apply.
func (s *Service) Apply(ctx context.Context, e events.Event) (applied bool, err error) {
	return s.store.Apply(ctx, FromEvent(e))
}

// ApplyAll records the states es report, in order (see Store.ApplyAll),
// and reports for each whether it changed the stored state.
//
// An event of an order the store no longer holds (its entry expired, or
// Redis lost its data) is not stored on its own word unless it is the
// order's creation: a replayed dead letter or an old redelivery would
// otherwise bring back a status the order left long ago, for a whole TTL.
// The order's current state is read from the source instead and stored,
// and the event counts as applied only if it is that state. An event
// newer than what the source knows is not trusted either: the source's
// state is stored, not the event's.
func (s *Service) ApplyAll(ctx context.Context, es []events.Event) (applied []bool, err error) {
	os := make([]Order, len(es))
	for i, e := range es {
		os[i] = FromEvent(e)
	}
	results, err := s.store.ApplyAll(ctx, os, true)
	applied = make([]bool, 0, len(results))
	for i, r := range results {
		if r == Unknown {
			if r, err = s.resolve(ctx, os[i]); err != nil {
				return applied, err
			}
		}
		applied = append(applied, r == Applied)
	}
	return applied, err
}

// resolve stores, for the state o of an order the store does not hold,
// the order's current state from the source, and says whether that is o.
func (s *Service) resolve(ctx context.Context, o Order) (Result, error) {
	cur, err := s.source.Order(ctx, o.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		// orders-service has never heard of it: nothing to trust.
		return Stale, nil
	case err != nil:
		return Stale, fmt.Errorf("cannot check order %d against its source: %w", o.ID, err)
	}
	if _, err := s.keep(ctx, cur); err != nil {
		return Stale, err
	}
	if cur.Version == o.Version {
		return Applied, nil
	}
	return Stale, nil
}

// Get returns the order's latest state. An order the store does not hold,
// typically because its entry expired, is read from the source, stored
// through the same version check as events, and answered.
func (s *Service) Get(ctx context.Context, id int64) (Order, error) {
	o, err := s.store.Get(ctx, id)
	if !errors.Is(err, ErrNotFound) {
		return o, err
	}
	return s.fill(ctx, id)
}

// History returns the order's timeline, oldest first. The store's
// timeline is answered when it is whole: one entry per version up to the
// order's. Otherwise (Redis lost it, or its entry expired and was filled
// from orders-service) the missing entries are read from orders-service,
// which keeps every order's timeline, and stored. If orders-service cannot
// answer, what the store holds is answered rather than nothing, unless it
// holds nothing.
func (s *Service) History(ctx context.Context, id int64) ([]StatusChange, error) {
	o, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	h, err := s.store.History(ctx, id)
	if err != nil || whole(h, o.Version) {
		return h, err
	}
	if err := s.refillHistory(ctx, id); err != nil {
		if len(h) > 0 {
			return h, nil
		}
		return nil, err
	}
	return s.store.History(ctx, id)
}

// Rebuild stores the current state of every order changed at or after
// since, read from the source page by page (not by replaying Kafka, whose
// retention may not reach back that far), through the same version check
// as events, so that it may run while events are applied. It returns how
// many orders it read. Timelines are completed when they are read (see
// History).
func (s *Service) Rebuild(ctx context.Context, since time.Time) (int, error) {
	n, cursor := 0, ""
	for {
		page, next, err := s.source.ChangedSince(ctx, since, cursor)
		if err != nil {
			return n, fmt.Errorf("cannot read orders changed since %s: %w", since.Format(time.RFC3339), err)
		}
		if len(page) > 0 {
			if _, err := s.store.ApplyAll(ctx, page, false); err != nil {
				return n, err
			}
		}
		n += len(page)
		if next == "" {
			return n, nil
		}
		cursor = next
	}
}

// whole reports whether h holds every version from 1 to version.
func whole(h []StatusChange, version int64) bool {
	if int64(len(h)) != version {
		return false
	}
	for i, c := range h {
		if c.Version != int64(i+1) {
			return false
		}
	}
	return true
}

// refillHistory reads the order's timeline from the source into the store.
func (s *Service) refillHistory(ctx context.Context, id int64) error {
	h, err := s.source.History(ctx, id)
	if err != nil {
		return fmt.Errorf("cannot read the history of order %d from its source: %w", id, err)
	}
	return s.store.AddHistory(ctx, id, h)
}

// ByCode returns the id of the order whose tracking code is code, reading
// the order from the source (and storing it) when the store does not know
// the code. A code that names no order is ErrNotFound, as is one that is
// not a tracking code at all.
func (s *Service) ByCode(ctx context.Context, code string) (int64, error) {
	if !events.ValidTrackingCode(code) {
		return 0, ErrNotFound
	}
	id, err := s.store.IDByCode(ctx, code)
	if err == nil {
		// The index says which order; the order's own state says whether
		// the code is its code, so a stale index entry answers nothing.
		o, err := s.Get(ctx, id)
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(o.TrackingCode), []byte(code)) == 1 {
			return id, nil
		}
	} else if !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	o, err := s.source.OrderByCode(ctx, code)
	if err != nil {
		return 0, fmt.Errorf("cannot fill order with tracking code from its source: %w", err)
	}
	if _, err := s.keep(ctx, o); err != nil {
		return 0, err
	}
	return o.ID, nil
}

func (s *Service) fill(ctx context.Context, id int64) (Order, error) {
	o, err := s.source.Order(ctx, id)
	if err != nil {
		return Order{}, fmt.Errorf("cannot fill order %d from its source: %w", id, err)
	}
	return s.keep(ctx, o)
}

// keep stores o, read from the source, through the same version check as
// events, and returns the state to answer.
func (s *Service) keep(ctx context.Context, o Order) (Order, error) {
	id := o.ID
	applied, err := s.store.Apply(ctx, o)
	if err != nil {
		return Order{}, err
	}
	if applied {
		return o, nil
	}
	// An event stored the same or a newer version between our miss and our
	// write; the store's state is the one to answer, as it is what every
	// later read and stream will see.
	stored, err := s.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		// Expired again in between: what the source said is still true.
		return o, nil
	}
	return stored, err
}
