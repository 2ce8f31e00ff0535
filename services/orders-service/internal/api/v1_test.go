package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

func TestIntegrationV1API(t *testing.T) {
	svc := newTestService(t)
	big := `{"customerName":"` + strings.Repeat("a", maxBodyBytes) + `","item":"x","quantity":1}`
	stale := map[string]string{"If-Match": `"1"`}
	runCases(t, svc, []apiCase{
		{name: "create", method: "POST", path: "/api/v1/orders", body: `{"customerName":"Ada","item":"book","quantity":3}`,
			wantCode: 201, want: map[string]any{"customerName": "Ada", "quantity": 3, "status": "PENDING", "version": 1},
			wantHeader: map[string]string{"ETag": `"1"`, "Idempotent-Replayed": ""}},
		{name: "create without quantity", method: "POST", path: "/api/v1/orders", body: `{"customerName":"Ada","item":"book"}`,
			wantCode: 400, wantFields: []string{"quantity"}, want: map[string]any{"type": problemInvalidRequest}},
		{name: "create without anything", method: "POST", path: "/api/v1/orders", body: `{}`,
			wantCode: 400, wantFields: []string{"customerName", "item", "quantity"}},
		{name: "create with unknown field", method: "POST", path: "/api/v1/orders", body: `{"customerName":"Ada","item":"book","quantity":1,"colour":"red"}`,
			wantCode: 400, wantFields: []string{"colour"}},
		{name: "create with quantity string", method: "POST", path: "/api/v1/orders", body: `{"customerName":"Ada","item":"book","quantity":"abc"}`,
			wantCode: 400, wantFields: []string{"quantity"}},
		{name: "create with fractional quantity", method: "POST", path: "/api/v1/orders", body: `{"customerName":"Ada","item":"book","quantity":1.5}`,
			wantCode: 400, wantFields: []string{"quantity"}},
		{name: "create with too large quantity", method: "POST", path: "/api/v1/orders", body: `{"customerName":"Ada","item":"book","quantity":10001}`,
			wantCode: 400, wantFields: []string{"quantity"}},
		{name: "create with number as name", method: "POST", path: "/api/v1/orders", body: `{"customerName":5,"item":"book","quantity":1}`,
			wantCode: 400, wantFields: []string{"customerName"}},
		{name: "create with too long item", method: "POST", path: "/api/v1/orders", body: `{"customerName":"Ada","item":"` + strings.Repeat("é", 201) + `","quantity":1}`,
			wantCode: 400, wantFields: []string{"item"}},
		{name: "create with malformed JSON", method: "POST", path: "/api/v1/orders", body: `{"customerName" "Ada"}`,
			wantCode: 400, wantDetail: "malformed JSON at byte"},
		{name: "create over 64 KiB", method: "POST", path: "/api/v1/orders", body: big,
			wantCode: 413, want: map[string]any{"type": problemBodyTooLarge}},
		{name: "create with bad Idempotency-Key", method: "POST", path: "/api/v1/orders", body: `{"customerName":"Ada","item":"book","quantity":1}`,
			header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}, wantCode: 400, wantFields: []string{"Idempotency-Key"}},

		{name: "get", seed: orders.StatusConfirmed, method: "GET", path: "/api/v1/orders/{id}",
			wantCode: 200, want: map[string]any{"status": "CONFIRMED", "version": 2}, wantHeader: map[string]string{"ETag": `"2"`}},
		{name: "get missing", method: "GET", path: "/api/v1/orders/" + missingPath,
			wantCode: 404, want: map[string]any{"type": problemNotFound}, wantDetail: "order 999999 not found"},
		{name: "get with bad id", method: "GET", path: "/api/v1/orders/1.5", wantCode: 400, wantFields: []string{"id"}},

		{name: "patch", seed: orders.StatusPending, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `{"status":"SHIPPED"}`,
			wantCode: 200, want: map[string]any{"status": "SHIPPED", "version": 2}, wantHeader: map[string]string{"ETag": `"2"`}},
		{name: "patch to the current status changes nothing", seed: orders.StatusPending, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `{"status":"pending"}`,
			wantCode: 200, want: map[string]any{"status": "PENDING", "version": 1}},
		{name: "patch with current If-Match", seed: orders.StatusPending, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `{"status":"CANCELLED"}`,
			header: map[string]string{"If-Match": `"1"`}, wantCode: 200, want: map[string]any{"status": "CANCELLED", "version": 2}},
		{name: "patch with If-Match *", seed: orders.StatusConfirmed, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `{"status":"SHIPPED"}`,
			header: map[string]string{"If-Match": `*`}, wantCode: 200, want: map[string]any{"version": 3}},
		{name: "patch with stale If-Match", seed: orders.StatusConfirmed, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `{"status":"SHIPPED"}`,
			header: stale, wantCode: 412, want: map[string]any{"type": problemVersionMismatch, "currentVersion": 2}},
		{name: "patch with unquoted If-Match", seed: orders.StatusPending, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `{"status":"SHIPPED"}`,
			header: map[string]string{"If-Match": `1`}, wantCode: 400, wantFields: []string{"If-Match"}},
		{name: "patch with weak If-Match", seed: orders.StatusPending, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `{"status":"SHIPPED"}`,
			header: map[string]string{"If-Match": `W/"1"`}, wantCode: 400, wantFields: []string{"If-Match"}},
		{name: "patch backwards", seed: orders.StatusOutForDelivery, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `{"status":"CONFIRMED"}`,
			wantCode: 409, want: map[string]any{"type": problemInvalidTransition, "currentStatus": "OUT_FOR_DELIVERY", "allowed": "[DELIVERED]"}},
		{name: "patch from a final status", seed: orders.StatusCancelled, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `{"status":"SHIPPED"}`,
			wantCode: 409, want: map[string]any{"currentStatus": "CANCELLED", "allowed": "[]"}},
		{name: "patch unknown status", seed: orders.StatusPending, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `{"status":"LOST"}`,
			wantCode: 400, wantFields: []string{"status"}},
		{name: "patch without status", seed: orders.StatusPending, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `{}`,
			wantCode: 400, wantFields: []string{"status"}, wantDetail: "status is required"},
		{name: "patch with status number", seed: orders.StatusPending, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `{"status":3}`,
			wantCode: 400, wantFields: []string{"status"}},
		{name: "patch with unknown field", seed: orders.StatusPending, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `{"status":"SHIPPED","force":true}`,
			wantCode: 400, wantFields: []string{"force"}},
		{name: "patch without body", seed: orders.StatusPending, method: "PATCH", path: "/api/v1/orders/{id}/status",
			header: map[string]string{"Content-Type": "application/json"}, wantCode: 400, wantDetail: "request body is required"},
		{name: "patch as a form", seed: orders.StatusPending, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `status=SHIPPED`,
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, wantCode: 415},
		{name: "create with an empty owner", method: "POST", path: "/api/v1/orders", body: `{"customerName":"Ada","item":"book","quantity":1,"owner":""}`,
			wantCode: 400, wantFields: []string{"owner"}},
		{name: "list changed since a bad time", method: "GET", path: "/api/v1/orders?updatedSince=yesterday",
			wantCode: 400, wantFields: []string{"updatedSince"}},
		{name: "list by a malformed tracking code", method: "GET", path: "/api/v1/orders?trackingCode=trk_nope",
			wantCode: 400, wantFields: []string{"trackingCode"}},
		{name: "create as text/plain", method: "POST", path: "/api/v1/orders", body: `{"customerName":"Ada","item":"book","quantity":1}`,
			header: map[string]string{"Content-Type": "text/plain"}, wantCode: 415, wantDetail: "application/json"},
		{name: "patch over 64 KiB", seed: orders.StatusPending, method: "PATCH", path: "/api/v1/orders/{id}/status", body: `{"status":"` + strings.Repeat(" ", maxBodyBytes) + `"}`,
			wantCode: 413},
		{name: "patch missing order", method: "PATCH", path: "/api/v1/orders/" + missingPath + "/status", body: `{"status":"SHIPPED"}`,
			wantCode: 404, wantDetail: "order 999999 not found"},
		{name: "patch with bad id", method: "PATCH", path: "/api/v1/orders/0/status", body: `{"status":"SHIPPED"}`,
			wantCode: 400, wantFields: []string{"id"}},
	})
}

