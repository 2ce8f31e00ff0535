package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/guard"
	"github.com/order-tracking/platform/pkg/httpserver"
	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// createAllocBudget is what one create may allocate in orders-service's
// own code path, through the whole HTTP stack (middleware, decoding,
// validation, encoding) but without the database driver: the store below
// keeps orders in memory. It is a guard, set a little above today's count,
// so that a change which makes every request allocate more fails make
// bench and is looked at, rather than slipping in.
const createAllocBudget = 85

// memStore is an orders.Store that keeps nothing: the benchmark is about
// the HTTP path's own cost.
type memStore struct {
	orders.Store
	next atomic.Int64
}

func (s *memStore) Create(_ context.Context, req orders.CreateRequest) (orders.Order, *orders.Receipt, error) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return orders.Order{
		ID: s.next.Add(1), CustomerName: req.Order.CustomerName, Item: req.Order.Item, Quantity: req.Order.Quantity,
		TrackingCode: "trk_00000000000000000000000000000000",
		Status:       orders.StatusPending, Version: 1, CreatedAt: now, UpdatedAt: now,
	}, nil, nil
}

// BenchmarkCreateHandler measures POST /orders/createOrder through the
// service's full HTTP stack (make bench), and fails when a request
// allocates more than createAllocBudget times.
func BenchmarkCreateHandler(b *testing.B) {
	srv, err := httpserver.New(httpserver.Config{}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	Register(srv.Router(), slog.New(slog.DiscardHandler), orders.NewService(&memStore{}), guard.Guards{})
	h := srv.Handler()
	const body = `{"customerName":"Alice","item":"Laptop","quantity":1}`
	create := func() {
		req := httptest.NewRequest(http.MethodPost, "/orders/createOrder", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("got %d %s, want 201", rec.Code, rec.Body)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		create()
	}
	b.StopTimer()
	if allocs := testing.AllocsPerRun(200, create); allocs > createAllocBudget {
		b.Fatalf("a create allocates %.0f times, over the budget of %d: find what was added to the path", allocs, createAllocBudget)
	}
}
