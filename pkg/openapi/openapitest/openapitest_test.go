package openapitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/guard"
	"github.com/order-tracking/platform/pkg/openapi"
)

func init() { gin.SetMode(gin.TestMode) }

// recorder is a testing.TB that keeps the failures it is told of instead
// of failing, so that the checks can be tested to fail.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

const doc = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "security": [{"bearer": []}],
  "paths": {
    "/a/{id}": {"get": {"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
      "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}}},
    "/b": {"post": {"responses": {"201": {"description": "made"}}}}
  },
  "components": {
    "schemas": {"A": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}, "s": {"type": "string", "const": "x"}}}},
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
  }
}`

func TestCheckRoutes(t *testing.T) {
	ok := func(*gin.Context) {}
	tests := []struct {
		name     string
		routes   func(e *gin.Engine)
		wantErrs int
	}{
		{name: "the same", wantErrs: 0, routes: func(e *gin.Engine) { e.GET("/a/:id", ok); e.POST("/b", ok) }},
		{name: "route without operation", wantErrs: 1, routes: func(e *gin.Engine) { e.GET("/a/:id", ok); e.POST("/b", ok); e.GET("/c", ok) }},
		{name: "operation without route", wantErrs: 1, routes: func(e *gin.Engine) { e.GET("/a/:id", ok) }},
		{name: "another method", wantErrs: 2, routes: func(e *gin.Engine) { e.GET("/a/:id", ok); e.PUT("/b", ok) }},
	}
	d, err := New(t.Context(), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := gin.New()
			tc.routes(e)
			r := &recorder{TB: t}
			d.CheckRoutes(r, e.Routes())
			if len(r.errs) != tc.wantErrs {
				t.Errorf("got %d failures %q, want %d", len(r.errs), r.errs, tc.wantErrs)
			}
		})
	}
}

func TestCheckResponse(t *testing.T) {
	tests := []struct {
		name, target string
		code         int
		body         string
		wantErr      bool
	}{
		{name: "as documented", target: "/a/1", code: 200, body: `{"n":1,"s":"x"}`},
		{name: "missing member", target: "/a/1", code: 200, body: `{}`, wantErr: true},
		// A 3.1 document's schemas are JSON Schema 2020-12: const holds.
		{name: "const broken", target: "/a/1", code: 200, body: `{"n":1,"s":"y"}`, wantErr: true},
		{name: "undocumented status", target: "/a/1", code: 404, body: `{}`, wantErr: true},
		{name: "no operation", target: "/nowhere", code: 200, body: `{}`, wantErr: true},
	}
	d, err := New(t.Context(), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Type", "application/json")
			rec.WriteHeader(tc.code)
			rec.WriteString(tc.body)
			if err := d.CheckResponse(t.Context(), http.MethodGet, tc.target, rec); (err != nil) != tc.wantErr {
				t.Errorf("got error %v, want one: %v", err, tc.wantErr)
			}
			if err := d.CheckSchema("A", map[string]any{"n": 1.0, "s": "y"}); err == nil {
				t.Error("CheckSchema: got no error for a broken const, want one")
			}
		})
	}
}

func TestNewRejectsInvalidDocument(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"not JSON", `openapi: 3`},
		{"no info", `{"openapi":"3.1.0","paths":{}}`},
		{"undeclared path parameter", `{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a/{id}":{"get":{"responses":{"200":{"description":"ok"}}}}}}`},
		{"dangling reference", `{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a":{"get":{"responses":{"200":{"$ref":"#/components/responses/X"}}}}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(t.Context(), []byte(tc.doc)); err == nil {
				t.Error("got no error, want one")
			}
		})
	}
}

func TestServed(t *testing.T) {
	for _, authEnabled := range []bool{true, false} {
		t.Run(fmt.Sprint("auth ", authEnabled), func(t *testing.T) {
			e := gin.New()
			e.GET(openapi.Path, openapi.Handler([]byte(doc), authEnabled))
			// The right expectation passes, the wrong one fails.
			for _, want := range []bool{authEnabled, !authEnabled} {
				r := &recorder{TB: t}
				Served(r, e, want)
				if failed := len(r.errs) > 0; failed == (want == authEnabled) {
					t.Errorf("Served(wantSecurity=%v): got failures %q", want, r.errs)
				}
			}
		})
	}
}

// TestCheckServedPerAuth: a service that serves its document through
// openapi.Handler with its guards' auth passes.
func TestCheckServedPerAuth(t *testing.T) {
	CheckServedPerAuth(t, func(g guard.Guards) http.Handler {
		e := gin.New()
		e.GET(openapi.Path, openapi.Handler([]byte(doc), g.AuthEnabled()))
		return e
	})
}
