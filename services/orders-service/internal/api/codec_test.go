package api

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// limited reads body as a handler does, including the size limit.
func limited(body []byte) io.Reader {
	return http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(body)), maxBodyBytes)
}

func TestDecodeCreateOrder(t *testing.T) {
	tests := []struct {
		name       string
		shape      shape
		body       string
		want       orders.NewOrder
		wantCode   int
		wantFields []string
	}{
		{name: "legacy full", shape: legacyShape, body: `{"customerName":"Ada","item":"book","quantity":3}`,
			want: orders.NewOrder{CustomerName: "Ada", Item: "book", Quantity: 3}},
		{name: "legacy default quantity", shape: legacyShape, body: `{"customerName":"Ada","item":"book"}`,
			want: orders.NewOrder{CustomerName: "Ada", Item: "book", Quantity: 1}},
		{name: "legacy unknown field ignored", shape: legacyShape, body: `{"customerName":"Ada","item":"book","x":[1,{}]}`,
			want: orders.NewOrder{CustomerName: "Ada", Item: "book", Quantity: 1}},
		{name: "v1 full", shape: v1Shape, body: ` {"customerName":"Ada","item":"book","quantity":10000} `,
			want: orders.NewOrder{CustomerName: "Ada", Item: "book", Quantity: 10000}},
		{name: "v1 missing quantity", shape: v1Shape, body: `{"customerName":"Ada","item":"book"}`, wantCode: 400, wantFields: []string{"quantity"}},
		{name: "v1 unknown field", shape: v1Shape, body: `{"customerName":"Ada","item":"book","quantity":1,"x":1}`, wantCode: 400, wantFields: []string{"x"}},
		{name: "quantity as string", shape: legacyShape, body: `{"customerName":"Ada","item":"book","quantity":"2"}`, wantCode: 400, wantFields: []string{"quantity"}},
		{name: "quantity beyond int64", shape: v1Shape, body: `{"customerName":"Ada","item":"book","quantity":1e30}`, wantCode: 400, wantFields: []string{"quantity"}},
		{name: "quantity negative", shape: v1Shape, body: `{"customerName":"Ada","item":"book","quantity":-1}`, wantCode: 400, wantFields: []string{"quantity"}},
		{name: "every field wrong", shape: v1Shape, body: `{"customerName":"","item":"` + strings.Repeat("x", 201) + `","quantity":0}`,
			wantCode: 400, wantFields: []string{"customerName", "item", "quantity"}},
		{name: "NUL in name", shape: legacyShape, body: `{"customerName":"A\u0000","item":"b"}`, wantCode: 400, wantFields: []string{"customerName"}},
		// PostgreSQL cannot store it: a 400, not the 500 the insert would fail with.
		{name: "NUL in owner", shape: v1Shape, body: `{"customerName":"Ada","item":"book","quantity":1,"owner":"a\u0000"}`,
			wantCode: 400, wantFields: []string{"owner"}},
		// Characters, not bytes, as openapi.json's maxLength and the orders table count.
		{name: "owner of 255 characters", shape: v1Shape, body: `{"customerName":"Ada","item":"book","quantity":1,"owner":"` + strings.Repeat("é", 255) + `"}`,
			want: orders.NewOrder{CustomerName: "Ada", Item: "book", Quantity: 1, Owner: strings.Repeat("é", 255)}},
		{name: "owner of 256 characters", shape: v1Shape, body: `{"customerName":"Ada","item":"book","quantity":1,"owner":"` + strings.Repeat("x", 256) + `"}`,
			wantCode: 400, wantFields: []string{"owner"}},
		// encoding/json replaces invalid UTF-8 with U+FFFD, which is storable.
		{name: "lone surrogate", shape: legacyShape, body: `{"customerName":"\ud800","item":"b"}`,
			want: orders.NewOrder{CustomerName: "\uFFFD", Item: "b", Quantity: 1}},
		{name: "null", shape: legacyShape, body: `null`, wantCode: 400, wantFields: []string{"customerName", "item"}},
		{name: "string", shape: v1Shape, body: `"order"`, wantCode: 400},
		{name: "empty", shape: v1Shape, body: ``, wantCode: 400},
		{name: "truncated", shape: v1Shape, body: `{"customerName":"Ada"`, wantCode: 400},
		{name: "two objects", shape: legacyShape, body: `{}{}`, wantCode: 400},
		{name: "too large", shape: legacyShape, body: `{"item":"` + strings.Repeat("x", maxBodyBytes) + `"}`, wantCode: 413},
		{name: "too large after the object", shape: legacyShape, body: `{"customerName":"Ada","item":"book"}` + strings.Repeat(" ", maxBodyBytes), wantCode: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeCreateOrder(limited([]byte(tc.body)), tc.shape)
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				if got != tc.want {
					t.Errorf("got %+v, want %+v", got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %+v, want a %d error", got, tc.wantCode)
			}
			code, p := statusOf(err)
			if code != tc.wantCode {
				t.Fatalf("got status %d (%v), want %d", code, err, tc.wantCode)
			}
			var fields []string
			for _, f := range p.Errors {
				fields = append(fields, f.Field)
			}
			for _, want := range tc.wantFields {
				if !strings.Contains(" "+strings.Join(fields, " ")+" ", " "+want+" ") {
					t.Errorf("got invalid fields %v, want %q among them", fields, want)
				}
			}
		})
	}
}

