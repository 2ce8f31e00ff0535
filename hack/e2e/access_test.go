package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/order-tracking/platform/pkg/auth"
	"github.com/order-tracking/platform/pkg/auth/authtest"
	"github.com/order-tracking/platform/pkg/testinfra"
)

// Roles of the access table: who calls.
const (
	anonymous = "anonymous"
	customerA = "customer A"
	customerB = "customer B"
	reader    = "orders:read"
	writer    = "orders:write"
	manager   = "orders:manage"
)

var roles = []string{anonymous, customerA, customerB, reader, writer, manager}

// accessPlatform is the platform with auth on, against a test issuer.
type accessPlatform struct {
	*platform
	iss    *authtest.Issuer
	tokens map[string]string // role -> Authorization header value
}

func startAccessPlatform(t *testing.T) *accessPlatform {
	t.Helper()
	iss := authtest.New(t)
	iss.AddClient("tracking-service", "tracking-secret", auth.ScopeRead)
	p := startPlatform(t, map[string]string{
		"AUTH_MODE": "jwt", "OIDC_ISSUER_URL": iss.URL, "OIDC_AUDIENCE": authtest.Audience,
		"OIDC_CLIENT_ID": "tracking-service", "OIDC_CLIENT_SECRET": "tracking-secret",
		// One request a second per client, 80 at once: the table stays
		// within every role's burst, a flood does not.
		"RATE_LIMIT_PER_SECOND": "1", "RATE_LIMIT_BURST": "80",
	})
	return &accessPlatform{platform: p, iss: iss, tokens: map[string]string{
		customerA: "Bearer " + iss.Token("customer-a"),
		customerB: "Bearer " + iss.Token("customer-b"),
		reader:    "Bearer " + iss.Token("reporting", auth.ScopeRead),
		writer:    "Bearer " + iss.Token("shop-backend", auth.ScopeWrite),
		manager:   "Bearer " + iss.Token("carrier", auth.ScopeManage),
		// waiter polls for the platform to catch up, charged apart.
		"waiter": "Bearer " + iss.Token("waiter", auth.ScopeRead),
	}}
}

// call sends a request as role and returns the status and body.
func (p *accessPlatform) call(t *testing.T, role, method, url, body string, header map[string]string) (int, string) {
	t.Helper()
	h := map[string]string{}
	for k, v := range header {
		h[k] = v
	}
	if tok := p.tokens[role]; tok != "" {
		h["Authorization"] = tok
	}
	if strings.HasSuffix(url, "/events") {
		return p.streamStatus(t, url, h), ""
	}
	code, _, raw, err := p.c.raw(t.Context(), method, url, body, h)
	if err != nil {
		t.Fatalf("%s %s as %s: %v", method, url, role, err)
	}
	return code, string(raw)
}

// streamStatus opens an event stream and returns its status without
// waiting for its end: an open stream answers 200 at once and stays open.
func (p *accessPlatform) streamStatus(t *testing.T, url string, header map[string]string) int {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := p.c.http.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

// created is what a create answers, on either API.
type created struct {
	ID           int64  `json:"id"`
	TrackingCode string `json:"trackingCode"`
	Owner        string `json:"owner"`
}

// create places an order as role on the v1 API.
func (p *accessPlatform) create(t *testing.T, role, customerName string) created {
	t.Helper()
	var c created
	code, _, err := p.c.do(t.Context(), "POST", p.orders.url("/api/v1/orders"),
		fmt.Sprintf(`{"customerName":%q,"item":"Lamp","quantity":1}`, customerName),
		map[string]string{"Authorization": p.tokens[role]}, &c)
	if err != nil || code != http.StatusCreated || c.TrackingCode == "" {
		t.Fatalf("create as %s: got %d %+v (%v), want 201 with a tracking code", role, code, c, err)
	}
	return c
}

// tracked waits until tracking-service holds order o (the events went
// through), polling as the waiter.
func (p *accessPlatform) tracked(t *testing.T, o created) {
	t.Helper()
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		code, body := p.call(t, "waiter", "GET", p.tracking.url(fmt.Sprintf("/track/%d", o.ID)), "", nil)
		return code == http.StatusOK, fmt.Sprintf("GET /track/%d: %d %s", o.ID, code, body)
	})
}

// offWarnings counts, per service, the start-up warnings that auth is off.
func (p *platform) offWarnings() map[string]int {
	n := map[string]int{}
	for _, s := range []*service{p.orders, p.tracking, p.notification} {
		n[s.name] = strings.Count(s.logs.String(), "AUTH_MODE=off: authentication is disabled")
	}
	return n
}

