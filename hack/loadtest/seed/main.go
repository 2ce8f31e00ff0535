// Command seed creates orders through orders-service's original API and
// writes their ids, one per line: the orders that the load harness's fetch,
// track and update scenarios work on.
//
//	seed -orders http://127.0.0.1:8081 -n 2000 -out seed.ids
//
// The first -list-count orders belong to the customer -list-customer, so
// that the list scenario reads an answer of known size. Any failed create
// fails the whole seed: the scenarios must only meet orders that exist.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/order-tracking/platform/hack/loadtest/internal/orderapi"
)

func main() { os.Exit(run()) }

func run() int {
	ordersURL := flag.String("orders", "http://127.0.0.1:8081", "orders-service base URL")
	n := flag.Int("n", 2000, "orders to create")
	concurrency := flag.Int("concurrency", 16, "creates in flight at once")
	out := flag.String("out", "", "file to write the ids to (required)")
	listCustomer := flag.String("list-customer", "loadtest-list", "customer of the first -list-count orders")
	listCount := flag.Int("list-count", 50, "orders of -list-customer")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	flag.Parse()
	if *out == "" || *n < 1 || *concurrency < 1 {
		fmt.Fprintln(os.Stderr, "seed: -out is required, -n and -concurrency must be at least 1")
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	c := &orderapi.Client{Orders: *ordersURL, HTTP: orderapi.NewHTTPClient(*concurrency, 10*time.Second)}
	start := time.Now()
	ids, err := c.CreateMany(ctx, *n, *concurrency, func(i int) string {
		if i < *listCount {
			return *listCustomer
		}
		return "loadtest-seed"
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "seed: %v\n", err)
		return 1
	}
	slices.Sort(ids)
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(strconv.FormatInt(id, 10) + "\n")
	}
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "seed: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "seed: %d orders created in %s (ids %d-%d)\n",
		len(ids), time.Since(start).Round(time.Millisecond), ids[0], ids[len(ids)-1])
	return 0
}
