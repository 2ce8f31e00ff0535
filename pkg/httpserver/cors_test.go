package httpserver

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestCORS(t *testing.T) {
	preflight := http.Header{"Origin": {"https://shop.example.com"}, "Access-Control-Request-Method": {"POST"}}
	tests := []struct {
		name        string
		origins     []string
		method      string
		header      http.Header
		wantStatus  int
		wantAllowed string
	}{
		{name: "off: a preflight is not answered", method: http.MethodOptions, header: preflight, wantStatus: http.StatusMethodNotAllowed},
		{name: "off: no allow header", method: http.MethodPost, header: http.Header{"Origin": {"http://evil.example"}}, wantStatus: 200},
		{name: "allowed origin's preflight", origins: []string{"https://shop.example.com"}, method: http.MethodOptions, header: preflight,
			wantStatus: http.StatusNoContent, wantAllowed: "https://shop.example.com"},
		{name: "allowed origin's request", origins: []string{"https://shop.example.com"}, method: http.MethodPost,
			header: http.Header{"Origin": {"https://shop.example.com"}}, wantStatus: 200, wantAllowed: "https://shop.example.com"},
		{name: "other origin", origins: []string{"https://shop.example.com"}, method: http.MethodPost,
			header: http.Header{"Origin": {"http://evil.example"}}, wantStatus: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.CORSAllowedOrigins = tc.origins
			s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			s.Router().POST("/orders", func(c *gin.Context) { c.Status(200) })
			rec := do(t, s.Handler(), tc.method, "/orders", tc.header)
			if rec.Code != tc.wantStatus {
				t.Errorf("got status %d, want %d", rec.Code, tc.wantStatus)
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tc.wantAllowed {
				t.Errorf("got Access-Control-Allow-Origin %q, want %q", got, tc.wantAllowed)
			}
			if got := rec.Header().Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("got Access-Control-Allow-Credentials %q, want none", got)
			}
		})
	}
}

// TestClientIP: X-Forwarded-For names the client only when the connection
// comes from a trusted proxy.
func TestClientIP(t *testing.T) {
	tests := []struct {
		name    string
		proxies []string
		peer    string
		want    string
	}{
		{name: "no proxy trusted", peer: "203.0.113.9:5000", want: "203.0.113.9"},
		{name: "untrusted peer", proxies: []string{"10.0.0.0/8"}, peer: "203.0.113.9:5000", want: "203.0.113.9"},
		{name: "trusted proxy", proxies: []string{"10.0.0.0/8"}, peer: "10.1.2.3:5000", want: "198.51.100.4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.TrustedProxies = tc.proxies
			s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			var got string
			s.Router().GET("/ip", func(c *gin.Context) { got = c.ClientIP() })
			req := httptest.NewRequest(http.MethodGet, "/ip", nil)
			req.RemoteAddr = tc.peer
			req.Header.Set("X-Forwarded-For", "198.51.100.4")
			s.Handler().ServeHTTP(httptest.NewRecorder(), req)
			if got != tc.want {
				t.Errorf("got client IP %q, want %q", got, tc.want)
			}
		})
	}
}
