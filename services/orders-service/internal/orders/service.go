package orders

import (
	"context"
	"fmt"
)

// Service applies the order rules on top of a Store. Both HTTP APIs use it,
// so the legacy and v1 endpoints cannot drift apart.
type Service struct {
	store Store
}

// NewService returns a Service over store.
func NewService(store Store) *Service { return &Service{store: store} }

// Create validates and stores a new order.
func (s *Service) Create(ctx context.Context, req CreateRequest) (Order, bool, error) {
	if err := req.Order.Validate(); err != nil {
		return Order{}, false, err
	}
	o, replayed, err := s.store.Create(ctx, req)
	if err != nil {
		return Order{}, false, fmt.Errorf("cannot create order: %w", err)
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
	o, err = s.store.Update(ctx, id, func(cur *Order) (bool, error) {
		if ifVersion != nil && cur.Version != *ifVersion {
			return false, &VersionMismatchError{Expected: *ifVersion, Current: cur.Version}
		}
		c, err := cur.ChangeStatus(to)
		changed = c
		return c, err
	})
	if err != nil {
		return Order{}, false, fmt.Errorf("cannot update order %d: %w", id, err)
	}
	return o, changed, nil
}
