// Package openapitest holds a service's unit tests to its OpenAPI document:
// every route it registers is an operation of the document and every
// operation a route, and a handler's answers are what the document says
// they are. hack/apifuzz.sh checks the same against the running service
// with generated requests; these checks run in `go test`, on the cases the
// tests choose, and name the handler that drifted.
package openapitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/auth"
	"github.com/order-tracking/platform/pkg/guard"
	"github.com/order-tracking/platform/pkg/httpserver"
	"github.com/order-tracking/platform/pkg/openapi"
)

// Document is a loaded and valid OpenAPI document. It is safe for
// concurrent use: build one per package (see Once) and share it.
type Document struct {
	// T is the parsed document, for tests that look inside it.
	T      *openapi3.T
	router routers.Router
}

// New parses doc (JSON) and validates it as an OpenAPI 3 document.
func New(ctx context.Context, doc []byte) (*Document, error) {
	t, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("cannot load openapi.json: %w", err)
	}
	if err := t.Validate(ctx); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI document: %w", err)
	}
	router, err := gorillamux.NewRouter(t)
	if err != nil {
		return nil, fmt.Errorf("cannot route openapi.json's paths: %w", err)
	}
	return &Document{T: t, router: router}, nil
}

// Once returns a loader of doc that parses and validates it on its first
// call and hands every later call the same Document, so that a package's
// tests, each validating many responses, load their document once:
//
//	var openAPI = openapitest.Once(openAPIDocument)
//	...
//	openAPI(t).Validate(t, "GET", target, rec)
//
// A document that is not valid fails every test that loads it.
func Once(doc []byte) func(t testing.TB) *Document {
	load := sync.OnceValues(func() (*Document, error) { return New(context.Background(), doc) })
	return func(t testing.TB) *Document {
		t.Helper()
		d, err := load()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
}

// CheckResponse returns why rec is not an answer the document allows to
// method and target (a path with its query), or nil when it is: a status
// code the operation lists, and headers and body that match its schemas.
func (d *Document) CheckResponse(ctx context.Context, method, target string, rec *httptest.ResponseRecorder) error {
	req := httptest.NewRequestWithContext(ctx, method, target, nil)
	route, params, err := d.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("no operation in openapi.json: %w", err)
	}
	return openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		// Without it an undocumented status code would pass.
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
}

// Validate fails t unless rec is an answer the document allows (see
// CheckResponse).
func (d *Document) Validate(t testing.TB, method, target string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if err := d.CheckResponse(t.Context(), method, target, rec); err != nil {
		t.Errorf("%s %s: response %d %s does not match openapi.json: %v", method, target, rec.Code, rec.Body, err)
	}
}

// CheckSchema returns why v, a decoded JSON value (as encoding/json decodes
// into any), does not match the document's schema components.schemas[name],
// or nil when it does. It is for what CheckResponse cannot see into, such as
// the events of a text/event-stream answer.
func (d *Document) CheckSchema(name string, v any) error {
	ref := d.T.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("openapi.json has no schema %s", name)
	}
	var opts []openapi3.SchemaValidationOption
	if d.T.IsOpenAPI31OrLater() {
		// As openapi3filter does for a 3.1 document's responses: its schemas
		// are JSON Schema 2020-12 (const, contentSchema and the like).
		opts = append(opts, openapi3.EnableJSONSchema2020())
	}
	if err := ref.Value.VisitJSON(v, opts...); err != nil {
		return fmt.Errorf("does not match schema %s: %w", name, err)
	}
	return nil
}

// ginParam is a path parameter of a gin route (:id, or a catch-all *path).
var ginParam = regexp.MustCompile(`[:*]([A-Za-z_][A-Za-z0-9_]*)`)

// CheckRoutes fails t for every route of routes without an operation in
// the document, and every operation of the document without a route.
// Pass the routes of the engine the service really runs on
// (httpserver.New's, with the service's routes registered), so that the
// endpoints pkg/httpserver adds are held to the document too.
func (d *Document) CheckRoutes(t testing.TB, routes gin.RoutesInfo) {
	t.Helper()
	routed := map[string]bool{}
	for _, r := range routes {
		path := ginParam.ReplaceAllString(r.Path, "{$1}")
		routed[r.Method+" "+path] = true
		if item := d.T.Paths.Value(path); item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("got route %s %s without an operation in openapi.json, want one at %s", r.Method, r.Path, path)
		}
	}
	var documented []string
	for path, item := range d.T.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(documented)
	for _, op := range documented {
		if !routed[op] {
			t.Errorf("got operation %s in openapi.json without a route", op)
		}
	}
}

// builtIn are the endpoints every service has: pkg/httpserver's, and its
// document.
var builtIn = []string{"/healthz", "/readyz", "/metrics", httpserver.ActuatorHealthPath, httpserver.ActuatorPrometheusPath, openapi.Path, openapi.SpringdocPath, openapi.UIPath}

// CheckService fails t unless engine, the engine a service runs on
// (httpserver.New's, with the service's routes registered), serves the
// document: every route is an operation and every operation a route (see
// CheckRoutes), and the endpoints every service has answer 200 as
// documented. Only those are called, so the service's own handlers may
// hold nil dependencies.
func (d *Document) CheckService(t *testing.T, engine *gin.Engine) {
	t.Helper()
	d.CheckRoutes(t, engine.Routes())
	for _, path := range builtIn {
		t.Run(path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			engine.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil))
			if rec.Code != http.StatusOK {
				t.Errorf("GET %s: got status %d, want 200; body %s", path, rec.Code, rec.Body)
			}
			d.Validate(t, http.MethodGet, path, rec)
		})
	}
}

// CheckServedPerAuth fails t unless the document is served with its
// security requirements exactly when auth is on: serve builds the
// service's routes for the guards it is given, once with auth off (the
// zero Guards) and once with auth on (JWTs of an issuer never called).
func CheckServedPerAuth(t *testing.T, serve func(guard.Guards) http.Handler) {
	t.Helper()
	on := auth.NewAuthenticator(auth.Config{Mode: auth.ModeJWT, IssuerURL: "https://id.example.com", Audience: "order-tracking"},
		slog.New(slog.DiscardHandler), auth.VerifierOptions{})
	tests := []struct {
		name         string
		guards       guard.Guards
		wantSecurity bool
	}{
		{name: "auth off", guards: guard.Guards{}},
		{name: "auth on", guards: guard.Guards{Auth: on}, wantSecurity: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			Served(t, serve(tc.guards), tc.wantSecurity)
		})
	}
}

// Served fails t unless h answers GET /openapi.json with the document
// (JSON), carrying security requirements exactly when wantSecurity.
func Served(t testing.TB, h http.Handler, wantSecurity bool) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi.json: got status %d, want 200", rec.Code)
	}
	if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("GET /openapi.json: got Content-Type %q, want application/json", got)
	}
	served, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("GET /openapi.json: got a document that does not load: %v", err)
	}
	secured := len(served.Security) > 0
	for _, item := range served.Paths.Map() {
		for _, op := range item.Operations() {
			secured = secured || (op.Security != nil && len(*op.Security) > 0)
		}
	}
	if secured != wantSecurity {
		t.Errorf("GET /openapi.json: got security requirements: %v, want %v", secured, wantSecurity)
	}
}

// The kinds of text the services' pages answer with besides JSON and plain
// text: validated as strings against their documented schemas.
func init() {
	for _, ct := range []string{"text/html", "text/css", "text/javascript", "image/svg+xml", "image/png"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
}
