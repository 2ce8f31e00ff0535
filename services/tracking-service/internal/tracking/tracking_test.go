package tracking

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/events"
)

// memStore is a Store in memory, with the same version rule as Redis's.
type memStore struct {
	orders map[int64]Order
	// timelines holds entries by order and version; nil until used.
	timelines map[int64]map[int64]StatusChange
	// onApply runs before each Apply, to stage a concurrent writer.
	onApply func()
}

func (m *memStore) Apply(_ context.Context, o Order) (bool, error) {
	if m.onApply != nil {
		m.onApply()
	}
	m.add(o.ID, o.Change())
	if cur, ok := m.orders[o.ID]; ok && cur.Version >= o.Version {
		return false, nil
	}
	m.orders[o.ID] = o
	return true, nil
}

func (m *memStore) add(id int64, c StatusChange) {
	if m.timelines == nil {
		m.timelines = map[int64]map[int64]StatusChange{}
	}
	if m.timelines[id] == nil {
		m.timelines[id] = map[int64]StatusChange{}
	}
	if _, ok := m.timelines[id][c.Version]; !ok {
		m.timelines[id][c.Version] = c
	}
}

func (m *memStore) AddHistory(_ context.Context, id int64, h []StatusChange) error {
	if _, ok := m.orders[id]; !ok {
		return nil
	}
	for _, c := range h {
		m.add(id, c)
	}
	return nil
}

func (m *memStore) ApplyAll(ctx context.Context, os []Order, knownOnly bool) ([]Result, error) {
	results := make([]Result, len(os))
	for i, o := range os {
		if _, known := m.orders[o.ID]; knownOnly && !known && o.Version > 1 {
			results[i] = Unknown
			continue
		}
		if applied, _ := m.Apply(ctx, o); applied {
			results[i] = Applied
		}
	}
	return results, nil
}

func (m *memStore) Get(_ context.Context, id int64) (Order, error) {
	o, ok := m.orders[id]
	if !ok {
		return Order{}, ErrNotFound
	}
	return o, nil
}

func (m *memStore) History(_ context.Context, id int64) ([]StatusChange, error) {
	var h []StatusChange
	for _, c := range m.timelines[id] {
		h = append(h, c)
	}
	slices.SortFunc(h, func(a, b StatusChange) int { return cmp.Compare(a.Version, b.Version) })
	return h, nil
}

func (m *memStore) Empty(context.Context) (bool, error) { return len(m.orders) == 0, nil }

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

// History is the timeline the source keeps: PENDING at version 1, the
// order's status at its version, CONFIRMED in between.
func (f sourceFunc) History(_ context.Context, id int64) ([]StatusChange, error) {
	o, err := f(id)
	if err != nil {
		return nil, err
	}
	return sourceHistory(o), nil
}

func sourceHistory(o Order) []StatusChange {
	h := make([]StatusChange, o.Version)
	for v := int64(1); v <= o.Version; v++ {
		status := "CONFIRMED"
		switch v {
		case 1:
			status = "PENDING"
		case o.Version:
			status = o.Status
		}
		h[v-1] = StatusChange{Status: status, At: o.UpdatedAt, Version: v}
	}
	return h
}

// ChangedSince pages through ids 1 to 9, two a page; since is ignored.
func (f sourceFunc) ChangedSince(_ context.Context, _ time.Time, cursor string) ([]Order, string, error) {
	from := int64(1)
	if cursor != "" {
		from, _ = strconv.ParseInt(cursor, 10, 64)
	}
	var page []Order
	id := from
	for ; id < 10 && len(page) < 2; id++ {
		o, err := f(id)
		switch {
		case errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return nil, "", err
		}
		page = append(page, o)
	}
	if id >= 10 {
		return page, "", nil
	}
	return page, strconv.FormatInt(id, 10), nil
}

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

