package ratelimit_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/auth"
	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/pkg/ratelimit"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestTake(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := ratelimit.New(ratelimit.Config{PerSecond: 2, Burst: 3}, ratelimit.Options{MaxKeys: 2, Now: c.now})
	steps := []struct {
		name          string
		key           string
		advance       time.Duration
		wantAllowed   bool
		wantRemaining int
		wantRetry     time.Duration
	}{
		{name: "first", key: "a", wantAllowed: true, wantRemaining: 2},
		{name: "second", key: "a", wantAllowed: true, wantRemaining: 1},
		{name: "third empties the bucket", key: "a", wantAllowed: true, wantRemaining: 0},
		{name: "fourth is refused", key: "a", wantAllowed: false, wantRemaining: 0, wantRetry: 500 * time.Millisecond},
		{name: "another client has its own bucket", key: "b", wantAllowed: true, wantRemaining: 2},
		{name: "half a second refills one", key: "a", advance: 500 * time.Millisecond, wantAllowed: true, wantRemaining: 0},
		{name: "a third client evicts the least recently seen (b)", key: "c", wantAllowed: true, wantRemaining: 2},
		{name: "an evicted client starts full", key: "b", wantAllowed: true, wantRemaining: 2},
	}
	for _, s := range steps {
		c.t = c.t.Add(s.advance)
		d := l.Take(s.key)
		if d.Allowed != s.wantAllowed || d.Remaining != s.wantRemaining || d.RetryAfter != s.wantRetry {
			t.Errorf("%s: got %+v, want allowed %v remaining %d retry after %s", s.name, d, s.wantAllowed, s.wantRemaining, s.wantRetry)
		}
		if l.Len() > 2 {
			t.Errorf("%s: tracking %d clients, want at most 2", s.name, l.Len())
		}
	}
}

func TestGuard(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	l := ratelimit.New(ratelimit.Config{PerSecond: 1, Burst: 2}, ratelimit.Options{})
	r := gin.New()
	resp := httpapi.Responder{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Render: httpapi.ProblemJSON}
	r.GET("/x", func(c *gin.Context) {
		// As auth.Authenticator.Identify records it: a subject when the
		// test names one.
		if sub := c.GetHeader("X-Test-Sub"); sub != "" {
			c.Request = c.Request.WithContext(auth.WithPrincipal(c.Request.Context(), auth.Principal{Subject: sub}))
		}
	}, resp.Guard(l.Guard), func(c *gin.Context) { c.Status(http.StatusNoContent) })

	get := func(addr, sub string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.RemoteAddr = addr
		if sub != "" {
			req.Header.Set("X-Test-Sub", sub)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec
	}
	steps := []struct {
		name, addr, sub string
		wantStatus      int
		wantRemaining   string
	}{
		{name: "anonymous 1", addr: "192.0.2.1:1000", wantStatus: 204, wantRemaining: "1"},
		{name: "anonymous 2, another port", addr: "192.0.2.1:1001", wantStatus: 204, wantRemaining: "0"},
		{name: "anonymous 3 is refused", addr: "192.0.2.1:1002", wantStatus: 429, wantRemaining: "0"},
		{name: "another address", addr: "192.0.2.2:1000", wantStatus: 204, wantRemaining: "1"},
		{name: "a subject is charged by subject, not address", addr: "192.0.2.1:1003", sub: "alice", wantStatus: 204, wantRemaining: "1"},
	}
	for _, s := range steps {
		rec := get(s.addr, s.sub)
		if rec.Code != s.wantStatus {
			t.Fatalf("%s: got %d, want %d", s.name, rec.Code, s.wantStatus)
		}
		if got := rec.Header().Get("RateLimit-Remaining"); got != s.wantRemaining {
			t.Errorf("%s: got RateLimit-Remaining %q, want %q", s.name, got, s.wantRemaining)
		}
		if got := rec.Header().Get("RateLimit-Limit"); got != "2" {
			t.Errorf("%s: got RateLimit-Limit %q, want 2", s.name, got)
		}
		if s.wantStatus == 429 {
			if got := rec.Header().Get("Retry-After"); got != "1" {
				t.Errorf("%s: got Retry-After %q, want 1", s.name, got)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/problem+json" {
				t.Errorf("%s: got Content-Type %q, want application/problem+json", s.name, got)
			}
		}
	}
	if ratelimit.New(ratelimit.Config{PerSecond: 0, Burst: 5}, ratelimit.Options{}) != nil {
		t.Error("PerSecond 0 built a limiter, want nil (off)")
	}
}
