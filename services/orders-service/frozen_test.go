package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/order-tracking/platform/pkg/testinfra"
)

// answerBound is how soon every API answers, whatever its dependencies do.
const answerBound = 3 * time.Second

// TestIntegrationDatabaseFrozen: with PostgreSQL frozen (a proxy holding
// every byte, as SIGSTOP would), every API answers 503 with Retry-After
// within 3s, on both APIs, and a create answered 503 is not committed when
// the database runs again, so a client's retry cannot place the order twice.
func TestIntegrationDatabaseFrozen(t *testing.T) {
	dbURL := testinfra.NewDatabase(t)
	proxy := testinfra.NewProxy(t, testinfra.Host(t, dbURL))
	base := testinfra.StartService(t, run, map[string]string{
		"DATABASE_URL":  proxy.Through(t, dbURL),
		"KAFKA_BROKERS": testinfra.KafkaBrokers(t),
		"KAFKA_TOPIC":   testinfra.UniqueName("order-events-frozen"),
		"LOG_FORMAT":    "text",
	}, nil)
	var first map[string]any
	if code := call(t, http.MethodPost, base+"/orders/createOrder", `{"customerName":"Ada","item":"Lamp"}`, &first); code != http.StatusCreated {
		t.Fatalf("create before the freeze: got %d, want 201", code)
	}

	proxy.Freeze()
	requests := []struct{ method, path, body string }{
		{http.MethodPost, "/orders/createOrder", `{"customerName":"Bob","item":"Desk"}`},
		{http.MethodPost, "/api/v1/orders", `{"customerName":"Bob","item":"Desk","quantity":1}`},
		{http.MethodGet, "/orders/fetchOrder/1", ""},
		{http.MethodGet, "/api/v1/orders/1", ""},
		{http.MethodGet, "/orders/fetchAllOrders", ""},
		{http.MethodPut, "/orders/updateOrderStatus/1?status=CONFIRMED", ""},
	}
	for _, r := range requests {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			code, h, took := testinfra.Timed(t, r.method, base+r.path, r.body)
			if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || took > answerBound {
				t.Errorf("got %d with Retry-After %q after %s, want 503 with Retry-After within %s",
					code, h.Get("Retry-After"), took.Round(time.Millisecond), answerBound)
			}
		})
	}
	proxy.Thaw()
	// Every byte sent while frozen has reached PostgreSQL, and the
	// connections given up on are gone: the creates' statements ran.
	if !proxy.WaitSettled(30 * time.Second) {
		t.Fatal("the proxy did not settle within 30s of thawing")
	}
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	var names string
	if err := conn.QueryRow(t.Context(), "SELECT count(*), string_agg(customer_name, ',') FROM orders").Scan(&n, &names); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("got %d orders (%s) after the thaw, want 1: a create answered 503 was committed later", n, names)
	}
	// And the service recovers by itself.
	var again map[string]any
	if code := call(t, http.MethodPost, base+"/orders/createOrder", `{"customerName":"Cy","item":"Lamp"}`, &again); code != http.StatusCreated {
		t.Errorf("create after the thaw: got %d, want 201", code)
	}
}
