package orders

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/testinfra"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/order-tracking/platform/pkg/logging"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

const orderJSON = `{"id":11,"customerName":"Alice","item":"Laptop","quantity":1,"status":"SHIPPED",` +
	`"createdAt":"2025-03-01T12:00:00Z","updatedAt":"2025-03-01T13:00:00.123456Z","version":2}`

func TestOrder(t *testing.T) {
	want := tracking.Order{
		ID: 11, CustomerName: "Alice", Item: "Laptop", Quantity: 1, Status: "SHIPPED", Version: 2,
		CreatedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		UpdatedAt: time.Date(2025, 3, 1, 13, 0, 0, 123456000, time.UTC),
	}
	tests := []struct {
		name    string
		status  int
		body    string
		want    tracking.Order
		wantErr error
	}{
		{"found", http.StatusOK, orderJSON, want, nil},
		{"not found", http.StatusNotFound, `{"type":"/problems/not-found"}`, tracking.Order{}, tracking.ErrNotFound},
		{"server error", http.StatusInternalServerError, `{}`, tracking.Order{}, tracking.ErrUnavailable},
		{"unavailable", http.StatusServiceUnavailable, `{}`, tracking.Order{}, tracking.ErrUnavailable},
		{"not JSON", http.StatusOK, `<html>`, tracking.Order{}, tracking.ErrUnavailable},
		{"another order", http.StatusOK, `{"id":12,"status":"SHIPPED","version":1}`, tracking.Order{}, tracking.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotPath, gotRequestID string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotPath, gotRequestID = r.URL.Path, r.Header.Get("X-Request-ID")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c, err := NewClient(srv.URL+"/", time.Second, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Order(logging.WithRequestID(t.Context(), "req-1"), 11)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if gotPath != "/api/v1/orders/11" || gotRequestID != "req-1" {
				t.Errorf("got request to %q with request ID %q, want /api/v1/orders/11 with req-1", gotPath, gotRequestID)
			}
		})
	}
}

func TestOrderUnreachableOrSlowIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + l.Addr().String()
	_ = l.Close()

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // until the client gives up, or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)

	for name, url := range map[string]string{"down": closedURL, "slow": slow.URL} {
		t.Run(name, func(t *testing.T) {
			c, err := NewClient(url, 100*time.Millisecond, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Order(t.Context(), 1); !errors.Is(err, tracking.ErrUnavailable) {
				t.Errorf("got %v, want an error wrapping ErrUnavailable", err)
			}
		})
	}
}

func TestNewClientRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "orders-service:8081", "ftp://x", "http://"} {
		if _, err := NewClient(u, time.Second, nil); err == nil {
			t.Errorf("NewClient(%q): got no error, want one", u)
		}
	}
}

// TestOrderCarriesTraceContext checks that a fill is a client span of the
// caller's trace, and that orders-service is told so in traceparent.
func TestOrderCarriesTraceContext(t *testing.T) {
	exp := testinfra.RecordSpans(t)

	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("traceparent")
		_, _ = w.Write([]byte(orderJSON))
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, parent := otel.Tracer("test").Start(t.Context(), "GET /track/{id}")
	if _, err := c.Order(ctx, 11); err != nil {
		t.Fatal(err)
	}
	parent.End()

	var client tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.SpanKind == trace.SpanKindClient {
			client = s
		}
	}
	if client.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("got client span %q with parent %s, want a child of %s (spans: %v)",
			client.Name, client.Parent.SpanID(), parent.SpanContext().SpanID(), exp.GetSpans().Snapshots())
	}
	want := "00-" + client.SpanContext.TraceID().String() + "-" + client.SpanContext.SpanID().String() + "-01"
	if got != want {
		t.Errorf("got traceparent %q, want the client span's %q", got, want)
	}
}

