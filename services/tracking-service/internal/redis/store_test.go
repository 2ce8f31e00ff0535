package redis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/order-tracking/platform/services/tracking-service/internal/redis"
	"github.com/order-tracking/platform/services/tracking-service/internal/redis/redistest"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// order returns the state of order id at version v, with a status and
// time that differ per version so that a wrong state shows.
func order(id, v int64, status string) tracking.Order {
	return tracking.Order{
		ID: id, TrackingCode: fmt.Sprintf("trk_%032x", id), Owner: "alice", CustomerName: "Alice", Item: "Laptop", Quantity: 1, Status: status,
		CreatedAt: t0, UpdatedAt: t0.Add(time.Duration(v) * time.Minute), Version: v,
	}
}

func TestIntegrationApply(t *testing.T) {
	v1, v2, v3 := order(1, 1, "PENDING"), order(1, 2, "SHIPPED"), order(1, 3, "DELIVERED")
	v2other := order(1, 2, "CANCELLED") // same version, different content: must not win
	tests := []struct {
		name        string
		apply       []tracking.Order
		wantApplied []bool
		want        tracking.Order
		wantHistory []int64
	}{
		{"first state", []tracking.Order{v1}, []bool{true}, v1, []int64{1}},
		{"newer state", []tracking.Order{v1, v2}, []bool{true, true}, v2, []int64{1, 2}},
		{"duplicate ignored", []tracking.Order{v1, v2, v2}, []bool{true, true, false}, v2, []int64{1, 2}},
		{"equal version ignored", []tracking.Order{v1, v2, v2other}, []bool{true, true, false}, v2, []int64{1, 2}},
		{"older ignored", []tracking.Order{v1, v3, v2}, []bool{true, true, false}, v3, []int64{1, 2, 3}},
		{"late event fills timeline gap", []tracking.Order{v3, v1}, []bool{true, false}, v3, []int64{1, 3}},
		{"replay adds nothing", []tracking.Order{v1, v2, v3, v1, v2, v3}, []bool{true, true, true, false, false, false}, v3, []int64{1, 2, 3}},
	}
	// Each case runs twice: state by state through Apply, and all in one
	// ApplyAll, which must come to the same.
	for _, tt := range tests {
		for _, all := range []bool{false, true} {
			name := tt.name + "/Apply"
			if all {
				name = tt.name + "/ApplyAll"
			}
			t.Run(name, func(t *testing.T) { testApply(t, tt.apply, all, tt.wantApplied, tt.want, tt.wantHistory) })
		}
	}
}

