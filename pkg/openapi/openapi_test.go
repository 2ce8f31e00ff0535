package openapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/openapi/swaggerui"
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

func TestRegister(t *testing.T) {
	e := gin.New()
	Register(e, []byte(doc), true)
	get := func(target string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, target, nil))
		return rec
	}
	if a, b := get(Path), get(SpringdocPath); a.Code != 200 || b.Code != 200 || a.Body.String() != b.Body.String() {
		t.Errorf("got %s %d and %s %d, want the same document at both", Path, a.Code, SpringdocPath, b.Code)
	}

	ui := get(UIPath)
	if ui.Code != 200 || ui.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET %s: got %d %q, want the HTML page", UIPath, ui.Code, ui.Header().Get("Content-Type"))
	}
	for k, want := range map[string]string{"Content-Security-Policy": swaggerui.CSP, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"} {
		if got := ui.Header().Get(k); got != want {
			t.Errorf("GET %s: got %s %q, want %q", UIPath, k, got, want)
		}
	}
	// Every asset the page names is served, cached for good, with its type.
	refs := regexp.MustCompile(`(?:href|src)="([^"]+)"`).FindAllStringSubmatch(ui.Body.String(), -1)
	if len(refs) != 4 || !strings.Contains(ui.Body.String(), `data-url="openapi.json"`) {
		t.Fatalf("got page %s, want the stylesheet, icon, bundle and initializer, and the document relative to it", ui.Body)
	}
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".png": "image/png"}
	for _, ref := range refs {
		if !strings.HasPrefix(ref[1], "api-docs/assets/"+swaggerui.Version+"/") {
			t.Errorf("got asset %q, want it under api-docs/assets/<version>/, relative to the page", ref[1])
		}
		rec := get("/" + ref[1])
		if rec.Code != 200 || rec.Body.Len() == 0 || rec.Header().Get("Content-Type") != types[path.Ext(ref[1])] {
			t.Errorf("GET /%s: got %d, %d bytes, %q", ref[1], rec.Code, rec.Body.Len(), rec.Header().Get("Content-Type"))
		}
		if got := rec.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("GET /%s: got Cache-Control %q, want it cached for good", ref[1], got)
		}
	}
	for _, bad := range []string{"/api-docs/assets/0.0.1/swagger-ui.css", "/api-docs/assets/" + swaggerui.Version + "/index.html",
		"/api-docs/assets/" + swaggerui.Version + "/VERSION", "/api-docs/assets/" + swaggerui.Version + "/swagger-initializer.js"} {
		if rec := get(bad); rec.Code != 404 || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: got %d, Cache-Control %q, want a 404 not cached", bad, rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
}
