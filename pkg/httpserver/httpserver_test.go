package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/order-tracking/platform/pkg/testinfra"
)

func testConfig() Config {
	return Config{Port: 8081, ShutdownTimeout: 5 * time.Second, ReadHeaderTimeout: 5 * time.Second}
}

func newTestServer(t *testing.T) (*Server, *testinfra.Buffer) {
	t.Helper()
	logs := &testinfra.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(testConfig(), logger, NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s.Router().GET("/orders/fetchOrder/:id", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"id": c.Param("id")})
	})
	s.Router().GET("/boom", func(c *gin.Context) {
		panic("secret database password in panic value")
	})
	return s, logs
}

func do(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v) // Add canonicalizes k, as a real client's header would be
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decode(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("got Content-Type %q, want application/json; body: %s", ct, rec.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("got invalid JSON body %q: %v", rec.Body, err)
	}
	return body
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string
	}{
		{name: "valid", cfg: testConfig()},
		{name: "zero timeouts mean none", cfg: Config{Port: 1, ShutdownTimeout: time.Second}},
		{name: "port unset", cfg: Config{ShutdownTimeout: time.Second}, wantErr: []string{"HTTP_PORT"}},
		{name: "port too big", cfg: Config{Port: 70000, ShutdownTimeout: time.Second}, wantErr: []string{"HTTP_PORT", "70000"}},
		{
			name:    "every problem named",
			cfg:     Config{Port: -1, ShutdownTimeout: 0, ReadTimeout: -time.Second},
			wantErr: []string{"HTTP_PORT", "HTTP_SHUTDOWN_TIMEOUT", "HTTP_READ_TIMEOUT"},
		},
		{name: "proxies and origins", cfg: Config{Port: 1, ShutdownTimeout: time.Second,
			TrustedProxies: []string{"10.0.0.0/8", "192.0.2.7"}, CORSAllowedOrigins: []string{"https://shop.example.com", "http://localhost:3000"}}},
		{name: "bad proxy and origin", cfg: Config{Port: 1, ShutdownTimeout: time.Second,
			TrustedProxies: []string{"ingress"}, CORSAllowedOrigins: []string{"https://shop.example.com/"}},
			wantErr: []string{`HTTP_TRUSTED_PROXIES: "ingress"`, `CORS_ALLOWED_ORIGINS: "https://shop.example.com/"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil error, want one naming %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got error %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestBuiltInAndFallbackRoutes(t *testing.T) {
	s, _ := newTestServer(t)
	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantBody   map[string]any
	}{
		{name: "healthz", method: http.MethodGet, target: "/healthz", wantStatus: http.StatusOK, wantBody: map[string]any{"status": "ok"}},
		{name: "readyz without checks", method: http.MethodGet, target: "/readyz", wantStatus: http.StatusOK, wantBody: map[string]any{"status": "ok"}},
		{name: "service route", method: http.MethodGet, target: "/orders/fetchOrder/42", wantStatus: http.StatusOK, wantBody: map[string]any{"id": "42"}},
		{name: "no route", method: http.MethodGet, target: "/nope", wantStatus: http.StatusNotFound, wantBody: map[string]any{"error": "not found", "path": "/nope"}},
		{name: "wrong method", method: http.MethodPost, target: "/healthz", wantStatus: http.StatusMethodNotAllowed, wantBody: map[string]any{"error": "method not allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, s.Handler(), tt.method, tt.target, nil)
			if rec.Code != tt.wantStatus {
				t.Fatalf("got status %d, want %d; body: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			body := decode(t, rec)
			for k, want := range tt.wantBody {
				if body[k] != want {
					t.Errorf("got %s=%v, want %v", k, body[k], want)
				}
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name       string
		checks     map[string]func(context.Context) error
		wantStatus int
		wantBody   string
		wantChecks map[string]string
	}{
		{
			name:       "all ok",
			checks:     map[string]func(context.Context) error{"postgres": ok, "kafka": ok},
			wantStatus: http.StatusOK,
			wantBody:   "ok",
			wantChecks: map[string]string{"postgres": "ok", "kafka": "ok"},
		},
		{
			name: "one failing is named with its error",
			checks: map[string]func(context.Context) error{
				"postgres": func(context.Context) error { return errors.New("connection refused") },
				"kafka":    ok,
			},
			wantStatus: http.StatusServiceUnavailable,
			wantBody:   "unavailable",
			wantChecks: map[string]string{"postgres": "connection refused", "kafka": "ok"},
		},
		{
			name: "panicking check fails instead of crashing",
			checks: map[string]func(context.Context) error{
				"redis": func(context.Context) error { panic("nil client") },
			},
			wantStatus: http.StatusServiceUnavailable,
			wantBody:   "unavailable",
			wantChecks: map[string]string{"redis": "check panicked: nil client"},
		},
		{
			name: "check sees a deadline",
			checks: map[string]func(context.Context) error{
				"postgres": func(ctx context.Context) error {
					if _, ok := ctx.Deadline(); !ok {
						return errors.New("no deadline")
					}
					return nil
				},
			},
			wantStatus: http.StatusOK,
			wantBody:   "ok",
			wantChecks: map[string]string{"postgres": "ok"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t)
			for name, check := range tt.checks {
				s.AddReadinessCheck(name, check)
			}
			rec := do(t, s.Handler(), http.MethodGet, "/readyz", nil)
			if rec.Code != tt.wantStatus {
				t.Fatalf("got status %d, want %d; body: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			var body struct {
				Status string            `json:"status"`
				Checks map[string]string `json:"checks"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("got invalid JSON %q: %v", rec.Body, err)
			}
			if body.Status != tt.wantBody {
				t.Errorf("got status %q, want %q", body.Status, tt.wantBody)
			}
			for name, want := range tt.wantChecks {
				if got := body.Checks[name]; got != want {
					t.Errorf("got check %s=%q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	s, _ := newTestServer(t)
	do(t, s.Handler(), http.MethodGet, "/orders/fetchOrder/1", nil)
	do(t, s.Handler(), http.MethodGet, "/orders/fetchOrder/2", nil)
	do(t, s.Handler(), http.MethodGet, "/no/such/path/123", nil)
	do(t, s.Handler(), http.MethodGet, "/boom", nil)
	for i := range 50 {
		do(t, s.Handler(), fmt.Sprintf("FOO%d", i), "/orders/fetchOrder/1", nil)
		do(t, s.Handler(), fmt.Sprintf("BAR%d", i), "/no/such/path", nil)
	}

	rec := do(t, s.Handler(), http.MethodGet, "/metrics", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("got status %d, want 200", rec.Code)
	}
	body := rec.Body.String()

	tests := []struct {
		name string
		want string
	}{
		{name: "route template with Spring placeholders", want: `http_server_requests_seconds_count{method="GET",status="200",uri="/orders/fetchOrder/{id}"} 2`},
		{name: "unmatched path is UNKNOWN", want: `http_server_requests_seconds_count{method="GET",status="404",uri="UNKNOWN"} 1`},
		{name: "panic counted as 500", want: `http_server_requests_seconds_count{method="GET",status="500",uri="/boom"} 1`},
		{name: "made-up methods are one label", want: `http_server_requests_seconds_count{method="OTHER",status="405",uri="UNKNOWN"} 50`},
		{name: "made-up methods on no route", want: `http_server_requests_seconds_count{method="OTHER",status="404",uri="UNKNOWN"} 50`},
		{name: "histogram buckets", want: `http_server_requests_seconds_bucket{method="GET",status="200",uri="/orders/fetchOrder/{id}",le="+Inf"} 2`},
		{name: "go runtime collector", want: "go_goroutines "},
		{name: "process collector", want: "process_start_time_seconds "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(body, tt.want) {
				t.Errorf("got /metrics without %q", tt.want)
			}
		})
	}
	if strings.Contains(body, "FOO") || strings.Contains(body, "BAR") {
		t.Error("got a made-up method as a label value, want only OTHER")
	}
	if strings.Contains(body, "/no/such/path") {
		t.Error("got the raw unmatched path as a label value, want only UNKNOWN")
	}
}

func TestRouteTemplate(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "UNKNOWN"},
		{"/healthz", "/healthz"},
		{"/orders/fetchOrder/:id", "/orders/fetchOrder/{id}"},
		{"/orders/:id/items/:itemId", "/orders/{id}/items/{itemId}"},
		{"/files/*path", "/files/{*path}"},
	}
	for _, tt := range tests {
		if got := routeTemplate(tt.in); got != tt.want {
			t.Errorf("routeTemplate(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPanicRecovery(t *testing.T) {
	s, logs := newTestServer(t)
	rec := do(t, s.Handler(), http.MethodGet, "/boom", http.Header{RequestIDHeader: {"trace-me"}})

	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("got status %d, want 500", rec.Code)
	}
	body := decode(t, rec)
	if body["error"] != "internal server error" {
		t.Errorf("got error %v, want %q", body["error"], "internal server error")
	}
	if body["requestId"] != "trace-me" {
		t.Errorf("got requestId %v, want trace-me", body["requestId"])
	}
	if strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("got body %s, want no trace of the panic value", rec.Body)
	}

	out := logs.String()
	for _, want := range []string{"secret database password in panic value", "goroutine", `"request_id":"trace-me"`} {
		if !strings.Contains(out, want) {
			t.Errorf("got logs without %q, want the panic, its stack and the request ID logged:\n%s", want, out)
		}
	}
}

func TestRequestID(t *testing.T) {
	uuidRe := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	tests := []struct {
		name     string
		incoming string
		wantEcho bool // the incoming ID is kept; otherwise a UUID is made
	}{
		{name: "absent gets a uuid", incoming: ""},
		{name: "sane id is kept", incoming: "abc-123_DEF.xyz", wantEcho: true},
		{name: "128 chars is kept", incoming: strings.Repeat("a", 128), wantEcho: true},
		{name: "129 chars is replaced", incoming: strings.Repeat("a", 129)},
		{name: "space is replaced", incoming: "a b"},
		{name: "control character is replaced", incoming: "a\x01b"},
		{name: "non-ASCII is replaced", incoming: "zaÅ¼Ã³Å‚Ä‡"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := newTestServer(t)
			var h http.Header
			if tt.incoming != "" {
				h = http.Header{RequestIDHeader: {tt.incoming}}
			}
			rec := do(t, s.Handler(), http.MethodGet, "/orders/fetchOrder/7", h)

			got := rec.Header().Get(RequestIDHeader)
			if tt.wantEcho {
				if got != tt.incoming {
					t.Errorf("got X-Request-ID %q, want %q echoed", got, tt.incoming)
				}
			} else if !uuidRe.MatchString(got) {
				t.Errorf("got X-Request-ID %q, want a new UUID", got)
			}
			if want := `"request_id":"` + got + `"`; !strings.Contains(logs.String(), want) {
				t.Errorf("got access log without %s:\n%s", want, logs)
			}
		})
	}
}

func TestAccessLogLevels(t *testing.T) {
	s, logs := newTestServer(t)
	do(t, s.Handler(), http.MethodGet, "/healthz", nil)
	do(t, s.Handler(), http.MethodGet, "/orders/fetchOrder/9", nil)

	levels := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Path  string `json:"path"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("got non-JSON log line %q: %v", line, err)
		}
		if rec.Msg == "http request" {
			levels[rec.Path] = rec.Level
		}
	}
	for path, want := range map[string]string{"/healthz": "DEBUG", "/orders/fetchOrder/9": "INFO"} {
		if got := levels[path]; got != want {
			t.Errorf("got access log level %q for %s, want %q", got, path, want)
		}
	}
}

func TestManyServersInOneProcess(t *testing.T) {
	// Would panic with duplicate registration if servers shared a registry
	// by accident.
	for range 3 {
		newTestServer(t)
	}
	reg := NewRegistry()
	for range 2 { // same registry: the second shares the histogram
		if _, err := New(testConfig(), slog.New(slog.DiscardHandler), reg); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewFailsOnConflictingMetric(t *testing.T) {
	reg := NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "http_server_requests_seconds", Help: "Not a histogram."}))
	s, err := New(testConfig(), slog.New(slog.DiscardHandler), reg)
	if err == nil || s != nil || !strings.Contains(err.Error(), "cannot register http request metrics") {
		t.Errorf("got %v, %v, want no server and a cannot register error", s, err)
	}
}

func TestGracefulShutdown(t *testing.T) {
	s, _ := newTestServer(t)
	started := make(chan struct{})
	release := make(chan struct{})
	s.Router().GET("/slow", func(c *gin.Context) {
		close(started)
		<-release
		c.JSON(http.StatusOK, gin.H{"done": true})
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot listen: %v", err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	type response struct {
		status int
		body   string
		err    error
	}
	responded := make(chan response, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			responded <- response{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		responded <- response{status: resp.StatusCode, body: string(b), err: err}
	}()

	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("slow handler did not start within 5s")
	}

	cancel()

	// Shutdown closes the listener first: once new connections are refused
	// the drain has begun, with the slow request still in flight.
	testinfra.Eventually(t, 5*time.Second, func() (bool, string) {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return true, ""
		}
		conn.Close()
		return false, "listener still accepts connections after cancel"
	})
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v while a request was in flight, want it to wait", err)
	case r := <-responded:
		t.Fatalf("got response %+v before the handler was released, want it still in flight", r)
	default:
	}

	close(release)

	select {
	case r := <-responded:
		if r.err != nil {
			t.Fatalf("got error %v, want the in-flight request to complete", r.err)
		}
		if r.status != http.StatusOK || !strings.Contains(r.body, `"done":true`) {
			t.Errorf("got %d %s, want 200 with the handler's body", r.status, r.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request did not complete within 5s of release")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("got Serve error %v, want nil after a clean shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within 5s of the last request finishing")
	}
}

func TestShutdownTimeoutCutsOffStuckRequests(t *testing.T) {
	s, _ := newTestServer(t)
	s.cfg.ShutdownTimeout = 50 * time.Millisecond
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	s.Router().GET("/stuck", func(c *gin.Context) {
		close(started)
		<-release
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/stuck")
		if err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not start within 5s")
	}
	cancel()

	select {
	case err := <-served:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want an error wrapping context.DeadlineExceeded", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within 5s of a 50ms shutdown timeout")
	}
}

func TestRunFailsOnBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatalf("cannot listen: %v", err)
	}
	defer ln.Close()
	cfg := testConfig()
	cfg.Port = ln.Addr().(*net.TCPAddr).Port

	s, err := New(cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cannot listen") {
		t.Errorf("got %v, want a cannot listen error", err)
	}
}

func TestActuatorHealth(t *testing.T) {
	failing := func(context.Context) error { return errors.New("connection refused") }
	passing := func(context.Context) error { return nil }
	tests := []struct {
		name       string
		checks     map[string]func(context.Context) error
		wantStatus int
		wantBody   string
	}{
		{name: "no checks", wantStatus: http.StatusOK, wantBody: `{"status":"UP"}`},
		{name: "every check passes", checks: map[string]func(context.Context) error{"postgres": passing}, wantStatus: http.StatusOK, wantBody: `{"status":"UP"}`},
		{name: "a check fails", checks: map[string]func(context.Context) error{"postgres": passing, "kafka": failing}, wantStatus: http.StatusServiceUnavailable, wantBody: `{"status":"DOWN"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t)
			for name, check := range tt.checks {
				s.AddReadinessCheck(name, check)
			}
			rec := do(t, s.Handler(), http.MethodGet, ActuatorHealthPath, nil)
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
			if got, want := rec.Header().Get("Content-Type"), "application/vnd.spring-boot.actuator.v3+json"; got != want {
				t.Errorf("got Content-Type %q, want %q", got, want)
			}
			// /readyz and /actuator/health are one verdict.
			if ready := do(t, s.Handler(), http.MethodGet, "/readyz", nil); ready.Code != rec.Code {
				t.Errorf("got /readyz %d and %s %d, want the same", ready.Code, ActuatorHealthPath, rec.Code)
			}
		})
	}
}

// The original system's prometheus.yml scrapes /actuator/prometheus: it must
// be the same registry as /metrics, not a second one.
func TestActuatorPrometheusServesTheMetrics(t *testing.T) {
	s, _ := newTestServer(t)
	do(t, s.Handler(), http.MethodGet, "/orders/fetchOrder/1", nil)
	rec := do(t, s.Handler(), http.MethodGet, ActuatorPrometheusPath, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("got status %d, want 200", rec.Code)
	}
	want := `http_server_requests_seconds_count{method="GET",status="200",uri="/orders/fetchOrder/{id}"} 1`
	if !strings.Contains(rec.Body.String(), want) {
		t.Errorf("got %s without %q", ActuatorPrometheusPath, want)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") && !strings.Contains(ct, "openmetrics") {
		t.Errorf("got Content-Type %q, want Prometheus' text format", ct)
	}
}
