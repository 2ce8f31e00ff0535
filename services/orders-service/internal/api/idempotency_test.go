package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

func TestIntegrationIdempotency(t *testing.T) {
	tests := []struct {
		name string
		path string
		// body, retry and other are the first request, a retry meaning the
		// same order, and a different order under the same key.
		body, retry, other string
	}{
		{name: "legacy", path: "/orders/createOrder",
			body:  `{"customerName":"Ada","item":"book"}`,
			retry: "{ \"item\" : \"book\",\n \"customerName\":\"Ada\", \"quantity\": 1 }",
			other: `{"customerName":"Ada","item":"book","quantity":2}`},
		{name: "v1", path: "/api/v1/orders",
			body:  `{"customerName":"Ada","item":"book","quantity":1}`,
			retry: "{\"quantity\":1,  \"item\":\"book\",\"customerName\":\"Ada\"}\n",
			other: `{"customerName":"Bob","item":"book","quantity":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := newTestService(t)
			e := newEngine(svc)
			key := map[string]string{"Idempotency-Key": "key-" + tc.name}

			first := do(t, e, "POST", tc.path, tc.body, key)
			if first.Code != http.StatusCreated || first.Header().Get("Idempotent-Replayed") != "" {
				t.Fatalf("got first %d with Idempotent-Replayed %q, want 201 without", first.Code, first.Header().Get("Idempotent-Replayed"))
			}
			// The order moves on before the retries: they still get the
			// first answer, not the order's state now.
			var created struct{ ID int64 }
			if err := json.Unmarshal(first.Body.Bytes(), &created); err != nil {
				t.Fatal(err)
			}
			if _, _, err := svc.UpdateStatus(t.Context(), orders.Anyone, created.ID, orders.StatusConfirmed, nil); err != nil {
				t.Fatal(err)
			}
			for _, body := range []string{tc.body, tc.retry} {
				again := do(t, e, "POST", tc.path, body, key)
				for _, h := range []string{"ETag", "Location", "Content-Type"} {
					if again.Header().Get(h) != first.Header().Get(h) {
						t.Errorf("got retry %s %q, want the first answer's %q", h, again.Header().Get(h), first.Header().Get(h))
					}
				}
				if again.Code != http.StatusCreated {
					t.Fatalf("got retry status %d, want 201; body %s", again.Code, again.Body)
				}
				if got := again.Header().Get("Idempotent-Replayed"); got != "true" {
					t.Errorf("got Idempotent-Replayed %q, want true", got)
				}
				if again.Body.String() != first.Body.String() {
					t.Errorf("got retry body %s, want the first answer %s", again.Body, first.Body)
				}
			}
			if got := countOrders(t, svc); got != 1 {
				t.Errorf("got %d orders after retries, want 1", got)
			}

			reused := do(t, e, "POST", tc.path, tc.other, key)
			if reused.Code != http.StatusUnprocessableEntity {
				t.Fatalf("got status %d for a reused key, want 422; body %s", reused.Code, reused.Body)
			}
			checkError(t, reused, tc.path, nil, "Idempotency-Key")
			if got := countOrders(t, svc); got != 1 {
				t.Errorf("got %d orders after a reused key, want 1", got)
			}

			// Another key is another request, even with the same body.
			if rec := do(t, e, "POST", tc.path, tc.body, map[string]string{"Idempotency-Key": "other"}); rec.Code != http.StatusCreated || strings.Contains(rec.Header().Get("Idempotent-Replayed"), "true") {
				t.Errorf("got %d replayed=%q with a new key, want 201 not replayed", rec.Code, rec.Header().Get("Idempotent-Replayed"))
			}
		})
	}
}

func countOrders(t *testing.T, svc *orders.Service) int {
	t.Helper()
	os, err := svc.List(t.Context(), orders.Anyone, orders.Filter{})
	if err != nil {
		t.Fatalf("cannot list orders: %v", err)
	}
	return len(os)
}

func TestIntegrationIfMatch(t *testing.T) {
	svc := newTestService(t)
	e := newEngine(svc)
	o := seedOrder(t, svc, orders.StatusPending)
	path := "/api/v1/orders/" + strconv.FormatInt(o.ID, 10) + "/status"

	steps := []struct {
		name     string
		ifMatch  string
		status   string
		wantCode int
		wantETag string
	}{
		{name: "current version", ifMatch: `"1"`, status: "CONFIRMED", wantCode: 200, wantETag: `"2"`},
		{name: "stale version", ifMatch: `"1"`, status: "SHIPPED", wantCode: 412},
		{name: "refetched version", ifMatch: `"2"`, status: "SHIPPED", wantCode: 200, wantETag: `"3"`},
		{name: "future version", ifMatch: `"9"`, status: "DELIVERED", wantCode: 412},
		{name: "malformed", ifMatch: `"three"`, status: "DELIVERED", wantCode: 400},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			rec := do(t, e, "PATCH", path, `{"status":"`+s.status+`"}`, map[string]string{"If-Match": s.ifMatch})
			if rec.Code != s.wantCode {
				t.Fatalf("got status %d, want %d; body %s", rec.Code, s.wantCode, rec.Body)
			}
			if s.wantETag != "" {
				if got := rec.Header().Get("ETag"); got != s.wantETag {
					t.Errorf("got ETag %s, want %s", got, s.wantETag)
				}
			}
			if rec.Code == http.StatusPreconditionFailed {
				var p problem
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.CurrentVersion == nil {
					t.Fatalf("got body %s, want a problem with currentVersion (err %v)", rec.Body, err)
				}
				cur, err := svc.Get(t.Context(), orders.Anyone, o.ID)
				if err != nil {
					t.Fatal(err)
				}
				if *p.CurrentVersion != cur.Version {
					t.Errorf("got currentVersion %d, want %d", *p.CurrentVersion, cur.Version)
				}
			}
		})
	}
}

// TestIntegrationInternalErrorIsGeneric breaks the database under the
// service: the client gets a 500 that says nothing about the cause.
func TestIntegrationInternalErrorIsGeneric(t *testing.T) {
	pool := openTestPool(t)
	svc := orders.NewService(postgresStore(pool))
	e := newEngine(svc)
	pool.Close()

	tests := []struct{ name, method, path, body string }{
		{name: "legacy create", method: "POST", path: "/orders/createOrder", body: `{"customerName":"Ada","item":"book"}`},
		{name: "legacy fetch", method: "GET", path: "/orders/fetchOrder/1"},
		{name: "legacy list", method: "GET", path: "/orders/fetchAllOrders"},
		{name: "legacy update", method: "PUT", path: "/orders/updateOrderStatus/1?status=SHIPPED"},
		{name: "v1 create", method: "POST", path: "/api/v1/orders", body: `{"customerName":"Ada","item":"book","quantity":1}`},
		{name: "v1 get", method: "GET", path: "/api/v1/orders/1"},
		{name: "v1 list", method: "GET", path: "/api/v1/orders"},
		{name: "v1 patch", method: "PATCH", path: "/api/v1/orders/1/status", body: `{"status":"SHIPPED"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, e, tc.method, tc.path, tc.body, nil)
			if rec.Code != http.StatusInternalServerError {
				t.Fatalf("got status %d, want 500; body %s", rec.Code, rec.Body)
			}
			// The original API answered its 500s with these words alone.
			want := "internal server error"
			if strings.HasPrefix(tc.path, "/orders") {
				want = "Internal Server Error"
				if rec.Body.String() != want {
					t.Errorf("got body %q, want %q", rec.Body, want)
				}
			}
			checkError(t, rec, tc.path, nil, want)
			if body := strings.ToLower(rec.Body.String()); strings.Contains(body, "pool") || strings.Contains(body, "cannot") {
				t.Errorf("got body %s, want no internal error text", rec.Body)
			}
		})
	}
}
