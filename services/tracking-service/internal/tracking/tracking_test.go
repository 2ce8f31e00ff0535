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

func (m *memStore) IDByCode(_ context.Context, code string) (int64, error) {
	for id, o := range m.orders {
		if o.TrackingCode == code {
			return id, nil
		}
	}
	return 0, ErrNotFound
}

type sourceFunc func(id int64) (Order, error)

func (f sourceFunc) Order(_ context.Context, id int64) (Order, error) { return f(id) }

// OrderByCode asks f for every id it might know; the tests' sources know
// ids 1 to 9.
func (f sourceFunc) OrderByCode(ctx context.Context, code string) (Order, error) {
	for id := int64(1); id < 10; id++ {
		o, err := f(id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil || o.TrackingCode == code {
			return o, err
		}
	}
	return Order{}, ErrNotFound
}

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

func TestByCode(t *testing.T) {
	const (
		code1 = "trk_11111111111111111111111111111111"
		code2 = "trk_22222222222222222222222222222222"
		code3 = "trk_33333333333333333333333333333333"
	)
	known := map[int64]Order{
		1: {ID: 1, TrackingCode: code1, Status: "PENDING", Version: 1},
		2: {ID: 2, TrackingCode: code2, Status: "SHIPPED", Version: 3},
	}
	source := sourceFunc(func(id int64) (Order, error) {
		if o, ok := known[id]; ok {
			return o, nil
		}
		return Order{}, ErrNotFound
	})
	down := sourceFunc(func(int64) (Order, error) { return Order{}, ErrUnavailable })
	tests := []struct {
		name    string
		stored  []Order
		source  Source
		code    string
		wantID  int64
		wantErr error
	}{
		{name: "stored", stored: []Order{known[1]}, source: down, code: code1, wantID: 1},
		{name: "not stored: read from the source", source: source, code: code2, wantID: 2},
		{name: "unknown code", source: source, code: code3, wantErr: ErrNotFound},
		{name: "not a code: nothing asked", source: down, code: "trk_nope", wantErr: ErrNotFound},
		{name: "upper case is not a code", source: down, code: "trk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", wantErr: ErrNotFound},
		{name: "source down", source: down, code: code2, wantErr: ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &memStore{orders: map[int64]Order{}}
			for _, o := range tc.stored {
				store.orders[o.ID] = o
			}
			id, err := NewService(store, tc.source).ByCode(t.Context(), tc.code)
			if !errors.Is(err, tc.wantErr) || id != tc.wantID {
				t.Fatalf("got %d, %v, want %d, %v", id, err, tc.wantID, tc.wantErr)
			}
			if err == nil {
				if got, err := store.IDByCode(t.Context(), tc.code); err != nil || got != tc.wantID {
					t.Errorf("store after: got %d, %v, want the order kept (%d)", got, err, tc.wantID)
				}
			}
		})
	}
}
