package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/order-tracking/platform/pkg/testinfra"
)

// TestIntegrationTimelineSurvivesRedisLoss: when Redis loses the tracking
// data (a restart without persistence, a FLUSHALL), each order's whole
// timeline comes back from orders-service, not only its latest state.
func TestIntegrationTimelineSurvivesRedisLoss(t *testing.T) {
	p := startPlatform(t, nil)
	ctx := t.Context()
	walk := []string{"CONFIRMED", "SHIPPED", "OUT_FOR_DELIVERY"}
	var ids []int64
	for range 5 {
		var o struct{ ID int64 }
		if code, _, err := p.c.do(ctx, "POST", p.orders.url("/orders/createOrder"), `{"customerName":"Ada","item":"Lamp"}`, nil, &o); err != nil || code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, err)
		}
		for _, s := range walk {
			if code, _, err := p.c.do(ctx, "PUT", p.orders.url(fmt.Sprintf("/orders/updateOrderStatus/%d?status=%s", o.ID, s)), "", nil, nil); err != nil || code != http.StatusCreated {
				t.Fatalf("update to %s: %d %v", s, code, err)
			}
		}
		ids = append(ids, o.ID)
	}
	want := []string{"PENDING", "CONFIRMED", "SHIPPED", "OUT_FOR_DELIVERY"}
	statuses := func(id int64) ([]string, error) {
		var h []struct {
			Status  string
			Version int64
		}
		code, _, err := p.c.do(ctx, "GET", p.tracking.url(fmt.Sprintf("/track/%d/history", id)), "", nil, &h)
		if err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("GET /track/%d/history: %d %v", id, code, err)
		}
		var out []string
		for i, e := range h {
			if e.Version != int64(i+1) {
				return nil, fmt.Errorf("entry %d has version %d", i, e.Version)
			}
			out = append(out, e.Status)
		}
		return out, nil
	}
	for _, id := range ids {
		testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
			got, err := statuses(id)
			return err == nil && slices.Equal(got, want), fmt.Sprintf("order %d: timeline %v (%v), want %v", id, got, err, want)
		})
	}

	rdb := goredis.NewClient(&goredis.Options{Addr: p.redisAddr})
	defer rdb.Close()
	// flush deletes every key of this platform's tracking data, as a
	// FLUSHALL would.
	flush := func() {
		t.Helper()
		keys, err := rdb.Keys(ctx, p.redisPrefix+"*").Result()
		if err != nil || len(keys) == 0 {
			t.Fatalf("got keys %v (%v), want the platform's tracking keys", keys, err)
		}
		if err := rdb.Del(ctx, keys...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// stored counts the orders whose state Redis holds, without reading
	// them through the API (which would fill them).
	stored := func() int {
		n := 0
		for _, id := range ids {
			if ok, _ := rdb.Exists(ctx, fmt.Sprintf("%sorder:{%d}", p.redisPrefix, id)).Result(); ok == 1 {
				n++
			}
		}
		return n
	}

	// `tracking-service rebuild` restores every order from orders-service.
	flush()
	cmd := exec.CommandContext(ctx, p.tracking.bin, "rebuild")
	cmd.Env = p.tracking.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tracking-service rebuild: %v\n%s", err, out)
	}
	if n := stored(); n != len(ids) {
		t.Errorf("after tracking-service rebuild: %d of %d orders in Redis, want all", n, len(ids))
	}

	// And so does a start on an empty Redis, by itself.
	flush()
	p.tracking.stop(t, syscall.SIGTERM)
	p.tracking.start(t)
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		n := stored()
		return n == len(ids), fmt.Sprintf("after a start on an empty Redis: %d of %d orders rebuilt", n, len(ids))
	})

	// Timelines come back from orders-service too, when read.
	flush()
	for _, id := range ids {
		got, err := statuses(id)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("order %d after Redis lost its data: timeline %v (%v), want %v", id, got, err, want)
		}
	}
}