func TestRequestHashIgnoresFormatting(t *testing.T) {
	a, err := decodeCreateOrder(limited([]byte(`{"customerName":"Ada","item":"book"}`)), legacyShape)
	if err != nil {
		t.Fatal(err)
	}
	b, err := decodeCreateOrder(limited([]byte("{\n \"item\": \"book\", \"quantity\": 1, \"customerName\": \"Ada\"}")), v1Shape)
	if err != nil {
		t.Fatal(err)
	}
	if requestHash(a, v1Shape) != requestHash(b, v1Shape) {
		t.Errorf("got different hashes for the same order, want equal")
	}
	// Without the length prefixes these two would encode alike.
	c := orders.NewOrder{CustomerName: "a|1:b", Item: "c", Quantity: 1}
	d := orders.NewOrder{CustomerName: "a", Item: "b|1:c", Quantity: 1}
	if requestHash(c, v1Shape) == requestHash(d, v1Shape) {
		t.Errorf("got equal hashes for %+v and %+v, want different", c, d)
	}
	// The answer kept with a key is in its API's shape, and an owner
	// makes another order.
	if requestHash(a, legacyShape) == requestHash(a, v1Shape) {
		t.Errorf("got equal hashes for the two APIs, want different")
	}
	e := a
	e.Owner = "bob"
	if requestHash(a, v1Shape) == requestHash(e, v1Shape) {
		t.Errorf("got equal hashes for two owners, want different")
	}
}

// FuzzDecodeCreateOrder checks that any body, in either API's shape, decodes
// to a valid order or to a client error: never a panic, a 5xx or an order the
// domain would refuse.
func FuzzDecodeCreateOrder(f *testing.F) {
	f.Add([]byte(`{"customerName":"Ada","item":"book","quantity":2}`), true)
	f.Add([]byte(`{"customerName":"Ada","item":"book"}`), false)
	f.Add([]byte(`{"customerName":"Ada","item":"book","quantity":1.5}`), false)
	f.Add([]byte(`[]`), true)
	f.Fuzz(func(t *testing.T, body []byte, v1 bool) {
		s := legacyShape
		if v1 {
			s = v1Shape
		}
		n, err := decodeCreateOrder(limited(body), s)
		if err != nil {
			code, p := statusOf(err)
			if code < 400 || code > 499 {
				t.Fatalf("got status %d for %v, want a 4xx", code, err)
			}
			if p.Detail == "" {
				t.Fatalf("got an empty detail for %v, want a description", err)
			}
			return
		}
		if err := n.Validate(); err != nil {
			t.Fatalf("got %+v accepted, want it refused: %v", n, err)
		}
		if v1 {
			// v1 is the stricter shape: what it accepts the legacy API
			// accepts as the same order.
			legacy, err := decodeCreateOrder(limited(body), legacyShape)
			if err != nil || legacy != n {
				t.Fatalf("got legacy %+v, %v for a body v1 accepts as %+v, want the same order", legacy, err, n)
			}
		}
	})
}
