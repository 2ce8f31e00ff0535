package orders

import (
	"context"
	"fmt"
)

// Service applies the order rules on top of a Store. Both HTTP APIs use it,
// so the legacy and v1 endpoints cannot drift apart.
type Service struct {
	store     Store
	observers []Observer
}

// Observer learns of the changes the store committed, for example to count
// them. It is told only after the transaction succeeded, and never of an
// idempotent replay or of a status update that changed nothing: it sees
// exactly the changes that produce an event. Its methods must be quick and
// safe for concurrent use; they run on the request's goroutine.
type Observer interface {
	// OrderCreated is called once per order created.
	OrderCreated(o Order)
	// StatusChanged is called once per committed status change.
	StatusChanged(from, to Status)
}

// NewService returns a Service over store that tells observers of each
// committed change.
func NewService(store Store, observers ...Observer) *Service {
	return &Service{store: store, observers: observers}
}

// Create validates and stores a new order for c: a customer places
// orders for itself, a caller with CreateForAny for the customer the order
// names (or itself). With an idempotency key, a retry of the same request
// returns the first create's receipt and creates nothing.
func (s *Service) Create(ctx context.Context, c Caller, req CreateRequest) (Order, *Receipt, error) {
	switch {
	case c.CreateForAny:
		if req.Order.Owner == "" {
			req.Order.Owner = c.Subject
		}
	case c.Customer:
		if req.Order.Owner != "" && req.Order.Owner != c.Subject {
			return Order{}, nil, &ForbiddenError{Reason: "a customer places orders for itself only; naming another owner needs the scope orders:write"}
		}
		req.Order.Owner = c.Subject
	default:
		return Order{}, nil, &ForbiddenError{Reason: "creating orders needs the scope orders:write, or a customer's token"}
	}
	if err := req.Order.Validate(); err != nil {
		return Order{}, nil, err
	}
	req.KeyScope = c.Subject
	o, replay, err := s.store.Create(ctx, req)
	if err != nil {
		return Order{}, nil, fmt.Errorf("cannot create order: %w", err)
	}
	if replay == nil {
		for _, ob := range s.observers {
			ob.OrderCreated(o)
		}
	}
	return o, replay, nil
}

// Get returns one order, if c may see it: another customer's order is
// ErrNotFound, so that a customer cannot tell which ids exist.
func (s *Service) Get(ctx context.Context, c Caller, id int64) (Order, error) {
	if !c.ReadAny && !c.Customer {
		return Order{}, &ForbiddenError{Reason: "reading orders needs the scope orders:read"}
	}
	o, err := s.store.Get(ctx, id)
	if err == nil && !c.ReadAny && !c.owns(o) {
		err = ErrNotFound
	}
	if err != nil {
		return Order{}, fmt.Errorf("cannot get order %d: %w", id, err)
	}
	return o, nil
}

// History returns order id's status timeline, oldest first, if c may see
// the order (as Get).
func (s *Service) History(ctx context.Context, c Caller, id int64) ([]StatusChange, error) {
	if _, err := s.Get(ctx, c, id); err != nil {
		return nil, err
	}
	h, err := s.store.History(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("cannot get the history of order %d: %w", id, err)
	}
	return h, nil
}

// List returns the orders matching f that c may see: all of them with
// ReadAny, a customer's own otherwise.
func (s *Service) List(ctx context.Context, c Caller, f Filter) ([]Order, error) {
	os := []Order{}
	err := s.Each(ctx, c, f, func(o Order) error {
		os = append(os, o)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return os, nil
}

// Each calls fn with each order matching f that c may see, in id order,
// as List would return them but one at a time (see Store.Each). An error
// from fn stops it and is returned as it is.
func (s *Service) Each(ctx context.Context, c Caller, f Filter, fn func(Order) error) error {
	switch {
	case c.ReadAny:
	case c.Customer:
		f.Owner = &c.Subject
	default:
		return &ForbiddenError{Reason: "listing orders needs the scope orders:read"}
	}
	if err := s.store.Each(ctx, f, fn); err != nil {
		return fmt.Errorf("cannot list orders: %w", err)
	}
	return nil
}

// UpdateStatus moves order id to status to, if c may: ManageAny changes
// any order; a customer may cancel its own order (another's is
// ErrNotFound) while it is cancellable. With ifVersion set the change
// happens only if the order is still at that version. changed is false
// when the order already had that status: then nothing is written and no
// event is emitted.
func (s *Service) UpdateStatus(ctx context.Context, c Caller, id int64, to Status, ifVersion *int64) (o Order, changed bool, err error) {
	if !c.ManageAny && !c.Customer {
		return Order{}, false, &ForbiddenError{Reason: "changing an order's status needs the scope orders:manage"}
	}
	var from Status
	o, err = s.store.Update(ctx, id, func(cur *Order) (bool, error) {
		if !c.ManageAny {
			// Ownership first: a customer learns nothing about another's
			// order, not even that it may not be changed.
			if !c.owns(*cur) {
				return false, ErrNotFound
			}
			if to != StatusCancelled {
				return false, &ForbiddenError{Reason: "a customer may only cancel its own order; other changes need the scope orders:manage"}
			}
		}
		if ifVersion != nil && cur.Version != *ifVersion {
			return false, &VersionMismatchError{Expected: *ifVersion, Current: cur.Version}
		}
		from = cur.Status
		c, err := cur.ChangeStatus(to)
		changed = c
		return c, err
	})
	if err != nil {
		return Order{}, false, fmt.Errorf("cannot update order %d: %w", id, err)
	}
	if changed {
		for _, ob := range s.observers {
			ob.StatusChanged(from, o.Status)
		}
	}
	return o, changed, nil
}
