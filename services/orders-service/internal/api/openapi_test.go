package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/auth"
	"github.com/order-tracking/platform/pkg/guard"
	"github.com/order-tracking/platform/pkg/httpserver"
)

// servedByHTTPServer are the paths pkg/httpserver adds to every service; the
// document describes them but Register does not add them.
var servedByHTTPServer = []string{"/healthz", "/readyz", "/metrics"}

var ginParam = regexp.MustCompile(`:([A-Za-z_]+)`)

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc, err := openAPI()
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
}

func TestOpenAPICoversRoutes(t *testing.T) {
	doc, err := openAPI()
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	// The handlers are only listed, never called, so no service is needed.
	Register(e, quiet, nil, guard.Guards{})

	registered := map[string]bool{}
	for _, r := range e.Routes() {
		path := ginParam.ReplaceAllString(r.Path, "{$1}")
		registered[r.Method+" "+path] = true
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("got route %s %s without an operation in openapi.json, want one at %s", r.Method, r.Path, path)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !registered[method+" "+path] && !slices.Contains(servedByHTTPServer, path) {
				t.Errorf("got operation %s %s in openapi.json that Register does not route", method, path)
			}
		}
	}
}

// TestOpenAPIServed: the embedded document, whose security requirement
// holds only when auth is on.
func TestOpenAPIServed(t *testing.T) {
	tests := []struct {
		name         string
		guards       guard.Guards
		wantSecurity bool
	}{
		{name: "auth off", guards: guard.Guards{}},
		{name: "auth on", wantSecurity: true, guards: guard.Guards{Auth: auth.NewAuthenticator(
			auth.Config{Mode: auth.ModeJWT, IssuerURL: "https://id.example.com", Audience: "order-tracking"}, quiet, auth.VerifierOptions{})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := gin.New()
			Register(e, quiet, nil, tc.guards)
			rec := do(t, e, "GET", "/openapi.json", "", nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("got status %d, want 200", rec.Code)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
				t.Errorf("got Content-Type %q, want application/json", got)
			}
			var served, embedded map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &served); err != nil {
				t.Fatal(err)
			}
			_ = json.Unmarshal(openAPIDocument, &embedded)
			_, hasSecurity := served["security"]
			if hasSecurity != tc.wantSecurity {
				t.Errorf("got a security requirement: %v, want %v", hasSecurity, tc.wantSecurity)
			}
			delete(served, "security")
			delete(embedded, "security")
			if !reflect.DeepEqual(served, embedded) {
				t.Error("the served document differs from the embedded one beyond its security requirement")
			}
		})
	}
}

// TestOpenAPIValidationRejects makes sure the response check that every
// handler test runs can fail at all.
func TestOpenAPIValidationRejects(t *testing.T) {
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
			if err := checkResponse(t, tc.method, tc.path, rec); err == nil {
				t.Errorf("got no validation error, want one")
			}
		})
	}
}

// TestOpenAPIWithHTTPServer checks the document against the engine the
// service really runs on: the routes pkg/httpserver adds are documented,
// and what they answer matches.
func TestOpenAPIWithHTTPServer(t *testing.T) {
	srv, err := httpserver.New(httpserver.Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	Register(srv.Router(), quiet, nil, guard.Guards{})
	doc, err := openAPI()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Router().Routes() {
		path := ginParam.ReplaceAllString(r.Path, "{$1}")
		if item := doc.Paths.Value(path); item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("got route %s %s without an operation in openapi.json", r.Method, r.Path)
		}
	}
	for _, path := range servedByHTTPServer {
		t.Run(path, func(t *testing.T) {
			rec := do(t, srv.Handler(), "GET", path, "", nil)
			if rec.Code != http.StatusOK {
				t.Errorf("got status %d, want 200; body %s", rec.Code, rec.Body)
			}
		})
	}
}
