package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/services/tracking-service/internal/redis/redistest"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

func newEngine(t *testing.T, svc *tracking.Service) *gin.Engine {
	t.Helper()
	e := gin.New()
	Register(e, quiet, svc, newHub(t), Options{})
	return e
}

// get sends GET target to h and checks the answer against the OpenAPI
// document, so every handler test also tests the document.
func get(t *testing.T, h http.Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, target, nil))
	openAPI(t).Validate(t, http.MethodGet, target, rec)
	return rec
}

// checkJSON fails unless rec has status want and a JSON body, which it
// returns decoded.
// checkAnswer checks rec, the answer to GET target, has status want and
// the body its route answers with it: JSON for a 200; for an error, the
// original system's plain text on GET /track/{id} (returned as a string),
// problem+json on the routes it never had. It returns the decoded body.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, target string, want int) any {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("got status %d, want %d; body %s", rec.Code, want, rec.Body)
	}
	original := !strings.HasSuffix(target, "/history") && !strings.HasSuffix(target, "/events")
	wantType := "application/json"
	switch {
	case want >= 400 && original:
		if ct := rec.Header().Get("Content-Type"); ct != httpapi.PlainTextType {
			t.Fatalf("got Content-Type %q, want %s", ct, httpapi.PlainTextType)
		}
		return rec.Body.String()
	case want >= 400:
		wantType = "application/problem+json"
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
		t.Fatalf("got Content-Type %q, want %s", ct, wantType)
	}
	var body any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body, err)
	}
	return body
}

