package orderapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fake answers every request with code and body, and remembers the last
// request line.
func fake(t *testing.T, code int, body string, last *string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*last = r.Method + " " + r.URL.RequestURI()
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return &Client{Orders: srv.URL, Tracking: srv.URL, HTTP: NewHTTPClient(4, 5*time.Second)}
}

func TestCalls(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		code     int
		body     string
		call     func(c *Client) (int64, error)
		want     int64
		wantReq  string
		wantCode int // of the *StatusError; 0: no error
	}{
		{
			name: "create", code: 201, body: `{"id":42,"status":"PENDING"}`,
			call:    func(c *Client) (int64, error) { return c.Create(ctx, "Alice", "Laptop") },
			want:    42,
			wantReq: "POST /orders/createOrder",
		},
		{
			name: "create refused", code: 400, body: `{"status":400}`,
			call:     func(c *Client) (int64, error) { return c.Create(ctx, "", "Laptop") },
			wantReq:  "POST /orders/createOrder",
			wantCode: 400,
		},
		{
			name: "move", code: 201, body: `{"id":7}`,
			call:    func(c *Client) (int64, error) { return 0, c.Move(ctx, 7, "OUT_FOR_DELIVERY") },
			wantReq: "PUT /orders/updateOrderStatus/7?status=OUT_FOR_DELIVERY",
		},
		{
			name: "a no-op move is an error", code: 200, body: `{"id":7}`,
			call:     func(c *Client) (int64, error) { return 0, c.Move(ctx, 7, "SHIPPED") },
			wantReq:  "PUT /orders/updateOrderStatus/7?status=SHIPPED",
			wantCode: 200,
		},
		{
			name: "a forbidden move is an error", code: 409, body: `{"status":409}`,
			call:     func(c *Client) (int64, error) { return 0, c.Move(ctx, 7, "CONFIRMED") },
			wantReq:  "PUT /orders/updateOrderStatus/7?status=CONFIRMED",
			wantCode: 409,
		},
		{
			name: "track", code: 200, body: `{"orderId":7,"version":3}`,
			call:    func(c *Client) (int64, error) { return c.Track(ctx, 7) },
			want:    3,
			wantReq: "GET /track/7",
		},
		{
			name: "track unavailable", code: 503, body: `{"status":503}`,
			call:     func(c *Client) (int64, error) { return c.Track(ctx, 7) },
			wantReq:  "GET /track/7",
			wantCode: 503,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req string
			got, err := tt.call(fake(t, tt.code, tt.body, &req))
			if req != tt.wantReq {
				t.Errorf("got request %q, want %q", req, tt.wantReq)
			}
			var se *StatusError
			switch {
			case tt.wantCode == 0 && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.wantCode != 0 && (!errors.As(err, &se) || se.Code != tt.wantCode):
				t.Fatalf("got error %v, want a StatusError with code %d", err, tt.wantCode)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}