func testApply(t *testing.T, apply []tracking.Order, all bool, wantApplied []bool, want tracking.Order, wantHistory []int64) {
	env := redistest.New(t, time.Hour)
	var applied []bool
	if all {
		var err error
		var results []tracking.Result
		if results, err = env.Store.ApplyAll(t.Context(), apply, false); err != nil {
			t.Fatalf("ApplyAll: %v", err)
		}
		applied = appliedOf(results)
	} else {
		for i, o := range apply {
			a, err := env.Store.Apply(t.Context(), o)
			if err != nil {
				t.Fatalf("apply %d: %v", i, err)
			}
			applied = append(applied, a)
		}
	}
	if !slices.Equal(applied, wantApplied) {
		t.Errorf("got applied %v, want %v", applied, wantApplied)
	}
	got, err := env.Store.Get(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("got state %+v, want %+v", got, want)
	}
	h, err := env.Store.History(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, c := range h {
		versions = append(versions, c.Version)
		if want := order(1, c.Version, "").UpdatedAt; !c.At.Equal(want) {
			t.Errorf("timeline version %d: got at %s, want %s", c.Version, c.At, want)
		}
	}
	if !slices.Equal(versions, wantHistory) {
		t.Errorf("got timeline versions %v, want %v (%+v)", versions, wantHistory, h)
	}
}

// appliedOf is whether each result changed the stored state.
func appliedOf(results []tracking.Result) []bool {
	out := make([]bool, len(results))
	for i, r := range results {
		out[i] = r == tracking.Applied
	}
	return out
}

// TestIntegrationApplyKnownOnly: with knownOnly, a state of an order whose
// keys are gone is not stored unless it is the order's first version.
func TestIntegrationApplyKnownOnly(t *testing.T) {
	env := redistest.New(t, time.Hour)
	results, err := env.Store.ApplyAll(t.Context(), []tracking.Order{
		order(8, 3, "SHIPPED"), // forgotten order: not stored
		order(9, 1, "PENDING"), // a creation
		order(9, 2, "CONFIRMED"),
	}, true)
	want := []tracking.Result{tracking.Unknown, tracking.Applied, tracking.Applied}
	if err != nil || !slices.Equal(results, want) {
		t.Fatalf("got %v, %v, want %v", results, err, want)
	}
	if _, err := env.Store.Get(t.Context(), 8); !errors.Is(err, tracking.ErrNotFound) {
		t.Errorf("order 8: got %v, want nothing stored", err)
	}
	if h, _ := env.Store.History(t.Context(), 8); len(h) != 0 {
		t.Errorf("order 8: got timeline %+v, want none", h)
	}
}

// TestIntegrationApplyAllAfterScriptFlush plays a Redis that restarted
// and lost its script cache between two batches.
func TestIntegrationApplyAllAfterScriptFlush(t *testing.T) {
	env := redistest.New(t, time.Hour)
	if _, err := env.Store.ApplyAll(t.Context(), []tracking.Order{order(3, 1, "PENDING")}, false); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.ScriptFlush(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	results, err := env.Store.ApplyAll(t.Context(), []tracking.Order{order(3, 2, "SHIPPED"), order(3, 3, "DELIVERED")}, false)
	if applied := appliedOf(results); err != nil || !slices.Equal(applied, []bool{true, true}) {
		t.Fatalf("ApplyAll after SCRIPT FLUSH: got %v, %v, want [true true], nil", applied, err)
	}
	if got, err := env.Store.Get(t.Context(), 3); err != nil || got.Version != 3 {
		t.Errorf("Get: got version %d, %v, want 3", got.Version, err)
	}
}

func TestIntegrationApplySetsTTLOnBothKeys(t *testing.T) {
	const ttl = time.Hour
	env := redistest.New(t, ttl)
	if _, err := env.Store.Apply(t.Context(), order(7, 1, "PENDING")); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{env.Prefix + "order:{7}", env.Prefix + "order:{7}:timeline", env.Prefix + "code:" + order(7, 1, "").TrackingCode} {
		got, err := env.Client.PTTL(t.Context(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got <= ttl-time.Minute || got > ttl {
			t.Errorf("%s: got TTL %s, want about %s", key, got, ttl)
		}
	}
}

// TestIntegrationIDByCode: an applied order's tracking code names it; an
// order without a code (from events that predate codes) indexes nothing.
func TestIntegrationIDByCode(t *testing.T) {
	env := redistest.New(t, 0)
	noCode := order(8, 1, "PENDING")
	noCode.TrackingCode = ""
	if _, err := env.Store.ApplyAll(t.Context(), []tracking.Order{order(7, 1, "PENDING"), noCode}, false); err != nil {
		t.Fatal(err)
	}
	if id, err := env.Store.IDByCode(t.Context(), order(7, 1, "").TrackingCode); err != nil || id != 7 {
		t.Errorf("got %d, %v, want 7", id, err)
	}
	if _, err := env.Store.IDByCode(t.Context(), order(8, 1, "").TrackingCode); !errors.Is(err, tracking.ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
	if got, err := env.Store.Get(t.Context(), 7); err != nil || got != order(7, 1, "PENDING") {
		t.Errorf("got %+v, %v, want the order with its code and owner", got, err)
	}
	if n, err := env.Client.Exists(t.Context(), env.Prefix+"code:").Result(); err != nil || n != 0 {
		t.Errorf("got %d keys for the empty code (%v), want none", n, err)
	}
}

func TestIntegrationTimelineIsOldestFirstWithStatuses(t *testing.T) {
	env := redistest.New(t, 0)
	for _, o := range []tracking.Order{order(3, 2, "CONFIRMED"), order(3, 1, "PENDING"), order(3, 3, "SHIPPED")} {
		if _, err := env.Store.Apply(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	h, err := env.Store.History(t.Context(), 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []tracking.StatusChange{order(3, 1, "PENDING").Change(), order(3, 2, "CONFIRMED").Change(), order(3, 3, "SHIPPED").Change()}
	if !slices.Equal(h, want) {
		t.Errorf("got %+v, want %+v", h, want)
	}
}

func TestIntegrationGetAndHistoryOfUnknownOrder(t *testing.T) {
	env := redistest.New(t, 0)
	if _, err := env.Store.Get(t.Context(), 404); !errors.Is(err, tracking.ErrNotFound) {
		t.Errorf("Get: got error %v, want ErrNotFound", err)
	}
	h, err := env.Store.History(t.Context(), 404)
	if err != nil || len(h) != 0 {
		t.Errorf("History: got %v, %v, want an empty timeline", h, err)
	}
}

func TestRedisDownIsUnavailable(t *testing.T) {
	s := redistest.Down(t)
	for name, call := range map[string]func() error{
		"Apply": func() error { _, err := s.Apply(t.Context(), order(1, 1, "PENDING")); return err },
		"ApplyAll": func() error {
			applied, err := s.ApplyAll(t.Context(), []tracking.Order{order(1, 1, "PENDING"), order(2, 1, "PENDING")}, false)
			if len(applied) != 0 {
				t.Errorf("ApplyAll with Redis down: got %v applied, want none", applied)
			}
			return err
		},
		"Get":        func() error { _, err := s.Get(t.Context(), 1); return err },
		"History":    func() error { _, err := s.History(t.Context(), 1); return err },
		"Ping":       func() error { return s.Ping(t.Context()) },
		"CheckWrite": func() error { return s.CheckWrite(t.Context()) },
	} {
		if err := call(); !errors.Is(err, tracking.ErrUnavailable) {
			t.Errorf("%s: got error %v, want one wrapping ErrUnavailable", name, err)
		}
	}
}

// TestIntegrationAddHistory: entries the timeline lacks are added, those it
// has are kept, and an order whose state is gone gets no timeline.
func TestIntegrationAddHistory(t *testing.T) {
	env := redistest.New(t, time.Hour)
	if _, err := env.Store.Apply(t.Context(), order(5, 3, "SHIPPED")); err != nil {
		t.Fatal(err)
	}
	rebuilt := []tracking.StatusChange{
		order(5, 1, "PENDING").Change(), order(5, 2, "CONFIRMED").Change(),
		{Status: "SOMETHING ELSE", At: t0, Version: 3}, // held already: kept as it is
	}
	if err := env.Store.AddHistory(t.Context(), 5, rebuilt); err != nil {
		t.Fatal(err)
	}
	h, err := env.Store.History(t.Context(), 5)
	want := []tracking.StatusChange{order(5, 1, "PENDING").Change(), order(5, 2, "CONFIRMED").Change(), order(5, 3, "SHIPPED").Change()}
	if err != nil || !slices.Equal(h, want) {
		t.Errorf("got %+v, %v, want %+v", h, err, want)
	}
	if ttl, err := env.Client.PTTL(t.Context(), env.Prefix+"order:{5}:timeline").Result(); err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("got timeline TTL %s (%v), want the state's", ttl, err)
	}
	if err := env.Store.AddHistory(t.Context(), 6, rebuilt); err != nil {
		t.Fatal(err)
	}
	if h, err := env.Store.History(t.Context(), 6); err != nil || len(h) != 0 {
		t.Errorf("order without state: got %+v, %v, want no timeline", h, err)
	}
}

// TestIntegrationCheckWrite: the consumer's gate fails when Redis answers
// but refuses writes (here a user allowed to read only, as a read-only
// replica or a full memory would), which a ping passes.
func TestIntegrationCheckWrite(t *testing.T) {
	env := redistest.New(t, time.Hour)
	if err := env.Store.CheckWrite(t.Context()); err != nil {
		t.Fatalf("writable: got %v, want nil", err)
	}
	user := "reader-" + strings.ReplaceAll(env.Prefix, ":", "")
	if err := env.Client.Do(t.Context(), "ACL", "SETUSER", user, "on", ">secret", "~*", "+@read", "+ping", "+hello", "+client").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Client.Do(context.Background(), "ACL", "DELUSER", user) })
	opts := *env.Client.Options()
	opts.Username, opts.Password = user, "secret"
	client := goredis.NewClient(&opts)
	t.Cleanup(func() { client.Close() })
	reader := redis.NewStore(client, redis.StoreOptions{KeyPrefix: env.Prefix})
	if err := reader.Ping(t.Context()); err != nil {
		t.Fatalf("read-only: ping got %v, want it to pass (which is why the gate writes)", err)
	}
	if err := reader.CheckWrite(t.Context()); !errors.Is(err, tracking.ErrUnavailable) {
		t.Fatalf("read-only: got %v, want the gate to fail", err)
	}
}

// TestIntegrationEmpty: a prefix with no order is empty; one order is not.
func TestIntegrationEmpty(t *testing.T) {
	env := redistest.New(t, time.Hour)
	if empty, err := env.Store.Empty(t.Context()); err != nil || !empty {
		t.Fatalf("new prefix: got %v, %v, want empty", empty, err)
	}
	if _, err := env.Store.Apply(t.Context(), order(1, 1, "PENDING")); err != nil {
		t.Fatal(err)
	}
	if empty, err := env.Store.Empty(t.Context()); err != nil || empty {
		t.Fatalf("one order: got %v, %v, want not empty", empty, err)
	}
}
