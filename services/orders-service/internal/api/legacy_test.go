package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

const missingPath = "999999"

func TestIntegrationLegacyAPI(t *testing.T) {
	svc := newTestService(t)
	big := `{"customerName":"` + strings.Repeat("a", maxBodyBytes) + `","item":"x"}`
	runCases(t, svc, []apiCase{
		{name: "createOrder", method: "POST", path: "/orders/createOrder", body: `{"customerName":"Ada","item":"book","quantity":3}`,
			wantCode: 201, want: map[string]any{"customerName": "Ada", "item": "book", "quantity": 3, "status": "PENDING"}},
		{name: "create at /orders/ defaults quantity to 1", method: "POST", path: "/orders/", body: `{"customerName":"Ada","item":"book"}`,
			wantCode: 201, want: map[string]any{"quantity": 1, "status": "PENDING"}},
		{name: "create at /orders", method: "POST", path: "/orders", body: `{"customerName":"Ada","item":"book","quantity":null}`,
			wantCode: 201, want: map[string]any{"quantity": 1}},
		{name: "create ignores unknown fields as Spring did", method: "POST", path: "/orders/createOrder", body: `{"customerName":"Ada","item":"book","id":77,"status":"DELIVERED"}`,
			wantCode: 201, want: map[string]any{"status": "PENDING"}},
		{name: "create without fields", method: "POST", path: "/orders/createOrder", body: `{}`,
			wantCode: 400, wantFields: []string{"customerName", "item"}},
		{name: "create with quantity 0", method: "POST", path: "/orders/createOrder", body: `{"customerName":"Ada","item":"book","quantity":0}`,
			wantCode: 400, wantFields: []string{"quantity"}},
		{name: "create with quantity string", method: "POST", path: "/orders/createOrder", body: `{"customerName":"Ada","item":"book","quantity":"abc"}`,
			wantCode: 400, wantFields: []string{"quantity"}},
		{name: "create with fractional quantity", method: "POST", path: "/orders/createOrder", body: `{"customerName":"Ada","item":"book","quantity":1.5}`,
			wantCode: 400, wantFields: []string{"quantity"}},
		{name: "create with NUL in name", method: "POST", path: "/orders/createOrder", body: `{"customerName":"A\u0000da","item":"book"}`,
			wantCode: 400, wantFields: []string{"customerName"}},
		{name: "create with malformed JSON", method: "POST", path: "/orders/createOrder", body: `{"customerName":`,
			wantCode: 400, wantDetail: "malformed JSON"},
		{name: "create with empty body", method: "POST", path: "/orders/createOrder", header: map[string]string{"Content-Type": "application/json"},
			wantCode: 400, wantDetail: "required"},
		// 415, as the original's Spring MVC answered: a text/plain body is
		// what a page of another origin can send without asking.
		{name: "create as text/plain", method: "POST", path: "/orders/createOrder", body: `{"customerName":"Ada","item":"book"}`,
			header: map[string]string{"Content-Type": "text/plain"}, wantCode: 415, wantDetail: "Content-Type: application/json"},
		{name: "create without a content type", method: "POST", path: "/orders/createOrder",
			wantCode: 415, wantDetail: "got Content-Type none"},
		{name: "create with an array", method: "POST", path: "/orders/createOrder", body: `[1]`,
			wantCode: 400, wantDetail: "JSON object"},
		{name: "create with trailing data", method: "POST", path: "/orders/createOrder", body: `{"customerName":"Ada","item":"book"} {}`,
			wantCode: 400, wantDetail: "single JSON value"},
		{name: "create over 64 KiB", method: "POST", path: "/orders/createOrder", body: big,
			wantCode: 413},
		{name: "create with empty Idempotency-Key", method: "POST", path: "/orders/createOrder", body: `{"customerName":"Ada","item":"book"}`,
			header: map[string]string{"Idempotency-Key": ""}, wantCode: 400, wantFields: []string{"Idempotency-Key"}},
		{name: "create with too long Idempotency-Key", method: "POST", path: "/orders/createOrder", body: `{"customerName":"Ada","item":"book"}`,
			header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}, wantCode: 400, wantFields: []string{"Idempotency-Key"}},

		{name: "fetchOrder", seed: orders.StatusPending, method: "GET", path: "/orders/fetchOrder/{id}",
			wantCode: 200, want: map[string]any{"customerName": "Ada", "item": "book", "quantity": 2, "status": "PENDING"}},
		{name: "fetchOrder missing", method: "GET", path: "/orders/fetchOrder/" + missingPath,
			wantCode: 404, wantDetail: "The order with id: 999999 doesn't exist"},
		{name: "fetchOrder with text id", method: "GET", path: "/orders/fetchOrder/abc", wantCode: 400, wantFields: []string{"id"}},
		{name: "fetchOrder with id 0", method: "GET", path: "/orders/fetchOrder/0", wantCode: 400, wantFields: []string{"id"}},
		{name: "fetchOrder with negative id", method: "GET", path: "/orders/fetchOrder/-3", wantCode: 400, wantFields: []string{"id"}},
		{name: "fetchOrder with id beyond int64", method: "GET", path: "/orders/fetchOrder/99999999999999999999", wantCode: 400, wantFields: []string{"id"}},

		{name: "updateOrderStatus changes", seed: orders.StatusPending, method: "PUT", path: "/orders/updateOrderStatus/{id}?status=SHIPPED",
			wantCode: 201, want: map[string]any{"status": "SHIPPED"}},
		{name: "updateOrderStatus in lower case", seed: orders.StatusPending, method: "PUT", path: "/orders/updateOrderStatus/{id}?status=confirmed",
			wantCode: 201, want: map[string]any{"status": "CONFIRMED"}},
		{name: "updateOrderStatus to the current status", seed: orders.StatusShipped, method: "PUT", path: "/orders/updateOrderStatus/{id}?status=SHIPPED",
			wantCode: 200, want: map[string]any{"status": "SHIPPED"}},
		{name: "updateOrderStatus backwards", seed: orders.StatusShipped, method: "PUT", path: "/orders/updateOrderStatus/{id}?status=PENDING",
			wantCode: 409, wantDetail: "from SHIPPED to PENDING; allowed next statuses: OUT_FOR_DELIVERY, DELIVERED"},
		{name: "updateOrderStatus from a final status", seed: orders.StatusDelivered, method: "PUT", path: "/orders/updateOrderStatus/{id}?status=CANCELLED",
			wantCode: 409, wantDetail: "DELIVERED is final"},
		{name: "updateOrderStatus unknown status", seed: orders.StatusPending, method: "PUT", path: "/orders/updateOrderStatus/{id}?status=LOST",
			wantCode: 400, wantFields: []string{"status"}, wantDetail: "LOST"},
		{name: "updateOrderStatus without status", seed: orders.StatusPending, method: "PUT", path: "/orders/updateOrderStatus/{id}",
			wantCode: 400, wantFields: []string{"status"}},
		{name: "updateOrderStatus missing order", method: "PUT", path: "/orders/updateOrderStatus/" + missingPath + "?status=SHIPPED",
			wantCode: 404, wantDetail: "The order with id: 999999 doesn't exist"},
		{name: "updateOrderStatus with bad id", method: "PUT", path: "/orders/updateOrderStatus/x1?status=SHIPPED",
			wantCode: 400, wantFields: []string{"id"}},
	})
}

