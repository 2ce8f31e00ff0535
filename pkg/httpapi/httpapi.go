// Package httpapi is what the HTTP edge of every service shares once its
// routes are registered: one JSON encoder, one error writer with one error
// table, and the two error body shapes the services answer in, RFC 9457
// problem+json and the original system's Spring Boot error. pkg/httpserver
// stays the bootstrap (engine, middleware, probes); a service's own routes
// and handlers stay in the service.
//
// A service lists its domain errors in a Mapper and builds a Responder per
// route group, choosing the body shape there rather than in each handler:
//
//	v1 := httpapi.Responder{Log: log, Render: httpapi.ProblemJSON, Map: mapError}
//	r.GET("/api/v1/orders/:id", v1.Handle(handleGet(svc)))
//
// and a handler returns its errors for the Responder to answer.
package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// JSONContentType is what Encode sends when the caller chose no other type.
// It is the value gin's own c.JSON sends, so that answers written by gin
// (pkg/httpserver's, say) and by Encode cannot be told apart.
const JSONContentType = "application/json; charset=utf-8"

// Encode writes v as JSON with status. A Content-Type set before, such as
// application/problem+json, is kept; otherwise it is JSON in UTF-8.
//
// The body is marshalled whole before anything is written, so a value that
// does not marshal never leaves half a response behind.
func Encode(c *gin.Context, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own response types reach here, all of which marshal; a
		// failure is a programming error, not something to tell the client.
		// pkg/httpserver's recovery turns the panic into a logged 500.
		panic(fmt.Sprintf("cannot encode response: %v", err))
	}
	if c.Writer.Header().Get("Content-Type") == "" {
		c.Header("Content-Type", JSONContentType)
	}
	c.Status(status)
	_, _ = c.Writer.Write(body)
}

// Read is the handler of a plain read by id, the commonest route of the
// services: id reads the id from the request (its error is the client's),
// load fetches what it names, and view is the answer's JSON shape, sent
// with 200.
func Read[T, V any](id func(*gin.Context) (int64, error), load func(context.Context, int64) (T, error), view func(T) V) HandlerFunc {
	return func(c *gin.Context) error {
		n, err := id(c)
		if err != nil {
			return err
		}
		v, err := load(c.Request.Context(), n)
		if err != nil {
			return err
		}
		Encode(c, http.StatusOK, view(v))
		return nil
	}
}

// RequireJSON refuses, with 415, a request whose body is not declared as
// JSON (application/json, or a +json type), as the original Spring
// services did. Beyond telling a client its mistake, it keeps web pages
// of other origins out: a browser sends a cross-origin JSON body only
// after a CORS preflight, which the service answers only for origins it
// allows, while a text/plain body goes without asking.
func RequireJSON(c *gin.Context) error {
	ct := c.GetHeader("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return nil
	}
	if ct == "" {
		ct = "none"
	}
	return &StatusError{
		Status: http.StatusUnsupportedMediaType, Type: "/problems/unsupported-media-type", Title: "Unsupported media type",
		Detail: "request body must be JSON, sent with Content-Type: application/json; got Content-Type " + ct,
	}
}
