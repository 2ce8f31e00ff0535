// Command openloop sends orders-service's writes at a fixed rate, on a
// fixed schedule that never waits for answers, and reports their latency,
// each measured from the time its request was due: a service that falls
// behind shows it in the percentiles rather than slowing the load down (a
// closed loop such as wrk hides that). The harness runs it at half the
// rate wrk reached.
//
//	openloop -orders http://127.0.0.1:8081 -scenario create -rate 2000 -duration 30s
//
// Scenarios: create (POST /orders/createOrder) and update (PUT
// /orders/updateOrderStatus/{id}, valid forward moves of the PENDING orders
// listed in -ids, each order's next move due only after its previous one
// was answered). The harness seeds those orders, and lets the pipeline
// drain, before the timed run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/order-tracking/platform/hack/loadtest/internal/orderapi"
	"github.com/order-tracking/platform/hack/loadtest/internal/results"
	"github.com/order-tracking/platform/hack/loadtest/internal/stats"
)

func main() { os.Exit(run()) }

func run() int {
	ordersURL := flag.String("orders", "http://127.0.0.1:8081", "orders-service base URL")
	scenario := flag.String("scenario", "create", "create or update")
	rate := flag.Int("rate", 100, "requests per second")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	maxInFlight := flag.Int("max-in-flight", 1024, "requests due while this many are unanswered are dropped (counted)")
	timeout := flag.Duration("timeout", 5*time.Second, "a request unanswered this long fails")
	idsFile := flag.String("ids", "", "update: PENDING orders' ids, one per line, at least what -orders-for prints")
	ordersFor := flag.Int("orders-for", 0, "print how many orders -ids must hold for this many moves, and exit")
	flag.Parse()
	if *ordersFor > 0 {
		fmt.Println(ordersNeeded(*ordersFor))
		return 0
	}
	if *rate < 1 || *duration <= 0 || (*scenario != "create" && *scenario != "update") {
		fmt.Fprintln(os.Stderr, "openloop: -scenario is create or update, -rate and -duration must be positive")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &orderapi.Client{Orders: *ordersURL, HTTP: orderapi.NewHTTPClient(*maxInFlight, *timeout)}

	n := int(float64(*rate) * duration.Seconds())
	var next func(context.Context) (func(context.Context) error, bool)
	switch *scenario {
	case "create":
		next = func(context.Context) (func(context.Context) error, bool) {
			return func(ctx context.Context) error {
				_, err := c.Create(ctx, "loadtest-openloop", "Laptop")
				return err
			}, true
		}
	case "update":
		ids, err := orderapi.ReadIDs(*idsFile)
		if err != nil || len(ids) < ordersNeeded(n) {
			fmt.Fprintf(os.Stderr, "openloop: -ids must hold at least %d PENDING orders for %d moves (%d read; %v)\n", ordersNeeded(n), n, len(ids), err)
			return 2
		}
		next = newMover(c, ids).next
	}
	r := send(ctx, n, *rate, *maxInFlight, next)
	s := stats.Summarize(r.latencies)
	fmt.Println(results.Format("openloop", "scenario", *scenario, "rate", strconv.Itoa(*rate),
		"due", strconv.Itoa(n), "ok", strconv.Itoa(s.N), "errors", strconv.FormatInt(r.errors, 10),
		"dropped", strconv.FormatInt(r.dropped, 10), "starved", strconv.FormatInt(r.starved, 10),
		"p50_ms", msText(s.P50), "p99_ms", msText(s.P99), "max_ms", msText(s.Max)))
	if r.firstErr != nil {
		fmt.Fprintln(os.Stderr, "openloop: first error:", r.firstErr)
	}
	return 0
}

// result is what send saw.
type result struct {
	latencies                []time.Duration // of the requests answered as expected
	errors, dropped, starved int64
	firstErr                 error
}

// send runs n requests, the i-th due at start + i/rate. next returns the
// request due now, or false when none can be sent (an update with no order
// ready: starved). A request due while maxInFlight are unanswered is
// dropped.
func send(ctx context.Context, n, rate, maxInFlight int, next func(context.Context) (func(context.Context) error, bool)) result {
	var (
		r        result
		mu       sync.Mutex
		inFlight atomic.Int64
		wg       sync.WaitGroup
	)
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		if inFlight.Load() >= int64(maxInFlight) {
			r.dropped++
			continue
		}
		do, ok := next(ctx)
		if !ok {
			r.starved++
			continue
		}
		inFlight.Add(1)
		wg.Go(func() {
			defer inFlight.Add(-1)
			err := do(ctx)
			took := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.errors++
				if r.firstErr == nil {
					r.firstErr = err
				}
				return
			}
			r.latencies = append(r.latencies, took)
		})
	}
	wg.Wait()
	if ctx.Err() != nil && r.firstErr == nil {
		r.firstErr = errors.New("interrupted")
	}
	return r
}

// ordersNeeded is how many PENDING orders n moves need: every order takes
// len(Forward) moves, and a third more than that keeps the ready queue from
// running dry while earlier moves are in flight.
func ordersNeeded(n int) int { return n/len(orderapi.Forward) + n/3 + 1 }

// mover hands out the next forward move of orders whose previous move was
// answered.
type mover struct {
	c     *orderapi.Client
	mu    sync.Mutex
	ready []step
}

type step struct {
	id   int64
	move int // index into orderapi.Forward
}

func newMover(c *orderapi.Client, ids []int64) *mover {
	m := &mover{c: c}
	for _, id := range ids {
		m.ready = append(m.ready, step{id: id})
	}
	return m
}

func (m *mover) next(context.Context) (func(context.Context) error, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.ready) == 0 {
		return nil, false
	}
	s := m.ready[0]
	m.ready = m.ready[1:]
	return func(ctx context.Context) error {
		err := m.c.Move(ctx, s.id, orderapi.Forward[s.move])
		if err == nil && s.move+1 < len(orderapi.Forward) {
			m.mu.Lock()
			m.ready = append(m.ready, step{id: s.id, move: s.move + 1})
			m.mu.Unlock()
		}
		return err
	}, true
}

func msText(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}
