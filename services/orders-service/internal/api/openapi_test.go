package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/guard"
	"github.com/order-tracking/platform/pkg/httpserver"
	"github.com/order-tracking/platform/pkg/openapi/openapitest"
)

// TestOpenAPICoversRoutes checks the document against the engine the
// service really runs on: every route, the ones pkg/httpserver adds
// included, is an operation of the document and every operation a route,
// and the built-in endpoints answer as documented.
func TestOpenAPICoversRoutes(t *testing.T) {
	srv, err := httpserver.New(httpserver.Config{}, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	Register(srv.Router(), quiet, nil, guard.Guards{})
	openAPI(t).CheckService(t, srv.Router())
}

// TestOpenAPIServed: the embedded document, whose security requirement
// holds only when auth is on.
func TestOpenAPIServed(t *testing.T) {
	openapitest.CheckServedPerAuth(t, func(g guard.Guards) http.Handler {
		e := gin.New()
		Register(e, quiet, nil, g)
		return e
	})
}

// TestOpenAPIValidationRejects makes sure the response check that every
// handler test runs can fail at all.
func TestOpenAPIValidationRejects(t *testing.T) {
	doc := openAPI(t)
	tests := []struct {
		name, method, path string
		code               int
		contentType, body  string
	}{
		{name: "order without status", method: "GET", path: "/orders/fetchOrder/1", code: 200, contentType: "application/json",
			body: `{"id":1,"customerName":"Ada","item":"book","quantity":1,"createdAt":"2024-01-01T00:00:00Z"}`},
		{name: "undocumented status code", method: "GET", path: "/orders/fetchOrder/1", code: 418, contentType: "application/json", body: `{}`},
		{name: "v1 order without ETag", method: "GET", path: "/api/v1/orders/1", code: 200, contentType: "application/json",
			body: `{"id":1,"customerName":"Ada","item":"book","quantity":1,"status":"PENDING","version":1,"createdAt":"2024-01-01T00:00:00Z","updatedAt":"2024-01-01T00:00:00Z"}`},
		{name: "problem as plain JSON", method: "GET", path: "/api/v1/orders/1", code: 404, contentType: "application/json",
			body: `{"type":"/problems/not-found","title":"t","status":404,"detail":"d"}`},
		{name: "list as null", method: "GET", path: "/orders/fetchAllOrders", code: 200, contentType: "application/json", body: `null`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Type", tc.contentType)
			rec.WriteHeader(tc.code)
			rec.WriteString(tc.body)
			if err := doc.CheckResponse(t.Context(), tc.method, tc.path, rec); err == nil {
				t.Errorf("got no validation error, want one")
			}
		})
	}
}
