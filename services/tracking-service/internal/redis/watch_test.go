package redis_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/testinfra"
	"github.com/order-tracking/platform/services/tracking-service/internal/redis/redistest"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

// watcher runs Store.Watch for a test and records what it reports.
type watcher struct {
	mu          sync.Mutex
	got         []tracking.Order
	subscribed  int
	subscribedC chan struct{} // receives on every (re)subscription
}

// watch starts env.Store.Watch and waits for its subscription. The test's
// cleanup stops it and waits for it to return.
func watch(t *testing.T, env redistest.Env) *watcher {
	t.Helper()
	w := &watcher{subscribedC: make(chan struct{}, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- env.Store.Watch(ctx, func(o tracking.Order) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.got = append(w.got, o)
		}, func() {
			w.mu.Lock()
			w.subscribed++
			w.mu.Unlock()
			w.subscribedC <- struct{}{}
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch: got %v, want nil after cancellation", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Watch did not return within 10s of cancellation")
		}
	})
	w.waitSubscribed(t)
	return w
}

func (w *watcher) waitSubscribed(t *testing.T) {
	t.Helper()
	select {
	case <-w.subscribedC:
	case <-time.After(10 * time.Second):
		t.Fatal("no subscription within 10s")
	}
}

func (w *watcher) versions() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var vs []int64
	for _, o := range w.got {
		vs = append(vs, o.Version)
	}
	return vs
}

func TestIntegrationWatchSeesAppliedChangesOnly(t *testing.T) {
	env := redistest.New(t, 0)
	w := watch(t, env)
	for _, o := range []tracking.Order{order(5, 1, "PENDING"), order(5, 2, "SHIPPED"), order(5, 1, "PENDING"), order(5, 2, "SHIPPED"), order(5, 3, "DELIVERED")} {
		if _, err := env.Store.Apply(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	// Messages arrive in the order published, so once version 3 is in,
	// anything the stale applies published would be in too.
	want := []int64{1, 2, 3}
	testinfra.Eventually(t, 10*time.Second, func() (bool, string) {
		got := w.versions()
		return slices.Equal(got, want), fmt.Sprint("got versions ", got)
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	if got := w.got[2]; got != order(5, 3, "DELIVERED") {
		t.Errorf("got %+v, want the stored state", got)
	}
}

func TestIntegrationWatchPrefixWithWildcards(t *testing.T) {
	// PSUBSCRIBE reads * in the prefix as a wildcard unless escaped; the
	// other store's channels would then match too.
	base := testinfra.UniqueName("tracking-test-")
	env := redistest.WithPrefix(t, 0, base+"*:")
	other := redistest.WithPrefix(t, 0, base+"x:")
	w := watch(t, env)
	if _, err := other.Store.Apply(t.Context(), order(6, 9, "PENDING")); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.Apply(t.Context(), order(6, 1, "PENDING")); err != nil {
		t.Fatal(err)
	}
	testinfra.Eventually(t, 10*time.Second, func() (bool, string) {
		got := w.versions()
		return slices.Equal(got, []int64{1}), fmt.Sprint("got versions ", got)
	})
}

func TestIntegrationWatchResubscribesAfterConnectionLoss(t *testing.T) {
	env := redistest.New(t, 0)
	w := watch(t, env)
	ids := redistest.PubSubConns(t, env.Client, env.ClientName)
	if len(ids) != 1 {
		t.Fatalf("got %d subscribed connections, want 1", len(ids))
	}
	// Only this test's connection: others may be running at the same time.
	if err := env.Client.Do(t.Context(), "CLIENT", "KILL", "ID", ids[0]).Err(); err != nil {
		t.Fatalf("CLIENT KILL ID %s: %v", ids[0], err)
	}
	w.waitSubscribed(t)
	if _, err := env.Store.Apply(t.Context(), order(8, 1, "PENDING")); err != nil {
		t.Fatal(err)
	}
	testinfra.Eventually(t, 10*time.Second, func() (bool, string) {
		got := w.versions()
		return slices.Equal(got, []int64{1}), fmt.Sprint("got versions ", got)
	})
}