// TestIntegrationAuthOffWarns: with auth off every service says so, once,
// as it starts.
func TestIntegrationAuthOffWarns(t *testing.T) {
	p := startPlatform(t, nil)
	for name, n := range p.offWarnings() {
		if n != 1 {
			t.Errorf("%s logged %d warnings that auth is off, want 1", name, n)
		}
	}
	// The original README's call answers as before, with the new field.
	var o created
	code, _, err := p.c.do(t.Context(), "POST", p.orders.url("/orders/createOrder"), `{"customerName":"Alice","item":"Laptop","quantity":1}`, nil, &o)
	if err != nil || code != http.StatusCreated || o.ID == 0 || o.TrackingCode == "" {
		t.Fatalf("createOrder: got %d %+v (%v), want 201 with an id and a tracking code", code, o, err)
	}
	code, _, _, err = p.c.raw(t.Context(), "POST", p.orders.url("/orders/createOrder"), `{"customerName":"Alice","item":"Laptop"}`,
		map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example"})
	if err != nil || code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain create from another origin: got %d (%v), want 415", code, err)
	}
}

// TestIntegrationAccess: every route of the three services against every
// kind of caller, with auth on.
func TestIntegrationAccess(t *testing.T) {
	p := startAccessPlatform(t)
	for name, n := range p.offWarnings() {
		if n != 0 {
			t.Errorf("%s logged %d warnings that auth is off, with auth on", name, n)
		}
	}
	a := p.create(t, customerA, "Alice Liddell")
	b := p.create(t, customerB, "Bob Dylan")
	if a.Owner != "customer-a" || b.Owner != "customer-b" {
		t.Fatalf("got owners %q and %q, want each customer's subject", a.Owner, b.Owner)
	}
	p.tracked(t, a)
	p.tracked(t, b)
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		code, body := p.call(t, "waiter", "GET", p.notification.url(fmt.Sprintf("/notifications?orderId=%d", a.ID)), "", nil)
		return code == http.StatusOK && strings.Contains(body, "sent"), fmt.Sprintf("notifications: %d %s", code, body)
	})

	// fresh is an order of customer A's for a row that changes it.
	fresh := func(t *testing.T) created { return p.create(t, customerA, "Alice Liddell") }
	type row struct {
		name   string
		method string
		// url builds the target; a row that changes an order gets a fresh
		// one of customer A's.
		url  func(t *testing.T) string
		body string
		want map[string]int
	}
	orders, tracking, notification := p.orders.url, p.tracking.url, p.notification.url
	static := func(u string) func(*testing.T) string { return func(*testing.T) string { return u } }
	onFresh := func(format string, base func(string) string) func(*testing.T) string {
		return func(t *testing.T) string { return base(fmt.Sprintf(format, fresh(t).ID)) }
	}
	createBody := `{"customerName":"Carol Ann","item":"Lamp","quantity":1}`
	perRole := func(anon, ca, cb, r, w, m int) map[string]int {
		return map[string]int{anonymous: anon, customerA: ca, customerB: cb, reader: r, writer: w, manager: m}
	}
	rows := []row{
		{"legacy create", "POST", static(orders("/orders/createOrder")), createBody, perRole(401, 201, 201, 403, 201, 403)},
		{"legacy create (/orders)", "POST", static(orders("/orders")), createBody, perRole(401, 201, 201, 403, 201, 403)},
		{"legacy fetch A's order", "GET", static(orders(fmt.Sprintf("/orders/fetchOrder/%d", a.ID))), "", perRole(401, 200, 404, 200, 403, 403)},
		{"legacy fetch a missing order", "GET", static(orders("/orders/fetchOrder/999999")), "", perRole(401, 404, 404, 404, 403, 403)},
		{"legacy list", "GET", static(orders("/orders/fetchAllOrders")), "", perRole(401, 200, 200, 200, 403, 403)},
		{"legacy cancel A's order", "PUT", onFresh("/orders/updateOrderStatus/%d?status=CANCELLED", orders), "", perRole(401, 201, 404, 403, 403, 201)},
		{"legacy confirm A's order", "PUT", onFresh("/orders/updateOrderStatus/%d?status=CONFIRMED", orders), "", perRole(401, 403, 404, 403, 403, 201)},
		{"v1 create", "POST", static(orders("/api/v1/orders")), createBody, perRole(401, 201, 201, 403, 201, 403)},
		{"v1 get A's order", "GET", static(orders(fmt.Sprintf("/api/v1/orders/%d", a.ID))), "", perRole(401, 200, 404, 200, 403, 403)},
		{"v1 list", "GET", static(orders("/api/v1/orders")), "", perRole(401, 200, 200, 200, 403, 403)},
		{"v1 cancel A's order", "PATCH", onFresh("/api/v1/orders/%d/status", orders), `{"status":"CANCELLED"}`, perRole(401, 200, 404, 403, 403, 200)},
		{"v1 ship A's order", "PATCH", onFresh("/api/v1/orders/%d/status", orders), `{"status":"SHIPPED"}`, perRole(401, 403, 404, 403, 403, 200)},
		{"openapi", "GET", static(orders("/openapi.json")), "", perRole(200, 200, 200, 200, 200, 200)},
		{"track by id", "GET", static(tracking(fmt.Sprintf("/track/%d", a.ID))), "", perRole(401, 403, 403, 200, 403, 403)},
		{"track history by id", "GET", static(tracking(fmt.Sprintf("/track/%d/history", a.ID))), "", perRole(401, 403, 403, 200, 403, 403)},
		{"track by code", "GET", static(tracking("/track/" + a.TrackingCode)), "", perRole(200, 200, 200, 200, 200, 200)},
		{"track history by code", "GET", static(tracking("/track/" + a.TrackingCode + "/history")), "", perRole(200, 200, 200, 200, 200, 200)},
		{"track events by id", "GET", static(tracking(fmt.Sprintf("/track/%d/events", a.ID))), "", perRole(401, 403, 403, 200, 403, 403)},
		{"track events by code", "GET", static(tracking("/track/" + a.TrackingCode + "/events")), "", perRole(200, 200, 200, 200, 200, 200)},
		{"track a made-up code", "GET", static(tracking("/track/trk_0123456789abcdef0123456789abcdef")), "", perRole(404, 404, 404, 404, 404, 404)},
		{"notifications", "GET", static(notification(fmt.Sprintf("/notifications?orderId=%d", a.ID))), "", perRole(401, 403, 403, 200, 403, 403)},
		{"orders health", "GET", static(orders("/healthz")), "", perRole(200, 200, 200, 200, 200, 200)},
		{"tracking readiness", "GET", static(tracking("/readyz")), "", perRole(200, 200, 200, 200, 200, 200)},
		{"notification metrics", "GET", static(notification("/metrics")), "", perRole(200, 200, 200, 200, 200, 200)},
	}
	for _, r := range rows {
		for _, role := range roles {
			t.Run(r.name+"/"+role, func(t *testing.T) {
				url := r.url(t)
				code, body := p.call(t, role, r.method, url, r.body, nil)
				if code != r.want[role] {
					t.Fatalf("%s %s as %s: got %d %s, want %d", r.method, url, role, code, body, r.want[role])
				}
				if role == customerB && strings.Contains(body, "Alice") {
					t.Errorf("customer B got %s, which names customer A", body)
				}
				if strings.Contains(url, "/track/trk_") && strings.Contains(body, "Alice") {
					t.Errorf("the public tracking view %s names the customer: %s", url, body)
				}
			})
		}
	}

	t.Run("customers see only their own orders in lists", func(t *testing.T) {
		for _, path := range []string{"/orders/fetchAllOrders", "/api/v1/orders?limit=200"} {
			_, body := p.call(t, customerB, "GET", orders(path), "", nil)
			if strings.Contains(body, "Alice") || !strings.Contains(body, "Bob Dylan") {
				t.Errorf("customer B's %s: got %s, want B's orders only", path, body)
			}
			_, body = p.call(t, reader, "GET", orders(path), "", nil)
			if !strings.Contains(body, "Alice") || !strings.Contains(body, "Bob Dylan") {
				t.Errorf("orders:read's %s: got %s, want everyone's orders", path, body)
			}
		}
	})

	t.Run("an idempotency key is the caller's own", func(t *testing.T) {
		key := map[string]string{"Idempotency-Key": "same-key"}
		codeA, bodyA := p.call(t, customerA, "POST", orders("/api/v1/orders"), createBody, key)
		codeB, bodyB := p.call(t, customerB, "POST", orders("/api/v1/orders"), createBody, key)
		var oa, ob created
		_ = json.Unmarshal([]byte(bodyA), &oa)
		_ = json.Unmarshal([]byte(bodyB), &ob)
		if codeA != 201 || codeB != 201 || oa.ID == ob.ID || ob.Owner != "customer-b" {
			t.Fatalf("got A %d %s and B %d %s, want two orders, each its creator's", codeA, bodyA, codeB, bodyB)
		}
		code, replay := p.call(t, customerA, "POST", orders("/api/v1/orders"), createBody, key)
		if code != 201 || replay != bodyA {
			t.Errorf("A's retry: got %d %s, want A's first answer %s", code, replay, bodyA)
		}
	})

	t.Run("a customer places orders for itself only", func(t *testing.T) {
		body := `{"customerName":"Bob Dylan","item":"Lamp","quantity":1,"owner":"customer-b"}`
		if code, got := p.call(t, customerA, "POST", orders("/api/v1/orders"), body, nil); code != 403 {
			t.Errorf("customer A creating for B: got %d %s, want 403", code, got)
		}
		var o created
		code, got := p.call(t, writer, "POST", orders("/api/v1/orders"), body, nil)
		if _ = json.Unmarshal([]byte(got), &o); code != 201 || o.Owner != "customer-b" {
			t.Fatalf("orders:write creating for B: got %d %s, want 201 owned by customer-b", code, got)
		}
		if code, _ := p.call(t, customerB, "GET", orders(fmt.Sprintf("/api/v1/orders/%d", o.ID)), "", nil); code != 200 {
			t.Errorf("customer B reading the order placed for it: got %d, want 200", code)
		}
	})

	t.Run("tracking refills a forgotten order with its own token", func(t *testing.T) {
		rdb := goredis.NewClient(&goredis.Options{Addr: p.redisAddr})
		defer rdb.Close()
		keys := []string{
			p.redisPrefix + fmt.Sprintf("order:{%d}", a.ID), p.redisPrefix + fmt.Sprintf("order:{%d}:timeline", a.ID),
			p.redisPrefix + "code:" + a.TrackingCode,
		}
		if n, err := rdb.Del(t.Context(), keys...).Result(); err != nil || n != 3 {
			t.Fatalf("deleted %d of the order's 3 keys (%v), want all 3", n, err)
		}
		tokens := p.iss.TokenRequests()
		code, body := p.call(t, anonymous, "GET", tracking("/track/"+a.TrackingCode), "", nil)
		if code != 200 || !strings.Contains(body, `"trackingCode":"`+a.TrackingCode+`"`) || strings.Contains(body, "Alice") {
			t.Fatalf("got %d %s, want the order's public view, read again from orders-service", code, body)
		}
		if n, _ := rdb.Exists(t.Context(), keys...).Result(); n != 3 {
			t.Errorf("got %d of the order's keys back in Redis, want 3", n)
		}
		// The token is cached: it was fetched at most once more.
		if got := p.iss.TokenRequests(); got < 1 || got > tokens+1 {
			t.Errorf("the issuer issued %d client-credentials tokens (%d before the refill), want at least 1 and at most one more", got, tokens)
		}
	})

	t.Run("a JSON endpoint refuses text/plain", func(t *testing.T) {
		code, body := p.call(t, customerA, "POST", orders("/orders/createOrder"), createBody,
			map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example"})
		if code != http.StatusUnsupportedMediaType {
			t.Errorf("got %d %s, want 415", code, body)
		}
	})

	t.Run("a flood is limited", func(t *testing.T) {
		flood := "Bearer " + p.iss.Token("flood", auth.ScopeRead)
		url := orders(fmt.Sprintf("/api/v1/orders/%d", a.ID))
		for i := range 200 {
			code, h, err := p.c.do(context.Background(), "GET", url, "", map[string]string{"Authorization": flood}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if code == http.StatusTooManyRequests {
				if h.Get("Retry-After") == "" || h.Get("RateLimit-Limit") != "80" || h.Get("RateLimit-Remaining") != "0" {
					t.Errorf("429 headers: got Retry-After %q, RateLimit-Limit %q, RateLimit-Remaining %q, want a wait, 80 and 0",
						h.Get("Retry-After"), h.Get("RateLimit-Limit"), h.Get("RateLimit-Remaining"))
				}
				if i < 80 {
					t.Errorf("refused after %d requests, want the burst of 80 allowed", i)
				}
				// Another client is not affected.
				if code, _ := p.call(t, reader, "GET", url, "", nil); code != 200 {
					t.Errorf("another client: got %d, want 200", code)
				}
				return
			}
		}
		t.Fatal("200 requests at once were all allowed, want 429 after the burst of 80")
	})
}
