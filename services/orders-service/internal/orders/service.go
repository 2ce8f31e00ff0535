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

// Create validates and stores a new order.
func (s *Service) Create(ctx context.Context, req CreateRequest) (Order, bool, error) {
	if err := req.Order.Validate(); err != nil {
		return Order{}, false, err
	}
	o, replayed, err := s.store.Create(ctx, req)
	if err != nil {
		return Order{}, false, fmt.Errorf("cannot create order: %w", err)
	}
	if !replayed {
		for _, ob := range s.observers {
			ob.OrderCreated(o)
		}
	}
	return o, replayed, nil
}

// Get returns one order.
func (s *Service) Get(ctx context.Context, id int64) (Order, error) {
	o, err := s.store.Get(ctx, id)
	if err != nil {
		return Order{}, fmt.Errorf("cannot get order %d: %w", id, err)
	}
	return o, nil
}

// List returns the orders matching f.
func (s *Service) List(ctx context.Context, f Filter) ([]Order, error) {
	os, err := s.store.List(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("cannot list orders: %w", err)
	}
	return os, nil
}

// UpdateStatus moves order id to status to. With ifVersion set the change
// happens only if the order is still at that version. changed is false when
// the order already had that status: then nothing is written and no event is
// emitted.
func (s *Service) UpdateStatus(ctx context.Context, id int64, to Status, ifVersion *int64) (o Order, changed bool, err error) {
	var from Status
	o, err = s.store.Update(ctx, id, func(cur *Order) (bool, error) {
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
