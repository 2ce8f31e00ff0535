package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

func init() { gin.SetMode(gin.TestMode) }

// serve runs h as the handler of GET pattern and returns the response to
// GET target.
func serve(t *testing.T, pattern, target string, h gin.HandlerFunc) *httptest.ResponseRecorder {
	t.Helper()
	e := gin.New()
	e.GET(pattern, h)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, target, nil))
	return rec
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name        string
		contentType string // set before Encode, "" for none
		status      int
		v           any
		wantType    string
		wantBody    string
	}{
		{name: "object", status: 200, v: struct {
			B int    `json:"b"`
			A string `json:"a"`
		}{1, "x"}, wantType: "application/json; charset=utf-8", wantBody: `{"b":1,"a":"x"}`},
		{name: "empty list is not null", status: 200, v: []int{}, wantType: "application/json; charset=utf-8", wantBody: `[]`},
		{name: "status is kept", status: 201, v: map[string]int{"id": 7}, wantType: "application/json; charset=utf-8", wantBody: `{"id":7}`},
		{name: "content type set before is kept", contentType: "application/problem+json", status: 404, v: map[string]int{"status": 404},
			wantType: "application/problem+json", wantBody: `{"status":404}`},
		{name: "HTML is escaped as encoding/json does", status: 200, v: "<a&b>", wantType: "application/json; charset=utf-8", wantBody: `"\u003ca\u0026b\u003e"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, "/", "/", func(c *gin.Context) {
				if tc.contentType != "" {
					c.Header("Content-Type", tc.contentType)
				}
				Encode(c, tc.status, tc.v)
			})
			if rec.Code != tc.status {
				t.Errorf("got status %d, want %d", rec.Code, tc.status)
			}
			if got := rec.Header().Get("Content-Type"); got != tc.wantType {
				t.Errorf("got Content-Type %q, want %q", got, tc.wantType)
			}
			if got := rec.Body.String(); got != tc.wantBody {
				t.Errorf("got body %s, want %s", got, tc.wantBody)
			}
		})
	}
}

// TestEncodeMatchesGin makes sure that switching a handler from gin's
// c.JSON to Encode changes no byte of its answer.
func TestEncodeMatchesGin(t *testing.T) {
	v := gin.H{"status": "ok", "checks": map[string]string{"redis": "ok", "a": "<down>"}}
	want := serve(t, "/", "/", func(c *gin.Context) { c.JSON(http.StatusServiceUnavailable, v) })
	got := serve(t, "/", "/", func(c *gin.Context) { Encode(c, http.StatusServiceUnavailable, v) })
	if got.Code != want.Code || got.Body.String() != want.Body.String() ||
		got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
		t.Errorf("got %d %q %s, want gin's %d %q %s", got.Code, got.Header().Get("Content-Type"), got.Body,
			want.Code, want.Header().Get("Content-Type"), want.Body)
	}
}

func TestEncodePanicsOnUnencodable(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "cannot encode response") {
			t.Errorf("got panic %v, want cannot encode response", r)
		}
	}()
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	Encode(c, http.StatusOK, func() {})
}

// Domain errors of a service under test.
var (
	errGone        = errors.New("thing not found")
	errUnavailable = errors.New("store unavailable")
)

type conflictError struct{ current string }

func (e *conflictError) Error() string { return "cannot change thing in state " + e.current }

// extended is a service's problem with an extension member.
type extended struct {
	Problem
	CurrentState string `json:"currentState,omitempty"`
}

func mapTestError(err error) Body {
	var conflict *conflictError
	switch {
	case errors.Is(err, errGone):
		return &Problem{Type: "/problems/not-found", Title: "Thing not found", Status: http.StatusNotFound, Detail: "thing not found"}
	case errors.As(err, &conflict):
		return &extended{Problem: Problem{Type: "/problems/conflict", Title: "Conflict", Status: http.StatusConflict, Detail: conflict.Error()}, CurrentState: conflict.current}
	case errors.Is(err, errUnavailable):
		return &Problem{Status: http.StatusServiceUnavailable, Detail: "try again later"}
	}
	return nil
}

func TestResponderError(t *testing.T) {
	tooLarge := fmt.Errorf("cannot read body: %w", &http.MaxBytesError{Limit: 64})
	tests := []struct {
		name       string
		target     string // the request, routed as /things/:id
		err        error
		wantStatus int
		// wantProblem and wantText are the exact bodies of each renderer.
		wantProblem string
		wantText    string
		wantHeader  map[string]string
		wantLogged  bool
	}{
		{name: "request error", target: "/things/x", err: fmt.Errorf("bad id: %w", &RequestError{Detail: `id must be a number, not "x"`}),
			wantStatus:  400,
			wantProblem: `{"type":"/problems/invalid-request","title":"Invalid request","status":400,"detail":"id must be a number, not \"x\"","instance":"/things/x"}`,
			wantText:    "id must be a number, not \"x\""},
		{name: "request error with fields", target: "/things/1", err: &RequestError{Detail: "invalid request: name is required", Fields: []FieldError{{Field: "name", Message: "is required"}}},
			wantStatus:  400,
			wantProblem: `{"type":"/problems/invalid-request","title":"Invalid request","status":400,"detail":"invalid request: name is required","instance":"/things/1","errors":[{"field":"name","message":"is required"}]}`,
			wantText:    "invalid request: name is required"},
		{name: "body too large", target: "/things/1", err: tooLarge, wantStatus: 413,
			wantProblem: `{"type":"/problems/body-too-large","title":"Request body too large","status":413,"detail":"request body must be at most 64 bytes","instance":"/things/1"}`,
			wantText:    "request body must be at most 64 bytes"},
		{name: "not found names the id", target: "/things/007", err: fmt.Errorf("cannot get: %w", errGone), wantStatus: 404,
			wantProblem: `{"type":"/problems/not-found","title":"Thing not found","status":404,"detail":"thing 7 not found","instance":"/things/007"}`,
			wantText:    "thing 7 not found"},
		{name: "not found without an integer id", target: "/things/seven", err: errGone, wantStatus: 404,
			wantProblem: `{"type":"/problems/not-found","title":"Thing not found","status":404,"detail":"thing not found","instance":"/things/seven"}`,
			wantText:    "thing not found"},
		{name: "extension member", target: "/things/1", err: &conflictError{current: "DONE"}, wantStatus: 409,
			wantProblem: `{"type":"/problems/conflict","title":"Conflict","status":409,"detail":"cannot change thing in state DONE","instance":"/things/1","currentState":"DONE"}`,
			wantText:    "cannot change thing in state DONE"},
		{name: "503 says when to retry", target: "/things/1", err: fmt.Errorf("cannot get: %w", errUnavailable), wantStatus: 503,
			wantProblem: `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"try again later","instance":"/things/1"}`,
			wantText:    "try again later",
			wantHeader:  map[string]string{"Retry-After": "5"}, wantLogged: true},
		{name: "refusal carries its status and headers", target: "/things/1",
			err: fmt.Errorf("cannot get: %w", &StatusError{Status: 401, Detail: "a bearer token is required",
				Header: http.Header{"Www-Authenticate": {`Bearer realm="things"`}}}), wantStatus: 401,
			wantProblem: `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"a bearer token is required","instance":"/things/1"}`,
			wantText:    "a bearer token is required",
			wantHeader:  map[string]string{"WWW-Authenticate": `Bearer realm="things"`, "Retry-After": ""}},
		{name: "a refusal's own Retry-After wins", target: "/things/1",
			err: &StatusError{Status: 503, Type: "/problems/x", Title: "Identity provider unavailable", Detail: "retry",
				Header: http.Header{"Retry-After": {"9"}}}, wantStatus: 503,
			wantProblem: `{"type":"/problems/x","title":"Identity provider unavailable","status":503,"detail":"retry","instance":"/things/1"}`,
			wantText:    "retry",
			wantHeader:  map[string]string{"Retry-After": "9"}, wantLogged: true},
		{name: "unknown error is a 500 without its text", target: "/things/1", err: errors.New("dial tcp 10.0.0.1:5432: secret"), wantStatus: 500,
			wantProblem: `{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"internal server error","instance":"/things/1"}`,
			wantText:    "Internal Server Error",
			wantHeader:  map[string]string{"Retry-After": ""}, wantLogged: true},
	}
	renderers := []struct {
		name     string
		render   Renderer
		wantType string
	}{
		{name: "problem+json", render: ProblemJSON, wantType: "application/problem+json"},
		{name: "plain text", render: PlainText, wantType: "text/plain;charset=UTF-8"},
	}
	for _, r := range renderers {
		for _, tc := range tests {
			t.Run(r.name+"/"+tc.name, func(t *testing.T) {
				var logs bytes.Buffer
				resp := Responder{
					Log:    slog.New(slog.NewTextHandler(&logs, nil)),
					Render: r.render, Map: mapTestError,
					Resource: "thing", IDParam: "id", RetryAfter: 5 * time.Second,
				}
				rec := serve(t, "/things/:id", tc.target, func(c *gin.Context) { resp.Error(c, tc.err) })
				if rec.Code != tc.wantStatus {
					t.Errorf("got status %d, want %d", rec.Code, tc.wantStatus)
				}
				if got := rec.Header().Get("Content-Type"); got != r.wantType {
					t.Errorf("got Content-Type %q, want %q", got, r.wantType)
				}
				for k, want := range tc.wantHeader {
					if got := rec.Header().Get(k); got != want {
						t.Errorf("got %s %q, want %q", k, got, want)
					}
				}
				want, got := tc.wantProblem, rec.Body.String()
				if r.wantType != "application/problem+json" {
					want = tc.wantText
				}
				if got != want {
					t.Errorf("got body\n%s\nwant\n%s", got, want)
				}
				logged := strings.Contains(logs.String(), "level=ERROR") && strings.Contains(logs.String(), "request failed")
				if logged != tc.wantLogged {
					t.Errorf("got logged %t (%q), want %t", logged, logs.String(), tc.wantLogged)
				}
				if tc.wantLogged && !strings.Contains(logs.String(), tc.err.Error()) {
					t.Errorf("got log %q, want the cause %q in it", logs.String(), tc.err)
				}
			})
		}
	}
}

// The original API's 404 named the order in a sentence of its own.
func TestNotFoundFormat(t *testing.T) {
	resp := Responder{Log: slog.New(slog.DiscardHandler), Render: PlainText, Map: mapTestError,
		Resource: "order", IDParam: "id", NotFound: "The order with id: %d doesn't exist"}
	tests := []struct{ target, want string }{
		{target: "/orders/999", want: "The order with id: 999 doesn't exist"},
		{target: "/orders/0042", want: "The order with id: 42 doesn't exist"},
		{target: "/orders/trk_x", want: "thing not found"},
	}
	for _, tc := range tests {
		rec := serve(t, "/orders/:id", tc.target, func(c *gin.Context) { resp.Error(c, errGone) })
		if rec.Code != http.StatusNotFound || rec.Body.String() != tc.want {
			t.Errorf("%s: got %d %q, want 404 %q", tc.target, rec.Code, rec.Body, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name       string
		m          Mapper
		err        error
		wantStatus int
		wantType   string
		wantTitle  string
	}{
		{name: "nil mapper knows request errors", err: &RequestError{Detail: "x"}, wantStatus: 400, wantType: TypeInvalidRequest, wantTitle: "Invalid request"},
		{name: "nil mapper makes the rest a 500", err: errGone, wantStatus: 500, wantType: TypeBlank, wantTitle: "Internal Server Error"},
		{name: "mapper's entry", m: mapTestError, err: errGone, wantStatus: 404, wantType: "/problems/not-found", wantTitle: "Thing not found"},
		{name: "status only gets blank type and status text", m: mapTestError, err: errUnavailable, wantStatus: 503, wantType: TypeBlank, wantTitle: "Service Unavailable"},
		{name: "shared entries come first", m: func(error) Body { return &Problem{Status: http.StatusTeapot} }, err: &RequestError{Detail: "x"}, wantStatus: 400, wantType: TypeInvalidRequest, wantTitle: "Invalid request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Describe(tc.m, tc.err).Core()
			if p.Status != tc.wantStatus || p.Type != tc.wantType || p.Title != tc.wantTitle {
				t.Errorf("got %d %q %q, want %d %q %q", p.Status, p.Type, p.Title, tc.wantStatus, tc.wantType, tc.wantTitle)
			}
			if p.Instance != "" {
				t.Errorf("got instance %q, want it left to the writer", p.Instance)
			}
		})
	}
}

func TestRequireJSON(t *testing.T) {
	tests := []struct {
		contentType string
		want        int
	}{
		{"application/json", 204},
		{"application/json; charset=utf-8", 204},
		{"Application/JSON", 204},
		{"application/merge-patch+json", 204},
		{"text/plain", 415},
		{"application/x-www-form-urlencoded", 415},
		{"", 415},
		{"application/json;;", 415},
	}
	for _, tc := range tests {
		t.Run(tc.contentType, func(t *testing.T) {
			resp := Responder{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Render: ProblemJSON}
			gin.SetMode(gin.ReleaseMode)
			r := gin.New()
			r.POST("/x", resp.Guard(RequireJSON), func(c *gin.Context) { c.Status(204) })
			req := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(`{}`))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("got %d, want %d", rec.Code, tc.want)
			}
		})
	}
}

// A handler that panics is answered in its group's shape.
func TestHandlePanic(t *testing.T) {
	tests := []struct {
		name             string
		render           Renderer
		wantType, wantIn string
	}{
		{name: "plain text", render: PlainText, wantType: PlainTextType, wantIn: "Internal Server Error"},
		{name: "problem+json", render: ProblemJSON, wantType: "application/problem+json", wantIn: `"status":500`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			resp := Responder{Log: slog.New(slog.NewTextHandler(&logs, nil)), Render: tc.render}
			rec := serve(t, "/things/:id", "/things/1", resp.Handle(func(*gin.Context) error { panic("nil map: secret") }))
			if rec.Code != 500 || rec.Header().Get("Content-Type") != tc.wantType || !strings.Contains(rec.Body.String(), tc.wantIn) {
				t.Errorf("got %d %q %s, want 500 %s with %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body, tc.wantType, tc.wantIn)
			}
			if tc.wantType == PlainTextType && rec.Body.String() != "Internal Server Error" {
				t.Errorf("got body %q, want exactly Internal Server Error", rec.Body)
			}
			if strings.Contains(rec.Body.String(), "secret") || !strings.Contains(logs.String(), "nil map: secret") {
				t.Errorf("got body %s and log %s, want the panic logged and not shown", rec.Body, logs.String())
			}
		})
	}
}
