package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
)

// TestIntegrationMetricsBoundedUnderMadeUpMethods: 2,000 requests with
// made-up HTTP methods leave every service's /metrics under 1.1 times its
// size: every made-up method is the one label value OTHER, not a series of
// its own (before, 2,000 of them grew orders-service's /metrics from 149 KB
// to 2.7 MB).
func TestIntegrationMetricsBoundedUnderMadeUpMethods(t *testing.T) {
	p := startPlatform(t, nil)
	paths := map[*service][]string{
		p.orders:       {"/orders/fetchOrder/1", "/api/v1/orders", "/nope"},
		p.tracking:     {"/track/1", "/nope"},
		p.notification: {"/notifications?orderId=1", "/nope"},
	}
	size := func(s *service) int {
		t.Helper()
		code, _, body, err := p.c.raw(t.Context(), http.MethodGet, s.url("/metrics"), "", nil)
		if err != nil || code != http.StatusOK {
			t.Fatalf("%s /metrics: %d %v", s.name, code, err)
		}
		return len(body)
	}
	for s, ps := range paths {
		// Every path once with GET and once with a made-up method first:
		// the series they add (the OTHER label's, one set per status) are
		// the bounded cost; what is measured is that 2,000 more methods
		// add nothing beyond it.
		for _, path := range ps {
			_, _, _, _ = p.c.raw(t.Context(), http.MethodGet, s.url(path), "", nil)
			_, _, _, _ = p.c.raw(t.Context(), "MADEUP", s.url(path), "", nil)
		}
		before := size(s)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range 2000 {
			method := fmt.Sprintf("FOO%d", r.IntN(1_000_000))
			if _, _, _, err := p.c.raw(t.Context(), method, s.url(ps[i%len(ps)]), "", nil); err != nil {
				t.Fatalf("%s %s: %v", method, s.name, err)
			}
		}
		if after := size(s); float64(after) > 1.1*float64(before) {
			t.Errorf("%s: /metrics grew from %d to %d bytes with 2,000 made-up methods, want under 1.1 times", s.name, before, after)
		}
	}
}
