//go:build chaos

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"time"
)

// ledger is what the suite's clients were told: every order and change
// orders-service acknowledged (2xx). Whatever it holds must survive every
// fault.
type ledger struct {
	mu     sync.Mutex
	orders map[int64][]string // acknowledged statuses per order, PENDING first
	recent []int64            // the newest acknowledged orders, for the regression sampler
	// Per round: acknowledged writes, failed requests (writes and the
	// sampler's reads), acknowledged writes since the fault ended, and
	// the slowest answer.
	acked, failed, ackedAfter int
	slowest                   time.Duration
	faultEnded                bool
}

func newLedger() *ledger { return &ledger{orders: map[int64][]string{}} }

// round starts a new round's counters.
func (l *ledger) round() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked, l.failed, l.ackedAfter, l.slowest, l.faultEnded = 0, 0, 0, 0, false
}

func (l *ledger) endFault() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.faultEnded = true
}

// answered records one request's answer time; ok says it was acknowledged.
func (l *ledger) answered(took time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.slowest = max(l.slowest, took)
	if !ok {
		l.failed++
	}
}

// ack records an acknowledged change of order to status.
func (l *ledger) ack(order int64, status string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked++
	if l.faultEnded {
		l.ackedAfter++
	}
	if status == "PENDING" {
		l.recent = append(l.recent, order)
		if len(l.recent) > 200 {
			l.recent = l.recent[1:]
		}
	}
	l.orders[order] = append(l.orders[order], status)
}

// sample returns one of the newest orders, or 0 before any.
func (l *ledger) sample() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.recent) == 0 {
		return 0
	}
	return l.recent[mrand.IntN(len(l.recent))]
}

func (l *ledger) snapshot() map[int64][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[int64][]string, len(l.orders))
	for id, s := range l.orders {
		out[id] = slices.Clone(s)
	}
	return out
}

// load is the suite's bounded load: rate orders a second, created half
// through the original API and half through /api/v1 (with an
// Idempotency-Key, retried with it), each walked forward along the
// delivery path with pauses between steps, so that walks straddle the
// fault. A client that got no answer re-reads the order and goes on from
// what it finds, as a real client would.
type load struct {
	orders string // base URL of orders-service (the balancer)
	c      *client
	l      *ledger
	rate   float64
}

// loadWorkers bounds the requests in flight; loadStep is the pause
// between one order's changes.
const loadWorkers, loadStep = 8, 150 * time.Millisecond

// run drives the load until ctx ends and returns when every worker has.
func (ld *load) run(ctx context.Context) {
	tokens := make(chan int)
	var wg sync.WaitGroup
	for range loadWorkers {
		wg.Go(func() {
			for n := range tokens {
				ld.order(ctx, n)
			}
		})
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / ld.rate))
	defer func() { tick.Stop(); close(tokens); wg.Wait() }()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case tokens <- n:
		case <-ctx.Done():
			return
		default: // every worker busy: the load is bounded, this tick is skipped
		}
	}
}

// call sends one request and records its answer time.
func (ld *load) call(ctx context.Context, method, url, body string, header map[string]string, out any) int {
	start := time.Now()
	code, _, err := ld.c.do(ctx, method, url, body, header, out)
	if err != nil {
		code = 0
	}
	if ctx.Err() == nil { // a request cut by the end of the load is no answer
		ld.l.answered(time.Since(start), code >= 200 && code < 300)
	}
	return code
}

// order creates one order and walks it.
func (ld *load) order(ctx context.Context, n int) {
	r := mrand.New(mrand.NewPCG(uint64(n), uint64(time.Now().UnixNano())))
	legacy := n%2 == 0
	body := fmt.Sprintf(`{"customerName":"chaos-%d","item":"item-%d","quantity":%d}`, n, n%7, 1+n%5)
	var o orderJSON
	if legacy {
		if ld.call(ctx, "POST", ld.orders+"/orders/createOrder", body, nil, &o) != 201 {
			return // the original API has no idempotency key: a client that got no answer cannot retry safely
		}
	} else {
		key := randomKey()
		created := false
		for attempt := 0; attempt < 5 && !created && ctx.Err() == nil; attempt++ {
			if attempt > 0 {
				pause(ctx, time.Duration(attempt)*300*time.Millisecond)
			}
			created = ld.call(ctx, "POST", ld.orders+"/api/v1/orders", body, map[string]string{"Idempotency-Key": key}, &o) == 201
		}
		if !created {
			return
		}
	}
	ld.l.ack(o.ID, "PENDING")
	version := int64(1)
	for _, s := range randomWalk(r) {
		for attempt := 0; ; attempt++ {
			pause(ctx, loadStep)
			if ctx.Err() != nil || attempt == 5 {
				return
			}
			var code int
			if legacy {
				code = ld.call(ctx, "PUT", fmt.Sprintf("%s/orders/updateOrderStatus/%d?status=%s", ld.orders, o.ID, s), "", nil, nil)
				if code == 201 {
					ld.l.ack(o.ID, s)
				}
			} else {
				var got orderJSON
				code = ld.call(ctx, "PATCH", fmt.Sprintf("%s/api/v1/orders/%d/status", ld.orders, o.ID),
					fmt.Sprintf(`{"status":%q}`, s), map[string]string{"If-Match": fmt.Sprintf("%q", fmt.Sprint(version))}, &got)
				if code == 200 {
					ld.l.ack(o.ID, s)
					version = got.Version
				}
			}
			if code >= 200 && code < 300 {
				break
			}
			// No acknowledgement: the change may have been made or not.
			// Re-read and go on from what the order holds.
			var cur orderJSON
			if ld.call(ctx, "GET", fmt.Sprintf("%s/api/v1/orders/%d", ld.orders, o.ID), "", nil, &cur) != 200 {
				continue
			}
			version = cur.Version
			if position(cur.Status) >= position(s) {
				break // made after all, or passed: next step
			}
		}
	}
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func randomKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// sampler reads the tracking of the newest orders while the suite runs
// (50 reads a second, counted in the ledger's answers like the writes) and
// counts regressions: a read that shows an order older than one shown
// before.
type sampler struct {
	tracking string
	c        *client
	l        *ledger

	mu          sync.Mutex
	seen        map[int64]int64
	regressions []string
}

func (s *sampler) run(ctx context.Context) {
	s.seen = map[int64]int64{}
	for ctx.Err() == nil {
		pause(ctx, 20*time.Millisecond)
		id := s.l.sample()
		if id == 0 {
			continue
		}
		var o orderJSON
		start := time.Now()
		code, _, err := s.c.do(ctx, "GET", fmt.Sprintf("%s/track/%d", s.tracking, id), "", nil, &o)
		if ctx.Err() == nil {
			// A 404 is an order tracking has not caught up with: an
			// answer, not a failure.
			s.l.answered(time.Since(start), err == nil && (code == 200 || code == 404))
		}
		if err != nil || code != 200 {
			continue // unavailable or not there yet: not a regression
		}
		s.mu.Lock()
		if o.Version < s.seen[id] {
			s.regressions = append(s.regressions, fmt.Sprintf("order %d: tracked version %d after %d", id, o.Version, s.seen[id]))
		}
		s.seen[id] = max(s.seen[id], o.Version)
		s.mu.Unlock()
	}
}

func (s *sampler) count() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.regressions), slices.Clone(s.regressions)
}