func TestOrderByCode(t *testing.T) {
	const code = "trk_0123456789abcdef0123456789abcdef"
	item := `{"id":11,"trackingCode":"` + code + `","owner":"alice","customerName":"Alice","item":"Laptop","quantity":1,"status":"SHIPPED",` +
		`"createdAt":"2025-03-01T12:00:00Z","updatedAt":"2025-03-01T13:00:00Z","version":2}`
	tests := []struct {
		name    string
		status  int
		body    string
		wantID  int64
		wantErr error
	}{
		{"found", http.StatusOK, `{"items":[` + item + `]}`, 11, nil},
		{"no such code", http.StatusOK, `{"items":[]}`, 0, tracking.ErrNotFound},
		{"another code", http.StatusOK, `{"items":[` + strings.Replace(item, code, "trk_ffffffffffffffffffffffffffffffff", 1) + `]}`, 0, tracking.ErrUnavailable},
		{"refused: the service's credentials are wrong", http.StatusForbidden, `{}`, 0, tracking.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotURL string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotURL = r.URL.String()
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c, err := NewClient(srv.URL, time.Second, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.OrderByCode(t.Context(), code)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) || got.ID != tt.wantID {
				t.Fatalf("got %+v, %v, want order %d, %v", got, err, tt.wantID, tt.wantErr)
			}
			if err == nil && (got.TrackingCode != code || got.Owner != "alice") {
				t.Errorf("got code %q owner %q, want %q and alice", got.TrackingCode, got.Owner, code)
			}
			if gotURL != "/api/v1/orders?limit=1&trackingCode="+code {
				t.Errorf("got request %s, want the v1 list filtered by the code", gotURL)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantLen int
		wantErr error
	}{
		{"timeline", http.StatusOK, `[{"status":"PENDING","at":"2025-03-01T12:00:00Z","version":1},{"status":"SHIPPED","at":"2025-03-01T13:00:00Z","version":2}]`, 2, nil},
		{"unknown order", http.StatusNotFound, `{}`, 0, tracking.ErrNotFound},
		{"an entry without a version", http.StatusOK, `[{"status":"PENDING","at":"2025-03-01T12:00:00Z"}]`, 0, tracking.ErrUnavailable},
		{"down", http.StatusServiceUnavailable, `{}`, 0, tracking.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotPath string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotPath = r.URL.Path
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c, err := NewClient(srv.URL, time.Second, nil)
			if err != nil {
				t.Fatal(err)
			}
			h, err := c.History(t.Context(), 11)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) || len(h) != tt.wantLen {
				t.Fatalf("got %+v, %v, want %d entries, %v", h, err, tt.wantLen, tt.wantErr)
			}
			if gotPath != "/api/v1/orders/11/history" {
				t.Errorf("got request to %s, want /api/v1/orders/11/history", gotPath)
			}
			if tt.wantLen == 2 && (h[1].Status != "SHIPPED" || h[1].Version != 2 || h[1].At.Location() != time.UTC) {
				t.Errorf("got %+v, want SHIPPED at version 2, in UTC", h[1])
			}
		})
	}
}

func TestChangedSince(t *testing.T) {
	var gotQuery []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery = append(gotQuery, r.URL.RawQuery)
		if r.URL.Query().Get("cursor") == "" {
			_, _ = w.Write([]byte(`{"items":[` + orderJSON + `],"nextCursor":"MTE"}`))
			return
		}
		_, _ = w.Write([]byte(`{"items":[]}`))
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	page, next, err := c.ChangedSince(t.Context(), since, "")
	if err != nil || len(page) != 1 || page[0].ID != 11 || next != "MTE" {
		t.Fatalf("first page: got %+v, %q, %v, want order 11 and cursor MTE", page, next, err)
	}
	page, next, err = c.ChangedSince(t.Context(), since, next)
	if err != nil || len(page) != 0 || next != "" {
		t.Fatalf("last page: got %+v, %q, %v, want an empty last page", page, next, err)
	}
	want := []string{"limit=200&updatedSince=2025-03-01T00%3A00%3A00Z", "cursor=MTE&limit=200&updatedSince=2025-03-01T00%3A00%3A00Z"}
	if !slices.Equal(gotQuery, want) {
		t.Errorf("got queries %q, want %q", gotQuery, want)
	}
}