func TestIntegrationTrack(t *testing.T) {
	env := redistest.New(t, 0)
	apply(t, env.Store, order(11, 1, "PENDING"), order(11, 2, "SHIPPED"))
	e := newEngine(t, newService(t, env.Store, fakeOrdersService(t, order(77, 3, "DELIVERED"))))

	tests := []struct {
		name   string
		target string
		status int
		body   string // exact JSON for 200, the plain text body for errors
	}{
		{"stored order", "/track/11", 200, `{"orderId":11,"customerName":"Alice","item":"Laptop","quantity":1,"status":"SHIPPED",` +
			`"createdAt":"2025-03-01T12:00:00Z","updatedAt":"2025-03-01T12:02:00Z","version":2}`},
		{"expired order filled from orders-service", "/track/77", 200, `{"orderId":77,"customerName":"Alice","item":"Laptop","quantity":1,"status":"DELIVERED",` +
			`"createdAt":"2025-03-01T12:00:00Z","updatedAt":"2025-03-01T12:03:00Z","version":3}`},
		{"unknown order", "/track/99", 404, "The order with id: 99 doesn't exist"},
		{"unknown order, id as the original parsed it", "/track/0099", 404, "The order with id: 99 doesn't exist"},
		{"orders-service failing", "/track/500", 503, "tracking is temporarily unavailable, retry later"},
		{"id not a number", "/track/abc", 400, `id must be a positive integer, not "abc"`},
		{"id zero", "/track/0", 400, `id must be a positive integer, not "0"`},
		{"id negative", "/track/-1", 400, `id must be a positive integer, not "-1"`},
		{"id too large", "/track/99999999999999999999", 400, `id must be a positive integer, not "99999999999999999999"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, e, tt.target)
			body := checkAnswer(t, rec, tt.target, tt.status)
			if tt.status == http.StatusOK {
				if got := rec.Body.String(); got != tt.body {
					t.Errorf("got body %s, want %s", got, tt.body)
				}
				return
			}
			if body != tt.body {
				t.Errorf("got error body %q, want %q", body, tt.body)
			}
		})
	}

	t.Run("fill is stored", func(t *testing.T) {
		if got, err := env.Store.Get(t.Context(), 77); err != nil || got != order(77, 3, "DELIVERED") {
			t.Errorf("got %+v, %v, want the filled order in Redis", got, err)
		}
	})
}

func TestIntegrationHistory(t *testing.T) {
	env := redistest.New(t, 0)
	// Applied out of order, with a duplicate: the timeline is still
	// oldest first, one entry per version.
	apply(t, env.Store, order(11, 2, "SHIPPED"), order(11, 1, "PENDING"), order(11, 2, "SHIPPED"))
	e := newEngine(t, newService(t, env.Store, fakeOrdersService(t, order(77, 3, "DELIVERED"))))

	tests := []struct {
		name   string
		target string
		status int
		want   string
	}{
		{"stored order", "/track/11/history", 200, `[{"status":"PENDING","at":"2025-03-01T12:01:00Z","version":1},` +
			`{"status":"SHIPPED","at":"2025-03-01T12:02:00Z","version":2}]`},
		// Its whole timeline, from orders-service, not only the version
		// the fill brought.
		{"expired order filled", "/track/77/history", 200, `[{"status":"PENDING","at":"2025-03-01T12:01:00Z","version":1},` +
			`{"status":"PENDING","at":"2025-03-01T12:02:00Z","version":2},{"status":"DELIVERED","at":"2025-03-01T12:03:00Z","version":3}]`},
		{"unknown order", "/track/99/history", 404, ""},
		{"bad id", "/track/x/history", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, e, tt.target)
			checkAnswer(t, rec, tt.target, tt.status)
			if tt.want != "" && rec.Body.String() != tt.want {
				t.Errorf("got %s, want %s", rec.Body, tt.want)
			}
		})
	}
}

func TestIntegrationOrdersServiceDown(t *testing.T) {
	env := redistest.New(t, 0)
	apply(t, env.Store, order(11, 1, "PENDING"))
	e := newEngine(t, newService(t, env.Store, closedURL(t)))

	tests := []struct {
		target string
		status int
	}{
		{"/track/11", 200},         // stored: orders-service not needed
		{"/track/12", 503},         // a miss cannot be filled: not a 404
		{"/track/12/history", 503}, // same for the timeline
		{"/track/12/events", 503},  // and the stream
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			rec := get(t, e, tt.target)
			checkAnswer(t, rec, tt.target, tt.status)
			if tt.status == 503 && rec.Header().Get("Retry-After") == "" {
				t.Error("got no Retry-After on a 503, want one")
			}
		})
	}
}

func TestRedisDown(t *testing.T) {
	e := newEngine(t, newService(t, redistest.Down(t), fakeOrdersService(t, order(11, 1, "PENDING"))))
	for _, target := range []string{"/track/11", "/track/11/history", "/track/11/events"} {
		t.Run(target, func(t *testing.T) {
			checkAnswer(t, get(t, e, target), target, http.StatusServiceUnavailable)
		})
	}
}

// TestIntegrationTrackByCode: a tracking code opens its order's public
// view to anyone: no customer name, no order id.
func TestIntegrationTrackByCode(t *testing.T) {
	env := redistest.New(t, 0)
	apply(t, env.Store, order(11, 1, "PENDING"), order(11, 2, "SHIPPED"))
	e := newEngine(t, newService(t, env.Store, fakeOrdersService(t, order(77, 3, "DELIVERED"))))
	tests := []struct {
		name   string
		target string
		status int
		body   string
	}{
		{"stored order", "/track/" + codeOf(11), 200, `{"trackingCode":"` + codeOf(11) + `","item":"Laptop","quantity":1,"status":"SHIPPED",` +
			`"createdAt":"2025-03-01T12:00:00Z","updatedAt":"2025-03-01T12:02:00Z","version":2}`},
		{"not in Redis: read from orders-service", "/track/" + codeOf(77), 200, `{"trackingCode":"` + codeOf(77) + `","item":"Laptop","quantity":1,"status":"DELIVERED",` +
			`"createdAt":"2025-03-01T12:00:00Z","updatedAt":"2025-03-01T12:03:00Z","version":3}`},
		{"history", "/track/" + codeOf(11) + "/history", 200, `[{"status":"PENDING","at":"2025-03-01T12:01:00Z","version":1},{"status":"SHIPPED","at":"2025-03-01T12:02:00Z","version":2}]`},
		{"unknown code", "/track/" + codeOf(99), 404, ""},
		{"malformed code", "/track/trk_123", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, e, tt.target)
			checkAnswer(t, rec, tt.target, tt.status)
			if strings.Contains(rec.Body.String(), "Alice") || strings.Contains(rec.Body.String(), "alice") {
				t.Errorf("got body %s, want no customer name in it", rec.Body)
			}
			if tt.body != "" && rec.Body.String() != tt.body {
				t.Errorf("got body %s, want %s", rec.Body, tt.body)
			}
		})
	}
	t.Run("the code is indexed once read", func(t *testing.T) {
		if id, err := env.Store.IDByCode(t.Context(), codeOf(77)); err != nil || id != 77 {
			t.Errorf("got %d, %v, want 77", id, err)
		}
	})
}

// TestIntegrationTrackingPage: the customer's page, through the service's
// routes, over real Redis: the order by its code without the customer's
// name, an HTML 404 for a code that names nothing, an HTML 503 while
// Redis is away.
func TestIntegrationTrackingPage(t *testing.T) {
	env := redistest.New(t, 0)
	apply(t, env.Store, order(11, 1, "PENDING"), order(11, 2, "SHIPPED"))
	up := newEngine(t, newService(t, env.Store, fakeOrdersService(t)))
	down := newEngine(t, newService(t, redistest.Down(t), fakeOrdersService(t)))
	tests := []struct {
		name   string
		e      http.Handler
		target string
		status int
		want   string
	}{
		{"an order by its code", up, "/t/" + codeOf(11), 200, `data-status="SHIPPED">Shipped</strong>`},
		{"a code naming nothing", up, "/t/" + codeOf(99), 404, "We can&#39;t find this order"},
		{"not a code", up, "/t/11", 404, "We can&#39;t find this order"},
		{"Redis away", down, "/t/" + codeOf(11), 503, "Tracking is unavailable right now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, tt.e, tt.target)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("got %d %s, want %d with %q", rec.Code, rec.Body, tt.status, tt.want)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("got Content-Type %q, want text/html", ct)
			}
			if strings.Contains(rec.Body.String(), "Alice") {
				t.Error("got the customer's name on the page")
			}
		})
	}
}
