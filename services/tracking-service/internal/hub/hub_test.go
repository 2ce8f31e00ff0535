package hub

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

func state(id, v int64) tracking.Order { return tracking.Order{ID: id, Version: v, Status: "SHIPPED"} }

// drain returns what s has buffered, and whether its channel is closed.
func drain(s *Subscription) (got []int64, closed bool) {
	for {
		select {
		case o, ok := <-s.Changes():
			if !ok {
				return got, true
			}
			got = append(got, o.Version)
		default:
			return got, false
		}
	}
}

// newHub is New for tests, failing t if it fails.
func newHub(t *testing.T, opts Options) *Hub {
	t.Helper()
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestPublishReachesTheSubscribersOfItsOrderOnly(t *testing.T) {
	h := newHub(t, Options{})
	a1, _ := h.Subscribe(1)
	a2, _ := h.Subscribe(1)
	b, _ := h.Subscribe(2)
	h.Publish(state(1, 1))
	h.Publish(state(1, 2))
	h.Publish(state(3, 1)) // nobody listens: dropped without effect

	tests := []struct {
		name string
		sub  *Subscription
		want []int64
	}{
		{"first subscriber of order 1", a1, []int64{1, 2}},
		{"second subscriber of order 1", a2, []int64{1, 2}},
		{"subscriber of order 2", b, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, closed := drain(tt.sub)
			if closed || len(got) != len(tt.want) {
				t.Fatalf("got %v (closed %v), want %v", got, closed, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestSlowSubscriberIsDroppedWithoutBlocking(t *testing.T) {
	h := newHub(t, Options{Buffer: 2})
	slow, _ := h.Subscribe(1)
	fast, _ := h.Subscribe(1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for v := int64(1); v <= 3; v++ {
			h.Publish(state(1, v))
			// fast keeps up; slow reads nothing.
			if o := <-fast.Changes(); o.Version != v {
				t.Errorf("fast subscriber: got version %d, want %d", o.Version, v)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a slow subscriber")
	}
	got, closed := drain(slow)
	if !closed || len(got) != 2 {
		t.Errorf("slow subscriber: got %v closed=%v, want its 2 buffered changes, then closed", got, closed)
	}
	if n := h.Len(); n != 1 {
		t.Errorf("got %d subscribers, want 1 (the fast one)", n)
	}
	slow.Close() // after being dropped: a no-op, not a double close
}

func TestCloseEndsSubscriptionsAndRefusesNewOnes(t *testing.T) {
	h := newHub(t, Options{})
	a, _ := h.Subscribe(1)
	b, _ := h.Subscribe(2)
	h.Close()
	for _, s := range []*Subscription{a, b} {
		if _, closed := drain(s); !closed {
			t.Error("got an open subscription after Close, want it closed")
		}
		s.Close()
	}
	if _, err := h.Subscribe(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: got %v, want ErrClosed", err)
	}
	if n := h.Len(); n != 0 {
		t.Errorf("got %d subscribers, want 0", n)
	}
}

func TestResetEndsSubscriptionsButAcceptsNewOnes(t *testing.T) {
	h := newHub(t, Options{})
	a, _ := h.Subscribe(1)
	h.Reset()
	if _, closed := drain(a); !closed {
		t.Error("got an open subscription after Reset, want it closed")
	}
	b, err := h.Subscribe(1)
	if err != nil {
		t.Fatalf("Subscribe after Reset: %v", err)
	}
	h.Publish(state(1, 4))
	if got, _ := drain(b); len(got) != 1 || got[0] != 4 {
		t.Errorf("got %v, want [4]", got)
	}
}

func TestSubscriberGauge(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHub(t, Options{Registerer: reg})
	subs := make([]*Subscription, 3)
	for i := range subs {
		subs[i], _ = h.Subscribe(int64(i))
	}
	subs[0].Close()
	subs[0].Close() // twice: still one fewer
	want := strings.NewReader(`# HELP tracking_sse_subscribers Clients currently streaming order changes.
# TYPE tracking_sse_subscribers gauge
tracking_sse_subscribers 2
`)
	if err := testutil.GatherAndCompare(reg, want, "tracking_sse_subscribers"); err != nil {
		t.Error(err)
	}
}

func TestNewFailsOnRegisteredGauge(t *testing.T) {
	reg := prometheus.NewRegistry()
	newHub(t, Options{Registerer: reg})
	h, err := New(Options{Registerer: reg})
	if err == nil || h != nil || !strings.Contains(err.Error(), "cannot register hub metrics") {
		t.Errorf("got %v, %v, want no hub and a cannot register error", h, err)
	}
}

// TestConcurrentUse gives the race detector publishers, subscribers that
// come and go, resets and a close, all at once.
func TestConcurrentUse(t *testing.T) {
	h := newHub(t, Options{Buffer: 4})
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for v := range 200 {
				h.Publish(state(int64(p%2), int64(v)))
			}
		})
	}
	for s := range 8 {
		wg.Go(func() {
			for range 50 {
				sub, err := h.Subscribe(int64(s % 2))
				if err != nil {
					return // closed
				}
				drain(sub)
				sub.Close()
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			h.Reset()
		}
	})
	wg.Wait()
	h.Close()
	if n := h.Len(); n != 0 {
		t.Errorf("got %d subscribers after Close, want 0", n)
	}
}
