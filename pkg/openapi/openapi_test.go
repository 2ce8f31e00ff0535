package openapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"

	"github.com/gin-gonic/gin"
)

func init() { gin.SetMode(gin.TestMode) }

const doc = `{
  "openapi": "3.0.3",
  "info": {"title": "t", "version": "1"},
  "security": [{"bearer": []}],
  "paths": {
    "/a": {
      "parameters": [],
      "get": {"security": [{"bearer": []}, {}], "responses": {"200": {"description": "ok"}}},
      "post": {"responses": {"201": {"description": "made"}}}
    },
    "/openapi.json": {"get": {"security": [], "responses": {"200": {"description": "this"}}}}
  },
  "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
}`

func TestHandler(t *testing.T) {
	tests := []struct {
		name        string
		authEnabled bool
		// wantSecurity lists where a security requirement must stand:
		// "" is the top level, "METHOD /path" an operation.
		wantSecurity []string
	}{
		{name: "auth on: as embedded", authEnabled: true, wantSecurity: []string{"", "get /a", "get /openapi.json"}},
		{name: "auth off: no requirement anywhere", authEnabled: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := gin.New()
			e.GET(Path, Handler([]byte(doc), tc.authEnabled))
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, Path, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("got status %d, want 200", rec.Code)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("got Content-Type %q, want application/json", got)
			}
			var served, embedded map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &served); err != nil {
				t.Fatalf("served document is not JSON: %v", err)
			}
			_ = json.Unmarshal([]byte(doc), &embedded)
			if got := securityAt(served); !reflect.DeepEqual(got, tc.wantSecurity) {
				t.Errorf("got security requirements at %q, want at %q", got, tc.wantSecurity)
			}
			// Beyond its security requirements, the document is served as
			// embedded: schemes, paths and operations all there.
			stripSecurity(served)
			stripSecurity(embedded)
			if !reflect.DeepEqual(served, embedded) {
				t.Errorf("got document %v, want %v beyond its security requirements", served, embedded)
			}
		})
	}
}

func TestHandlerPanicsOnNonObject(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"not JSON", `openapi: 3.0.3`},
		{"an array", `[]`},
		{"paths not an object", `{"paths": []}`},
		{"operation not an object", `{"paths": {"/a": {"get": 1}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("got no panic, want one")
				}
			}()
			Handler([]byte(tc.doc), false)
		})
	}
}

// securityAt lists where d has a security requirement, sorted: "" for the
// top level, "method path" for an operation.
func securityAt(d map[string]any) []string {
	var at []string
	if _, ok := d["security"]; ok {
		at = append(at, "")
	}
	for path, item := range d["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			if o, ok := op.(map[string]any); ok && o["security"] != nil {
				at = append(at, method+" "+path)
			}
		}
	}
	slices.Sort(at)
	return at
}

func stripSecurity(d map[string]any) {
	delete(d, "security")
	for _, item := range d["paths"].(map[string]any) {
		for _, op := range item.(map[string]any) {
			if o, ok := op.(map[string]any); ok {
				delete(o, "security")
			}
		}
	}
}
