package page

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

const code = "trk_0123456789abcdef0123456789abcdef"

// reader is a Reader over one order, or failing with err.
type reader struct {
	o   tracking.Order
	h   []tracking.StatusChange
	err error
}

func (r reader) ByCode(_ context.Context, c string) (int64, error) {
	if r.err != nil {
		return 0, r.err
	}
	if c != r.o.TrackingCode {
		return 0, tracking.ErrNotFound
	}
	return r.o.ID, nil
}
func (r reader) Get(context.Context, int64) (tracking.Order, error) { return r.o, nil }
func (r reader) History(context.Context, int64) ([]tracking.StatusChange, error) {
	return r.h, nil
}

func order(item, status string) reader {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	o := tracking.Order{ID: 7, TrackingCode: code, CustomerName: "Ada Lovelace", Item: item, Quantity: 2,
		Status: status, CreatedAt: t0, UpdatedAt: t0.Add(2 * time.Minute), Version: 2}
	return reader{o: o, h: []tracking.StatusChange{
		{Status: "PENDING", At: t0, Version: 1}, {Status: status, At: t0.Add(2 * time.Minute), Version: 2}}}
}

func serve(t *testing.T, r Reader, target string) *httptest.ResponseRecorder {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	Register(e, slog.New(slog.DiscardHandler), r)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, target, nil))
	return rec
}

func TestPage(t *testing.T) {
	tests := []struct {
		name       string
		r          Reader
		target     string
		wantStatus int
		want       []string // substrings of the body
		wantNot    []string
	}{
		{name: "an order", r: order("Laptop", "SHIPPED"), target: "/t/" + code, wantStatus: 200,
			want: []string{`<span id="item">Laptop</span>`, `<span id="quantity">2</span>`, `data-status="SHIPPED">Shipped</strong>`,
				`<li class="step done" data-status="CONFIRMED">`, `<li class="step current" data-status="SHIPPED" aria-current="step">`,
				`<li class="step todo" data-status="DELIVERED">`, `data-version="2"`, `<time datetime="2026-03-01T12:02:00Z">1 Mar 2026, 12:02 UTC</time>`,
				`aria-live="polite"`, `<noscript>`},
			wantNot: []string{"Ada", "Lovelace", "cancelled.</p>\n<ol id=\"steps\" class=\"steps is-cancelled"}},
		{name: "a cancelled order", r: order("Laptop", "CANCELLED"), target: "/t/" + code, wantStatus: 200,
			want:    []string{`class="steps is-cancelled"`, `<p id="cancelled" class="cancelled">This order was cancelled.</p>`, `data-status="CANCELLED">Cancelled</strong>`},
			wantNot: []string{`aria-current`}},
		{name: "a hostile item is text", r: order(`<script>alert(1)</script>`, "PENDING"), target: "/t/" + code, wantStatus: 200,
			want: []string{`&lt;script&gt;alert(1)&lt;/script&gt;`}, wantNot: []string{`<script>alert(1)`}},
		{name: "an unknown code", r: order("Laptop", "SHIPPED"), target: "/t/trk_ffffffffffffffffffffffffffffffff", wantStatus: 404,
			want: []string{"<h1>We can&#39;t find this order</h1>"}, wantNot: []string{"Laptop", `id="order"`}},
		{name: "tracking unavailable", r: reader{err: fmt.Errorf("cannot read: %w", tracking.ErrUnavailable)}, target: "/t/" + code, wantStatus: 503,
			want: []string{"<h1>Tracking is unavailable right now</h1>"}, wantNot: []string{"cannot read"}},
		{name: "any other failure", r: reader{err: errors.New("boom: 10.0.0.1")}, target: "/t/" + code, wantStatus: 503,
			want: []string{"Tracking is unavailable"}, wantNot: []string{"boom", "10.0.0.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, tc.r, tc.target)
			body := rec.Body.String()
			if rec.Code != tc.wantStatus {
				t.Fatalf("got status %d, want %d; body %s", rec.Code, tc.wantStatus, body)
			}
			for k, want := range map[string]string{
				"Content-Type":            "text/html; charset=utf-8",
				"Content-Security-Policy": csp,
				"Cache-Control":           "no-store",
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
			} {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("got %s %q, want %q", k, got, want)
				}
			}
			if tc.wantStatus == 503 && rec.Header().Get("Retry-After") == "" {
				t.Error("got a 503 without Retry-After")
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("got a page without %q:\n%s", w, body)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(body, w) {
					t.Errorf("got a page with %q, want none", w)
				}
			}
			// The strict CSP allows no inline script or style: none may be there.
			if regexp.MustCompile(`<script>|<style|\sstyle=|\son[a-z]+=`).MatchString(body) {
				t.Errorf("got inline script or style, which the CSP blocks:\n%s", body)
			}
		})
	}
}

func TestTimelineNewestFirst(t *testing.T) {
	body := serve(t, order("Laptop", "SHIPPED"), "/t/"+code).Body.String()
	if v2, v1 := strings.Index(body, `data-version="2"><span class="what">Shipped`), strings.Index(body, `data-version="1"><span class="what">Order placed`); v2 < 0 || v1 < 0 || v2 > v1 {
		t.Errorf("got timeline rows at %d (v2) and %d (v1), want both, newest first", v2, v1)
	}
}

func TestAssets(t *testing.T) {
	page := serve(t, order("Laptop", "SHIPPED"), "/t/"+code).Body.String()
	refs := regexp.MustCompile(`(?:href|src)="assets/([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) != 3 {
		t.Fatalf("got asset references %v, want the stylesheet, the icon and the script", refs)
	}
	for _, ref := range refs {
		name := ref[1]
		if !regexp.MustCompile(`^(page|favicon)\.[0-9a-f]{12}\.(css|js|svg)$`).MatchString(name) {
			t.Errorf("got asset name %q, want page.<hash>.<ext>", name)
		}
		rec := serve(t, order("Laptop", "SHIPPED"), "/t/assets/"+name)
		if rec.Code != 200 || rec.Body.Len() == 0 {
			t.Errorf("GET %s: got %d with %d bytes, want the asset", name, rec.Code, rec.Body.Len())
		}
		if got := rec.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: got Cache-Control %q, want it cached for good", name, got)
		}
		wantType := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}[path.Ext(name)]
		if got := rec.Header().Get("Content-Type"); got != wantType {
			t.Errorf("GET %s: got Content-Type %q, want %q", name, got, wantType)
		}
	}
	for _, bad := range []string{"page.css", "page.000000000000.js", "page.go"} {
		if rec := serve(t, order("Laptop", "SHIPPED"), "/t/assets/"+bad); rec.Code != 404 || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: got %d, Cache-Control %q, want 404 not cached", bad, rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
}

func TestProgress(t *testing.T) {
	tests := []struct {
		status        string
		want          string
		wantCancelled bool
	}{
		{status: "PENDING", want: "current todo todo todo todo"},
		{status: "SHIPPED", want: "done done current todo todo"},
		{status: "DELIVERED", want: "done done done done current"},
		{status: "CANCELLED", want: "todo todo todo todo todo", wantCancelled: true},
		{status: "LOST_AT_SEA", want: "todo todo todo todo todo"},
	}
	for _, tc := range tests {
		steps, cancelled := Progress(tc.status)
		var got []string
		for _, s := range steps {
			got = append(got, s.State)
		}
		if strings.Join(got, " ") != tc.want || cancelled != tc.wantCancelled {
			t.Errorf("Progress(%s) = %v, %t; want %s, %t", tc.status, got, cancelled, tc.want, tc.wantCancelled)
		}
	}
}
