package orders_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// memStore is an orders.Store over one order, enough to drive Service.
type memStore struct {
	order     orders.Order
	replay    bool  // Create answers replayed=true
	commitErr error // returned after change ran, as a failed commit would be

	created orders.CreateRequest // the last Create's request
	listed  orders.Filter        // the last List's filter
}

func (s *memStore) Create(_ context.Context, req orders.CreateRequest) (orders.Order, *orders.Receipt, error) {
	s.created = req
	if s.replay {
		return s.order, &orders.Receipt{Status: 201}, s.commitErr
	}
	return s.order, nil, s.commitErr
}
func (s *memStore) Get(context.Context, int64) (orders.Order, error) { return s.order, nil }
func (s *memStore) History(context.Context, int64) ([]orders.StatusChange, error) {
	return []orders.StatusChange{{Status: s.order.Status, Version: s.order.Version}}, nil
}
func (s *memStore) Each(_ context.Context, f orders.Filter, fn func(orders.Order) error) error {
	s.listed = f
	return fn(s.order)
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
			_, _, err := s.Create(ctx, orders.Anyone, orders.CreateRequest{Order: valid})
			return err
		}, []string{"created 1"}},
		{"idempotent replay", memStore{order: orders.Order{ID: 1}, replay: true}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.Create(ctx, orders.Anyone, orders.CreateRequest{Order: valid})
			return err
		}, nil},
		{"invalid order", memStore{}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.Create(ctx, orders.Anyone, orders.CreateRequest{})
			return err
		}, nil},
		{"create not committed", memStore{commitErr: errors.New("connection lost")}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.Create(ctx, orders.Anyone, orders.CreateRequest{Order: valid})
			return err
		}, nil},
		{"status changed", memStore{order: orders.Order{ID: 1, Status: orders.StatusPending}}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.UpdateStatus(ctx, orders.Anyone, 1, orders.StatusShipped, nil)
			return err
		}, []string{"PENDING->SHIPPED"}},
		{"same status", memStore{order: orders.Order{ID: 1, Status: orders.StatusShipped}}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.UpdateStatus(ctx, orders.Anyone, 1, orders.StatusShipped, nil)
			return err
		}, nil},
		{"transition refused", memStore{order: orders.Order{ID: 1, Status: orders.StatusDelivered}}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.UpdateStatus(ctx, orders.Anyone, 1, orders.StatusPending, nil)
			return err
		}, nil},
		{"version mismatch", memStore{order: orders.Order{ID: 1, Status: orders.StatusPending, Version: 1}}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.UpdateStatus(ctx, orders.Anyone, 1, orders.StatusShipped, &stale)
			return err
		}, nil},
		{"update not committed", memStore{order: orders.Order{ID: 1, Status: orders.StatusPending}, commitErr: errors.New("connection lost")}, func(ctx context.Context, s *orders.Service) error {
			_, _, err := s.UpdateStatus(ctx, orders.Anyone, 1, orders.StatusShipped, nil)
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

// TestServiceRights is who may do what, over a store holding alice's
// PENDING order: the rules both APIs share.
func TestServiceRights(t *testing.T) {
	alice := orders.Caller{Subject: "alice", Customer: true}
	bob := orders.Caller{Subject: "bob", Customer: true}
	reader := orders.Caller{Subject: "reporting", ReadAny: true}
	writer := orders.Caller{Subject: "shop", CreateForAny: true}
	manager := orders.Caller{Subject: "carrier", ManageAny: true}
	valid := orders.NewOrder{CustomerName: "Alice", Item: "Laptop", Quantity: 1}
	forAlice := valid
	forAlice.Owner = "alice"

	const (
		ok        = "ok"
		forbidden = "forbidden"
		notFound  = "not found"
	)
	kind := func(err error) string {
		var f *orders.ForbiddenError
		switch {
		case err == nil:
			return ok
		case errors.As(err, &f):
			return forbidden
		case errors.Is(err, orders.ErrNotFound):
			return notFound
		}
		return err.Error()
	}
	type action struct {
		name string
		do   func(context.Context, *orders.Service, orders.Caller, *memStore) error
		// wantOwner, for creates, is the owner the store was asked for.
		wantOwner string
	}
	get := func(ctx context.Context, s *orders.Service, c orders.Caller, _ *memStore) error {
		_, err := s.Get(ctx, c, 1)
		return err
	}
	history := func(ctx context.Context, s *orders.Service, c orders.Caller, _ *memStore) error {
		_, err := s.History(ctx, c, 1)
		return err
	}
	list := func(ctx context.Context, s *orders.Service, c orders.Caller, m *memStore) error {
		_, err := s.List(ctx, c, orders.Filter{})
		if err == nil && c.Customer && (m.listed.Owner == nil || *m.listed.Owner != c.Subject) {
			return fmt.Errorf("customer's list not limited to its orders: filter %+v", m.listed)
		}
		return err
	}
	create := func(n orders.NewOrder) func(context.Context, *orders.Service, orders.Caller, *memStore) error {
		return func(ctx context.Context, s *orders.Service, c orders.Caller, _ *memStore) error {
			_, _, err := s.Create(ctx, c, orders.CreateRequest{Order: n})
			return err
		}
	}
	update := func(to orders.Status) func(context.Context, *orders.Service, orders.Caller, *memStore) error {
		return func(ctx context.Context, s *orders.Service, c orders.Caller, _ *memStore) error {
			_, _, err := s.UpdateStatus(ctx, c, 1, to, nil)
			return err
		}
	}
	tests := []struct {
		caller orders.Caller
		name   string
		want   map[string]string // action name -> outcome
		owner  string            // owner of "create" when ok
	}{
		{caller: alice, name: "alice (owner)", owner: "alice", want: map[string]string{
			"get": ok, "history": ok, "list": ok, "create": ok, "create for bob": forbidden, "cancel": ok, "ship": forbidden}},
		{caller: bob, name: "bob (another customer)", owner: "bob", want: map[string]string{
			"get": notFound, "history": notFound, "list": ok, "create": ok, "create for bob": ok, "cancel": notFound, "ship": notFound}},
		{caller: reader, name: "orders:read", want: map[string]string{
			"get": ok, "history": ok, "list": ok, "create": forbidden, "create for bob": forbidden, "cancel": forbidden, "ship": forbidden}},
		{caller: writer, name: "orders:write", owner: "shop", want: map[string]string{
			"get": forbidden, "history": forbidden, "list": forbidden, "create": ok, "create for bob": ok, "cancel": forbidden, "ship": forbidden}},
		{caller: manager, name: "orders:manage", want: map[string]string{
			"get": forbidden, "history": forbidden, "list": forbidden, "create": forbidden, "create for bob": forbidden, "cancel": ok, "ship": ok}},
		{caller: orders.Anyone, name: "auth off", owner: "", want: map[string]string{
			"get": ok, "history": ok, "list": ok, "create": ok, "create for bob": ok, "cancel": ok, "ship": ok}},
	}
	forBob := valid
	forBob.Owner = "bob"
	actions := []action{
		{name: "get", do: get}, {name: "history", do: history}, {name: "list", do: list},
		{name: "create", do: create(valid)}, {name: "create for bob", do: create(forBob), wantOwner: "bob"},
		{name: "cancel", do: update(orders.StatusCancelled)}, {name: "ship", do: update(orders.StatusShipped)},
	}
	for _, tc := range tests {
		for _, a := range actions {
			t.Run(tc.name+"/"+a.name, func(t *testing.T) {
				m := &memStore{order: orders.Order{ID: 1, Owner: "alice", Status: orders.StatusPending, Version: 1}}
				got := kind(a.do(t.Context(), orders.NewService(m), tc.caller, m))
				if got != tc.want[a.name] {
					t.Fatalf("got %s, want %s", got, tc.want[a.name])
				}
				if got != ok || !strings.HasPrefix(a.name, "create") {
					return
				}
				want := tc.owner
				if a.wantOwner != "" {
					want = a.wantOwner
				}
				if m.created.Order.Owner != want || m.created.KeyScope != tc.caller.Subject {
					t.Errorf("got owner %q key scope %q, want owner %q key scope %q", m.created.Order.Owner, m.created.KeyScope, want, tc.caller.Subject)
				}
			})
		}
	}
}
