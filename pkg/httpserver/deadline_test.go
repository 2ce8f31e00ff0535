package httpserver

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

type ctxKey struct{}

// TestRequestDeadline: every request's context has the configured
// deadline; Unbounded lifts it and keeps the request's values.
func TestRequestDeadline(t *testing.T) {
	cfg := testConfig()
	cfg.RequestTimeout = 200 * time.Millisecond
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var bounded, unbounded time.Time
	var hasBounded, hasUnbounded bool
	var value any
	s.Router().GET("/bounded", func(c *gin.Context) {
		bounded, hasBounded = c.Request.Context().Deadline()
	})
	s.Router().GET("/stream", func(c *gin.Context) {
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), ctxKey{}, "kept"))
		defer Unbounded(c)()
		unbounded, hasUnbounded = c.Request.Context().Deadline()
		value = c.Request.Context().Value(ctxKey{})
	})
	start := time.Now()
	s.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/bounded", nil))
	if !hasBounded || bounded.Sub(start) > 200*time.Millisecond+50*time.Millisecond {
		t.Errorf("got deadline %v (set %v), want one about 200ms after the request", bounded.Sub(start), hasBounded)
	}
	s.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/stream", nil))
	if hasUnbounded || value != "kept" {
		t.Errorf("stream: got deadline %v (set %v) and value %v, want none and the request's value", unbounded, hasUnbounded, value)
	}
}

// TestUnboundedEndsWithClient: a stream's context still ends when the
// client leaves.
func TestUnboundedEndsWithClient(t *testing.T) {
	s, _ := newTestServer(t)
	ended := make(chan struct{})
	s.Router().GET("/stream", func(c *gin.Context) {
		defer Unbounded(c)()
		<-c.Request.Context().Done()
		close(ended)
	})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest(http.MethodGet, "/stream", nil).WithContext(ctx)
	go s.Handler().ServeHTTP(httptest.NewRecorder(), req)
	cancel()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream's context did not end within 5s of the client leaving")
	}
}
