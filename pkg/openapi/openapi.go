// Package openapi serves a service's OpenAPI document, the contract its
// clients and the API fuzzing of `make test` (hack/apifuzz.sh) read. Each
// service embeds its own openapi.json beside its routes.go and registers
// Handler at GET /openapi.json; this package is the one place that decides
// how the document is served.
package openapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/openapi/swaggerui"
)

// Where every service serves its document and the API explorer.
const (
	// Path is the document.
	Path = "/openapi.json"
	// SpringdocPath is the document again, at the original system's
	// (springdoc's) path.
	SpringdocPath = "/v3/api-docs"
	// UIPath is Swagger UI, where the original system had it.
	UIPath = "/api-docs"
	// UIAssetPath is Swagger UI's files, by version.
	UIAssetPath = "/api-docs/assets/:version/:file"
)

// Register serves doc (see Handler) at Path and SpringdocPath, and Swagger
// UI on it at UIPath. None of them is guarded: the document describes the
// API, and the UI sends the token the user gives it (Authorize) with each
// call it makes.
func Register(r gin.IRouter, doc []byte, authEnabled bool) {
	h := Handler(doc, authEnabled)
	r.GET(Path, h)
	r.GET(SpringdocPath, h)
	// Relative to /api-docs, so that the UI works behind a path prefix.
	page := swaggerui.Page(strings.TrimPrefix(Path, "/"), strings.TrimPrefix(UIPath, "/")+"/assets")
	r.GET(UIPath, func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", swaggerui.CSP)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		c.Data(http.StatusOK, "text/html; charset=utf-8", page)
	})
	r.GET(UIAssetPath, swaggerui.Asset)
}

// Handler serves doc, an OpenAPI 3 document in JSON, as it is when
// authEnabled, and without any security requirement otherwise: a service
// running with AUTH_MODE=off needs no token, and a document that asked for
// one would describe another service than the one answering (a client or a
// fuzzer would send tokens, or expect 401s, for nothing).
//
// The document is prepared once, here, not per request. Handler panics when
// doc is not a JSON object: documents are embedded at build time, so that is
// a programming error, which each service's tests catch.
func Handler(doc []byte, authEnabled bool) gin.HandlerFunc {
	if !authEnabled {
		var err error
		if doc, err = WithoutSecurity(doc); err != nil {
			panic(err.Error())
		}
	}
	return func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", doc)
	}
}

// operationKeys are the members of an OpenAPI Path Item that hold an
// Operation, the only places besides the top level a security requirement
// may stand.
var operationKeys = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// WithoutSecurity is doc with the top-level security requirement and every
// operation's removed. The security schemes stay under components: they
// describe what auth would be, and nothing refers to them any more.
func WithoutSecurity(doc []byte) ([]byte, error) {
	var d map[string]json.RawMessage
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("openapi document is not a JSON object: %w", err)
	}
	delete(d, "security")
	if raw, ok := d["paths"]; ok {
		var paths map[string]map[string]json.RawMessage
		if err := json.Unmarshal(raw, &paths); err != nil {
			return nil, fmt.Errorf("openapi document's paths are not path items: %w", err)
		}
		for _, item := range paths {
			for _, method := range operationKeys {
				op, ok := item[method]
				if !ok {
					continue
				}
				var o map[string]json.RawMessage
				if err := json.Unmarshal(op, &o); err != nil {
					return nil, fmt.Errorf("openapi document's operation %s is not an object: %w", method, err)
				}
				if _, ok := o["security"]; !ok {
					continue
				}
				delete(o, "security")
				item[method] = mustMarshal(o)
			}
		}
		d["paths"] = mustMarshal(paths)
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("cannot encode openapi document: %w", err)
	}
	return out, nil
}

// mustMarshal encodes what was just decoded from JSON, which cannot fail.
func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("cannot re-encode decoded JSON: %v", err))
	}
	return b
}