func TestHistory(t *testing.T) {
	v3 := Order{ID: 1, Status: "SHIPPED", Version: 3}
	up := sourceFunc(func(id int64) (Order, error) {
		if id == 1 {
			return v3, nil
		}
		return Order{}, ErrNotFound
	})
	down := sourceFunc(func(int64) (Order, error) { return Order{}, ErrUnavailable })
	tests := []struct {
		name string
		// stored is the state the store holds, timeline the versions of
		// its timeline.
		stored   *Order
		timeline []int64
		source   Source
		want     []StatusChange
		wantErr  error
	}{
		{name: "whole: the source is not asked", stored: &v3, timeline: []int64{1, 2, 3}, source: down, want: sourceHistory(v3)},
		{name: "state and timeline gone: both refilled", source: up, want: sourceHistory(v3)},
		{name: "timeline lost but the last entry", stored: &v3, timeline: []int64{3}, source: up, want: sourceHistory(v3)},
		{name: "a gap", stored: &v3, timeline: []int64{1, 3}, source: up, want: sourceHistory(v3)},
		{name: "a gap with the source down: what is held", stored: &v3, timeline: []int64{1, 3}, source: down,
			want: []StatusChange{sourceHistory(v3)[0], sourceHistory(v3)[2]}},
		{name: "unknown order", source: up, wantErr: ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &memStore{orders: map[int64]Order{}}
			if tc.stored != nil {
				store.orders[tc.stored.ID] = *tc.stored
				for _, v := range tc.timeline {
					store.add(tc.stored.ID, sourceHistory(*tc.stored)[v-1])
				}
			}
			id := int64(1)
			if tc.wantErr != nil {
				id = 9
			}
			h, err := NewService(store, tc.source).History(t.Context(), id)
			if !errors.Is(err, tc.wantErr) || !slices.Equal(h, tc.want) {
				t.Errorf("got %+v, %v, want %+v, %v", h, err, tc.want, tc.wantErr)
			}
		})
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

// TestApplyAllTrustsNoEventOfAForgottenOrder: an event of an order the
// store no longer holds is checked against the source; a creation is not.
func TestApplyAllTrustsNoEventOfAForgottenOrder(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	event := func(id, v int64, status string) events.Event {
		o := events.Order{ID: id, Status: status, CreatedAt: at, UpdatedAt: at.Add(time.Duration(v) * time.Minute)}
		if v == 1 {
			return events.NewOrderCreated(o, v, o.UpdatedAt)
		}
		return events.NewOrderUpdated(o, "PENDING", v, o.UpdatedAt)
	}
	current := Order{ID: 1, Status: "DELIVERED", Version: 5, UpdatedAt: at.Add(5 * time.Minute)}
	source := sourceFunc(func(id int64) (Order, error) {
		if id == 1 {
			return current, nil
		}
		return Order{}, ErrNotFound
	})
	down := sourceFunc(func(int64) (Order, error) { return Order{}, ErrUnavailable })
	tests := []struct {
		name        string
		event       events.Event
		source      Source
		wantApplied bool
		wantErr     error
		wantStored  *Order // the state stored for the event's order after
	}{
		{name: "an old update is not resurrected", event: event(1, 3, "SHIPPED"), source: source, wantStored: &current},
		{name: "the current version is applied", event: event(1, 5, "DELIVERED"), source: source, wantApplied: true, wantStored: &current},
		{name: "a version past the source's is not trusted", event: event(1, 9, "CANCELLED"), source: source, wantStored: &current},
		{name: "an order the source does not know", event: event(2, 4, "SHIPPED"), source: source},
		{name: "a creation needs no check", event: event(3, 1, "PENDING"), source: down, wantApplied: true,
			wantStored: &Order{ID: 3, Status: "PENDING", Version: 1, CreatedAt: at, UpdatedAt: at.Add(time.Minute)}},
		{name: "source down: retried later", event: event(1, 3, "SHIPPED"), source: down, wantErr: ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &memStore{orders: map[int64]Order{}}
			applied, err := NewService(store, tc.source).ApplyAll(t.Context(), []events.Event{tc.event})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && (len(applied) != 1 || applied[0] != tc.wantApplied)) {
				t.Fatalf("got %v, %v, want applied %v, %v", applied, err, tc.wantApplied, tc.wantErr)
			}
			stored, ok := store.orders[tc.event.OrderID]
			if tc.wantStored == nil && ok || tc.wantStored != nil && stored != *tc.wantStored {
				t.Errorf("got stored %+v (present %v), want %+v", stored, ok, tc.wantStored)
			}
		})
	}
}

// TestRebuild: every order the source reports is stored, page after page,
// through the version check: a newer state already stored stays.
func TestRebuild(t *testing.T) {
	known := map[int64]Order{
		1: {ID: 1, Status: "PENDING", Version: 1},
		2: {ID: 2, Status: "SHIPPED", Version: 3},
		4: {ID: 4, Status: "DELIVERED", Version: 5},
		7: {ID: 7, Status: "CONFIRMED", Version: 2},
		9: {ID: 9, Status: "CANCELLED", Version: 2},
	}
	source := sourceFunc(func(id int64) (Order, error) {
		if o, ok := known[id]; ok {
			return o, nil
		}
		return Order{}, ErrNotFound
	})
	newer := Order{ID: 7, Status: "SHIPPED", Version: 3} // an event got here first
	store := &memStore{orders: map[int64]Order{7: newer}}
	n, err := NewService(store, source).Rebuild(t.Context(), time.Now().Add(-time.Hour))
	if err != nil || n != len(known) {
		t.Fatalf("got %d, %v, want %d orders read", n, err, len(known))
	}
	for id, o := range known {
		want := o
		if id == 7 {
			want = newer
		}
		if got := store.orders[id]; got != want {
			t.Errorf("order %d: got %+v, want %+v", id, got, want)
		}
	}
	down := sourceFunc(func(int64) (Order, error) { return Order{}, ErrUnavailable })
	if _, err := NewService(&memStore{orders: map[int64]Order{}}, down).Rebuild(t.Context(), time.Now()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("source down: got %v, want ErrUnavailable", err)
	}
}