func TestIntegrationLegacyFetchAllOrders(t *testing.T) {
	svc := newTestService(t)
	e := newEngine(svc)
	create := func(name, item string, status orders.Status) int64 {
		o, _, err := svc.Create(t.Context(), orders.Anyone, orders.CreateRequest{Order: orders.NewOrder{CustomerName: name, Item: item, Quantity: 1}})
		if err != nil {
			t.Fatalf("cannot seed order: %v", err)
		}
		if status != orders.StatusPending {
			if _, _, err := svc.UpdateStatus(t.Context(), orders.Anyone, o.ID, status, nil); err != nil {
				t.Fatalf("cannot seed status: %v", err)
			}
		}
		return o.ID
	}

	// Before any order exists the answer is [], never null.
	if rec := do(t, e, "GET", "/orders/fetchAllOrders", "", nil); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Fatalf("got %d %s on an empty store, want 200 []", rec.Code, rec.Body)
	}
	ada := create("Ada", "book", orders.StatusPending)
	adaPen := create("Ada", "pen", orders.StatusShipped)
	bob := create("Bob", "book", orders.StatusShipped)

	tests := []struct {
		name     string
		query    string
		wantCode int
		wantIDs  []int64
	}{
		{name: "all", query: "", wantCode: 200, wantIDs: []int64{ada, adaPen, bob}},
		{name: "empty parameters filter nothing", query: "?id=&customerName=&item=&status=", wantCode: 200, wantIDs: []int64{ada, adaPen, bob}},
		{name: "by id", query: fmt.Sprintf("?id=%d", bob), wantCode: 200, wantIDs: []int64{bob}},
		{name: "by customerName", query: "?customerName=Ada", wantCode: 200, wantIDs: []int64{ada, adaPen}},
		{name: "customerName is an exact match", query: "?customerName=ada", wantCode: 200, wantIDs: []int64{}},
		{name: "by item", query: "?item=book", wantCode: 200, wantIDs: []int64{ada, bob}},
		{name: "by status", query: "?status=SHIPPED", wantCode: 200, wantIDs: []int64{adaPen, bob}},
		{name: "combined", query: "?customerName=Ada&status=shipped", wantCode: 200, wantIDs: []int64{adaPen}},
		{name: "no match", query: "?item=lamp", wantCode: 200, wantIDs: []int64{}},
		{name: "bad id", query: "?id=abc", wantCode: 400},
		{name: "bad status", query: "?status=LOST", wantCode: 400},
		{name: "invalid UTF-8", query: "?customerName=%FF", wantCode: 400},
		{name: "NUL", query: "?item=a%00b", wantCode: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := "/orders/fetchAllOrders" + tc.query
			rec := do(t, e, "GET", path, "", nil)
			if rec.Code != tc.wantCode {
				t.Fatalf("got status %d, want %d; body %s", rec.Code, tc.wantCode, rec.Body)
			}
			if tc.wantCode != 200 {
				checkError(t, rec, path, nil, "")
				return
			}
			var got []legacyOrder
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got == nil {
				t.Fatalf("got body %s, want a JSON array (err %v)", rec.Body, err)
			}
			ids := []int64{}
			for _, o := range got {
				ids = append(ids, o.ID)
			}
			if !slices.Equal(ids, tc.wantIDs) {
				t.Errorf("got ids %v, want %v", ids, tc.wantIDs)
			}
		})
	}
}

