package e2e

import (
	"fmt"
	"net/http"
	"slices"
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

	// Every key of this platform's tracking data gone, as after a FLUSHALL.
	rdb := goredis.NewClient(&goredis.Options{Addr: p.redisAddr})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, p.redisPrefix+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("got keys %v (%v), want the platform's tracking keys", keys, err)
	}
	if err := rdb.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		got, err := statuses(id)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("order %d after Redis lost its data: timeline %v (%v), want %v", id, got, err, want)
		}
	}
}
