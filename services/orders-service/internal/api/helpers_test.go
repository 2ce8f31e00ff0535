package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/order-tracking/platform/pkg/guard"
	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/pkg/openapi/openapitest"
	"github.com/order-tracking/platform/services/orders-service/internal/orders"
	"github.com/order-tracking/platform/services/orders-service/internal/postgres"
	"github.com/order-tracking/platform/services/orders-service/internal/postgres/postgrestest"
)

func init() { gin.SetMode(gin.TestMode) }

// openTestPool migrates a fresh database and returns a pool on it, closed
// before the database is dropped (cleanups run last-registered first).
func openTestPool(t *testing.T) *pgxpool.Pool { return postgrestest.NewPool(t) }

// newTestService is an orders.Service over the real PostgreSQL store, on a
// database of the test's own.
func newTestService(t *testing.T) *orders.Service {
	t.Helper()
	return orders.NewService(postgresStore(openTestPool(t)))
}

func postgresStore(pool *pgxpool.Pool) *postgres.OrderStore {
	return postgres.NewOrderStore(pool, postgres.StoreOptions{})
}

// quiet is the handlers' logger in tests: the causes of 500s are checked
// to stay out of the bodies, not read from the log.
var quiet = slog.New(slog.DiscardHandler)

// newEngine is a bare gin engine with the API registered, as pkg/httpserver
// will build it minus its own middleware.
func newEngine(svc *orders.Service) *gin.Engine {
	e := gin.New()
	Register(e, quiet, svc, guard.Guards{})
	return e
}

// The shared problem types, under the names the tests knew them by before
// they moved to pkg/httpapi.
const (
	problemInvalidRequest = httpapi.TypeInvalidRequest
	problemBodyTooLarge   = httpapi.TypeBodyTooLarge
)

// statusOf maps err through the service's error table, as both APIs do, for
// tests of the decoder that have no request to answer.
func statusOf(err error) (int, *httpapi.Problem) {
	p := httpapi.Describe(mapError, err).Core()
	return p.Status, p
}

// seedOrder creates an order and moves it to status, returning it.
func seedOrder(t *testing.T, svc *orders.Service, status orders.Status) orders.Order {
	t.Helper()
	o, _, err := svc.Create(t.Context(), orders.Anyone, orders.CreateRequest{Order: orders.NewOrder{CustomerName: "Ada", Item: "book", Quantity: 2}})
	if err != nil {
		t.Fatalf("cannot seed order: %v", err)
	}
	if status != "" && status != o.Status {
		if o, _, err = svc.UpdateStatus(t.Context(), orders.Anyone, o.ID, status, nil); err != nil {
			t.Fatalf("cannot move seeded order to %s: %v", status, err)
		}
	}
	return o
}

// do sends one request through e and checks the response against the
// OpenAPI document, so every handler test also tests the document.
func do(t *testing.T, e http.Handler, method, target, body string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	validateResponse(t, method, target, rec)
	return rec
}

// openAPI is the embedded document, loaded and validated once for every
// test of the package.
var openAPI = openapitest.Once(openAPIDocument)

func validateResponse(t *testing.T, method, target string, rec *httptest.ResponseRecorder) {
	t.Helper()
	openAPI(t).Validate(t, method, target, rec)
}

// jsonObject decodes a JSON object response, numbers kept as json.Number so
// that they print as sent.
func jsonObject(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("response body %q is not a JSON object: %v", rec.Body, err)
	}
	return m
}

// apiCase is one request of a handler table test.
type apiCase struct {
	name string
	// seed, when set, creates an order in that status first; "{id}" in path
	// stands for its id.
	seed   orders.Status
	method string
	path   string
	body   string
	header map[string]string

	wantCode int
	// want lists top-level fields of the JSON response and their values,
	// compared as printed.
	want map[string]any
	// wantFields lists the fields a validation error must name, in the
	// legacy "fields" or the problem's "errors".
	wantFields []string
	// wantHeader lists response headers and their values.
	wantHeader map[string]string
	// wantDetail is a substring of the legacy message or problem detail.
	wantDetail string
}

// run executes the cases against one engine, each on a freshly seeded order.
func runCases(t *testing.T, svc *orders.Service, cases []apiCase) {
	t.Helper()
	e := newEngine(svc)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if tc.seed != "" {
				o := seedOrder(t, svc, tc.seed)
				path = strings.ReplaceAll(path, "{id}", strconv.FormatInt(o.ID, 10))
			}
			rec := do(t, e, tc.method, path, tc.body, tc.header)
			if rec.Code != tc.wantCode {
				t.Fatalf("got status %d, want %d; body %s", rec.Code, tc.wantCode, rec.Body)
			}
			for k, want := range tc.wantHeader {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("got header %s %q, want %q", k, got, want)
				}
			}
			if rec.Code >= 400 {
				checkError(t, rec, path, tc.wantFields, tc.wantDetail)
			}
			if len(tc.want) == 0 {
				return
			}
			m := jsonObject(t, rec)
			for k, want := range tc.want {
				if got := fmt.Sprint(m[k]); got != fmt.Sprint(want) {
					t.Errorf("got %s %s, want %v", k, got, want)
				}
			}
		})
	}
}

// checkError checks the shape every error body shares, in either format:
// the original API's plain text (the message alone, naming each invalid
// field) or problem+json.
func checkError(t *testing.T, rec *httptest.ResponseRecorder, path string, wantFields []string, wantDetail string) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct == httpapi.PlainTextType {
		text := rec.Body.String()
		if text == "" || !strings.Contains(text, wantDetail) {
			t.Errorf("got body %q, want a message containing %q", text, wantDetail)
		}
		for _, want := range wantFields {
			if !strings.Contains(text, want) {
				t.Errorf("got body %q, want it to name the field %q", text, want)
			}
		}
		return
	} else if !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("got Content-Type %q, want %s or application/problem+json", ct, httpapi.PlainTextType)
	}
	m := jsonObject(t, rec)
	detailKey, fieldsKey, pathKey := "detail", "errors", "instance"
	if got := fmt.Sprint(m["status"]); got != strconv.Itoa(rec.Code) {
		t.Errorf("got body status %s, want %d", got, rec.Code)
	}
	if got := fmt.Sprint(m[pathKey]); got != strings.Split(path, "?")[0] {
		t.Errorf("got %s %s, want %s", pathKey, got, path)
	}
	detail, _ := m[detailKey].(string)
	if detail == "" {
		t.Errorf("got empty %s, want a description of the problem", detailKey)
	}
	if !strings.Contains(detail, wantDetail) {
		t.Errorf("got %s %q, want it to contain %q", detailKey, detail, wantDetail)
	}
	var got []string
	list, _ := m[fieldsKey].([]any)
	for _, f := range list {
		if f, ok := f.(map[string]any); ok {
			got = append(got, fmt.Sprint(f["field"]))
		}
	}
	for _, want := range wantFields {
		if !slices.Contains(got, want) {
			t.Errorf("got invalid fields %v, want %q among them", got, want)
		}
	}
}