// TestIntegrationOriginalErrorBodies pins the original system's error
// answers byte for byte, content type included: its clients compare them.
func TestIntegrationOriginalErrorBodies(t *testing.T) {
	svc := orders.NewService(postgresStore(openTestPool(t)))
	e := newEngine(svc)
	tests := []struct {
		name, method, path string
		wantCode           int
		wantBody           string
	}{
		{name: "fetch a missing order", method: "GET", path: "/orders/fetchOrder/" + missingPath,
			wantCode: 404, wantBody: "The order with id: 999999 doesn't exist"},
		{name: "update a missing order", method: "PUT", path: "/orders/updateOrderStatus/" + missingPath + "?status=SHIPPED",
			wantCode: 404, wantBody: "The order with id: 999999 doesn't exist"},
		{name: "id as the original parsed it", method: "GET", path: "/orders/fetchOrder/000999999",
			wantCode: 404, wantBody: "The order with id: 999999 doesn't exist"},
		{name: "bad argument", method: "PUT", path: "/orders/updateOrderStatus/" + missingPath + "?status=LOST",
			wantCode: 400, wantBody: `invalid request: status unknown status "LOST"; expected one of PENDING, CONFIRMED, SHIPPED, OUT_FOR_DELIVERY, DELIVERED, CANCELLED`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, e, tc.method, tc.path, "", nil)
			if rec.Code != tc.wantCode || rec.Body.String() != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, tc.wantCode, tc.wantBody)
			}
			if got := rec.Header().Get("Content-Type"); got != "text/plain;charset=UTF-8" {
				t.Errorf("got Content-Type %q, want text/plain;charset=UTF-8", got)
			}
		})
	}
}