func TestIntegrationV1CreateLocation(t *testing.T) {
	e := newEngine(newTestService(t))
	rec := do(t, e, "POST", "/api/v1/orders", `{"customerName":"Ada","item":"book","quantity":1}`, nil)
	if rec.Code != http.StatusCreated {
		t.Fatalf("got status %d, want 201; body %s", rec.Code, rec.Body)
	}
	loc := rec.Header().Get("Location")
	if got := do(t, e, "GET", loc, "", nil); got.Code != http.StatusOK || got.Body.String() != rec.Body.String() {
		t.Errorf("got %d %s from Location %q, want 200 %s", got.Code, got.Body, loc, rec.Body)
	}
}

func TestIntegrationV1ListPagination(t *testing.T) {
	svc := newTestService(t)
	e := newEngine(svc)
	var all, shipped []int64
	for i := range 5 {
		st := orders.StatusPending
		if i%2 == 1 {
			st = orders.StatusShipped
		}
		o := seedOrder(t, svc, st)
		all = append(all, o.ID)
		if st == orders.StatusShipped {
			shipped = append(shipped, o.ID)
		}
	}

	tests := []struct {
		name  string
		query string
		want  []int64
		pages int
	}{
		{name: "default limit", query: "", want: all, pages: 1},
		{name: "two per page", query: "limit=2", want: all, pages: 3},
		{name: "page size equal to the total", query: "limit=5", want: all, pages: 1},
		{name: "one per page, filtered", query: "limit=1&status=shipped", want: shipped, pages: 2},
		{name: "filter matching nothing", query: "item=lamp", want: []int64{}, pages: 1},
		{name: "customerName and item", query: "customerName=Ada&item=book&limit=200", want: all, pages: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, pages, cursor := []int64{}, 0, ""
			for {
				q := tc.query
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				rec := do(t, e, "GET", "/api/v1/orders?"+q, "", nil)
				if rec.Code != http.StatusOK {
					t.Fatalf("got status %d, want 200; body %s", rec.Code, rec.Body)
				}
				var page struct {
					Items      []order `json:"items"`
					NextCursor *string `json:"nextCursor"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.Items == nil {
					t.Fatalf("got body %s, want a page with items (err %v)", rec.Body, err)
				}
				pages++
				for _, o := range page.Items {
					got = append(got, o.ID)
				}
				if page.NextCursor == nil {
					break
				}
				if pages > len(all)+1 {
					t.Fatalf("got more than %d pages, want the cursor to end", pages)
				}
				cursor = *page.NextCursor
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got ids %v, want %v", got, tc.want)
			}
			if pages != tc.pages {
				t.Errorf("got %d pages, want %d", pages, tc.pages)
			}
		})
	}

	bad := []struct{ name, query, field string }{
		{name: "limit 0", query: "limit=0", field: "limit"},
		{name: "limit over 200", query: "limit=201", field: "limit"},
		{name: "limit not a number", query: "limit=ten", field: "limit"},
		{name: "cursor not base64", query: "cursor=!!", field: "cursor"},
		{name: "cursor of no id", query: "cursor=" + base64.RawURLEncoding.EncodeToString([]byte("x")), field: "cursor"},
		{name: "cursor of negative id", query: "cursor=" + base64.RawURLEncoding.EncodeToString([]byte("-4")), field: "cursor"},
		{name: "unknown status", query: "status=LOST", field: "status"},
		{name: "invalid UTF-8", query: "customerName=%C3", field: "customerName"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			path := "/api/v1/orders?" + tc.query
			rec := do(t, e, "GET", path, "", nil)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("got status %d, want 400; body %s", rec.Code, rec.Body)
			}
			checkError(t, rec, path, []string{tc.field}, "")
		})
	}
}

// TestParseIfMatch: exactly the ETags etag writes, and *, pass; openapi.json
// describes the same set (a quoted version of at most 18 digits, no leading
// zero), so a fuzzer's schema-valid If-Match is never refused.
func TestParseIfMatch(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		want    int64 // 0: no version required
		wantErr bool
	}{
		{name: "absent"},
		{name: "any", values: []string{"*"}},
		{name: "a version", values: []string{`"3"`}, want: 3},
		{name: "spaces around", values: []string{` "3" `}, want: 3},
		{name: "18 digits", values: []string{`"999999999999999999"`}, want: 999999999999999999},
		{name: "19 digits", values: []string{`"1000000000000000000"`}, wantErr: true},
		{name: "past int64", values: []string{`"99999999999999999999"`}, wantErr: true},
		{name: "leading zero", values: []string{`"03"`}, wantErr: true},
		{name: "zero", values: []string{`"0"`}, wantErr: true},
		{name: "plus sign", values: []string{`"+3"`}, wantErr: true},
		{name: "minus sign", values: []string{`"-3"`}, wantErr: true},
		{name: "unquoted", values: []string{`3`}, wantErr: true},
		{name: "weak", values: []string{`W/"3"`}, wantErr: true},
		{name: "empty tag", values: []string{`""`}, wantErr: true},
		{name: "a list", values: []string{`"3", "4"`}, wantErr: true},
		{name: "two fields", values: []string{`"3"`, `"4"`}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.values {
				h.Add("If-Match", v)
			}
			got, err := parseIfMatch(h)
			switch {
			case tc.wantErr && err == nil:
				t.Fatalf("got version %v, want an error", *got)
			case !tc.wantErr && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tc.wantErr:
				return
			case tc.want == 0 && got != nil:
				t.Errorf("got version %d, want none", *got)
			case tc.want != 0 && (got == nil || *got != tc.want):
				t.Errorf("got version %v, want %d", got, tc.want)
			}
		})
	}
}
