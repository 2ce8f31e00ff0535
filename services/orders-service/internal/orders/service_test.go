package orders_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// memStore is an orders.Store over one order, enough to drive Service.
type memStore struct {
	order     orders.Order
	replay    bool  // Create answers replayed=true
	commitErr error // returned after change ran, as a failed commit would be
}

func (s *memStore) Create(context.Context, orders.CreateRequest) (orders.Order, bool, error) {
	return s.order, s.replay, s.commitErr
}
func (s *memStore) Get(context.Context, int64) (orders.Order, error) { return s.order, nil }
func (s *memStore) List(context.Context, orders.Filter) ([]orders.Order, error) {
	return []orders.Order{s.order}, nil
}
func (s *memStore) Update(_ context.Context, _ int64, change func(*orders.Order) (bool, error)) (orders.Order, error) {
	o := s.order
	changed, err := change(&o)
	if err != nil {
		return orders.Order{}, err
	}
	if s.commitErr != nil {
		return orders.Order{}, s.commitErr
	}
	if changed {
		o.Version++
		s.order = o
	}
	return s.order, nil
}

// recorder is an orders.Observer that writes down what it is told.
type recorder struct{ got []string }

func (r *recorder) OrderCreated(o orders.Order) { r.got = append(r.got, fmt.Sprint("created ", o.ID)) }
func (r *recorder) StatusChanged(from, to orders.Status) {
	r.got = append(r.got, fmt.Sprint(from, "->", to))
}

func TestServiceTellsObserversOfCommittedChangesOnly(t *testing.T) {
	valid := orders.NewOrder{CustomerName: "Alice", Item: "Laptop", Quantity: 1}
	stale := int64(7)
	tests := []struct {
		name   string
		store  memStore
		action func(context.Context, *orders.Service) error
		want   []string
	}{
		{"created", memStore{order: orders.Order{ID: 1}}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.Create(ctx, orders.CreateRequest{Order: valid})
			return err
		}, []string{"created 1"}},
		{"idempotent replay", memStore{order: orders.Order{ID: 1}, replay: true}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.Create(ctx, orders.CreateRequest{Order: valid})
			return err
		}, nil},
		{"invalid order", memStore{}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.Create(ctx, orders.CreateRequest{})
			return err
		}, nil},
		{"create not committed", memStore{commitErr: errors.New("connection lost")}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.Create(ctx, orders.CreateRequest{Order: valid})
			return err
		}, nil},
		{"status changed", memStore{order: orders.Order{ID: 1, Status: orders.StatusPending}}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.UpdateStatus(ctx, 1, orders.StatusShipped, nil)
			return err
		}, []string{"PENDING->SHIPPED"}},
		{"same status", memStore{order: orders.Order{ID: 1, Status: orders.StatusShipped}}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.UpdateStatus(ctx, 1, orders.StatusShipped, nil)
			return err
		}, nil},
		{"transition refused", memStore{order: orders.Order{ID: 1, Status: orders.StatusDelivered}}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.UpdateStatus(ctx, 1, orders.StatusPending, nil)
			return err
		}, nil},
		{"version mismatch", memStore{order: orders.Order{ID: 1, Status: orders.StatusPending, Version: 1}}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.UpdateStatus(ctx, 1, orders.StatusShipped, &stale)
			return err
		}, nil},
		{"update not committed", memStore{order: orders.Order{ID: 1, Status: orders.StatusPending}, commitErr: errors.New("connection lost")}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.UpdateStatus(ctx, 1, orders.StatusShipped, nil)
			return err
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a, b recorder
			_ = tt.action(t.Context(), orders.NewService(&tt.store, &a, &b))
			if !slices.Equal(a.got, tt.want) || !slices.Equal(b.got, tt.want) {
				t.Errorf("got observers told %q and %q, want %q each", a.got, b.got, tt.want)
			}
		})
	}
}
