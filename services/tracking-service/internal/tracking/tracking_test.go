package tracking

import (
	"context"
	"errors"
	"testing"
)

// memStore is a Store in memory, with the same version rule as Redis's.
type memStore struct {
	orders map[int64]Order
	// onApply runs before each Apply, to stage a concurrent writer.
	onApply func()
}

func (m *memStore) Apply(_ context.Context, o Order) (bool, error) {
	if m.onApply != nil {
		m.onApply()
	}
	if cur, ok := m.orders[o.ID]; ok && cur.Version >= o.Version {
		return false, nil
	}
	m.orders[o.ID] = o
	return true, nil
}

func (m *memStore) ApplyAll(ctx context.Context, os []Order) ([]bool, error) {
	applied := make([]bool, len(os))
	for i, o := range os {
		applied[i], _ = m.Apply(ctx, o)
	}
	return applied, nil
}

func (m *memStore) Get(_ context.Context, id int64) (Order, error) {
	o, ok := m.orders[id]
	if !ok {
		return Order{}, ErrNotFound
	}
	return o, nil
}

func (m *memStore) History(_ context.Context, id int64) ([]StatusChange, error) {
	if o, ok := m.orders[id]; ok {
		return []StatusChange{o.Change()}, nil
	}
	return nil, nil
}

type sourceFunc func(id int64) (Order, error)

func (f sourceFunc) Order(_ context.Context, id int64) (Order, error) { return f(id) }

func TestGet(t *testing.T) {
	v1 := Order{ID: 1, Status: "PENDING", Version: 1}
	v2 := Order{ID: 1, Status: "SHIPPED", Version: 2}
	v3 := Order{ID: 1, Status: "DELIVERED", Version: 3}
	tests := []struct {
		name       string
		stored     []Order
		source     sourceFunc
		concurrent *Order // stored by "an event" between the miss and the fill
		want       Order
		wantErr    error
		wantStore  *Order
	}{
		{"stored", []Order{v2}, nil, nil, v2, nil, &v2},
		{"miss filled from source", nil, func(int64) (Order, error) { return v2, nil }, nil, v2, nil, &v2},
		{"miss, source does not know it", nil, func(int64) (Order, error) { return Order{}, ErrNotFound }, nil, Order{}, ErrNotFound, nil},
		{"miss, source down", nil, func(int64) (Order, error) { return Order{}, ErrUnavailable }, nil, Order{}, ErrUnavailable, nil},
		{"newer event wins over fill", nil, func(int64) (Order, error) { return v2, nil }, &v3, v3, nil, &v3},
		{"older event loses to fill", nil, func(int64) (Order, error) { return v2, nil }, &v1, v2, nil, &v2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &memStore{orders: map[int64]Order{}}
			for _, o := range tt.stored {
				store.orders[o.ID] = o
			}
			if tt.concurrent != nil {
				store.onApply = func() {
					store.onApply = nil
					store.orders[tt.concurrent.ID] = *tt.concurrent
				}
			}
			got, err := NewService(store, tt.source).Get(t.Context(), 1)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			stored, ok := store.orders[1]
			if tt.wantStore == nil && ok || tt.wantStore != nil && stored != *tt.wantStore {
				t.Errorf("got stored %+v (present %v), want %+v", stored, ok, tt.wantStore)
			}
		})
	}
}

func TestHistoryFillsAMiss(t *testing.T) {
	v2 := Order{ID: 1, Status: "SHIPPED", Version: 2}
	store := &memStore{orders: map[int64]Order{}}
	svc := NewService(store, sourceFunc(func(int64) (Order, error) { return v2, nil }))
	h, err := svc.History(t.Context(), 1)
	if err != nil || len(h) != 1 || h[0] != v2.Change() {
		t.Errorf("got %+v, %v, want the filled version's entry", h, err)
	}
	if _, err := NewService(store, sourceFunc(func(int64) (Order, error) { return Order{}, ErrNotFound })).History(t.Context(), 9); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown order: got %v, want ErrNotFound", err)
	}
}
