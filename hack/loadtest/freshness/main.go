// Command freshness measures how soon a change made through orders-service
// is visible through tracking-service, at fixed rates of changes per
// second:
//
//	freshness -orders http://127.0.0.1:8081 -tracking http://127.0.0.1:8082 -rates 50,200,1000 -duration 10s
//
// At each rate it sends changes in an open loop, on a fixed schedule and
// never waiting for answers: a create (POST /orders/createOrder), or a
// valid forward move (PUT /orders/updateOrderStatus/{id}) of an order whose
// previous change has been answered. From each change's 2xx it measures
// the time until (a) the order's event stream (GET /track/{id}/events,
// opened after the create, events "state" with id = version) and (b)
// GET /track/{id}, polled every -poll (less often for a change already
// late, see pollDelay), show that version or a later one.
// A change not seen within -within of its 2xx is "never seen". Results are
// @loadtest records (package results) on stdout, one run line per rate and
// one line per rate, kind (create, update) and way (sse, get).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/order-tracking/platform/hack/loadtest/internal/orderapi"
)

func main() { os.Exit(run()) }

func run() int {
	ordersURL := flag.String("orders", "http://127.0.0.1:8081", "orders-service base URL")
	trackingURL := flag.String("tracking", "http://127.0.0.1:8082", "tracking-service base URL")
	rateList := flag.String("rates", "50,200,1000", "changes per second, one run each, comma-separated")
	duration := flag.Duration("duration", 10*time.Second, "how long each rate sends changes")
	within := flag.Duration("within", 5*time.Second, "a change not seen this long after its 2xx is never seen")
	poll := flag.Duration("poll", 10*time.Millisecond, "interval of the GET /track/{id} polls of an order with a change unseen for less than 4 polls (then a quarter of its age)")
	maxInFlight := flag.Int("max-in-flight", 512, "requests in flight at most; a change due beyond it is dropped and counted")
	flag.Parse()
	rates, err := parseRates(*rateList)
	if err != nil || *duration <= 0 || *within <= 0 || *poll <= 0 || *maxInFlight < 1 {
		fmt.Fprintf(os.Stderr, "freshness: bad flags (%v): -rates wants positive integers, durations must be positive\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := probeConfig{
		requests: &orderapi.Client{Orders: *ordersURL, Tracking: *trackingURL, HTTP: orderapi.NewHTTPClient(*maxInFlight, 10*time.Second)},
		// Streams stay open for as long as their order changes: no
		// overall timeout, the probe's context ends them.
		streams:     &orderapi.Client{Orders: *ordersURL, Tracking: *trackingURL, HTTP: orderapi.NewHTTPClient(8, 0)},
		duration:    *duration,
		within:      *within,
		poll:        *poll,
		maxInFlight: *maxInFlight,
	}
	for _, rate := range rates {
		res := runProbe(ctx, cfg, rate)
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "freshness: interrupted")
			return 1
		}
		for _, line := range res.records() {
			fmt.Println(line)
		}
		for _, e := range res.sampleErrors {
			fmt.Fprintf(os.Stderr, "freshness: rate %d: %s\n", rate, e)
		}
	}
	return 0
}

func parseRates(s string) ([]int, error) {
	var rates []int
	for f := range strings.SplitSeq(s, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r < 1 {
			return nil, fmt.Errorf("rate %q", f)
		}
		rates = append(rates, r)
	}
	return rates, nil
}
