package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// Renderer writes a described error, complete with status and instance, as
// the response body in one shape. ProblemJSON and PlainText are the two
// the services speak; a Responder names one per route group.
type Renderer func(c *gin.Context, b Body)

// ProblemJSON renders b as application/problem+json (RFC 9457), extension
// members included.
func ProblemJSON(c *gin.Context, b Body) {
	c.Header("Content-Type", "application/problem+json")
	Encode(c, b.Core().Status, b)
}

// PlainText renders b as the original Spring Boot system answered its
// errors, which its clients read as they are: the message alone as
// text/plain;charset=UTF-8 (what Spring MVC sends for a String body), and
// "Internal Server Error" for a 500, whose cause the client is not told.
// Field errors and extension members have no place in it.
func PlainText(c *gin.Context, b Body) {
	p := b.Core()
	msg := p.Detail
	if p.Status == http.StatusInternalServerError {
		msg = http.StatusText(p.Status)
	}
	c.Data(p.Status, PlainTextType, []byte(msg))
}

// OriginalNotFound is the original system's 404 body, as a Responder's
// NotFound format: orders-service and tracking-service both answered it.
const OriginalNotFound = "The order with id: %d doesn't exist"

// PlainTextType is the content type of PlainText's bodies, spelled as
// Spring MVC spells it.
const PlainTextType = "text/plain;charset=UTF-8"

// Responder answers the errors of one route group: one table (Describe with
// Map), one log policy, one body shape. Build one per group in the
// service's routes.go and hand it to the group's handlers.
type Responder struct {
	// Log receives every error answered with a 5xx, whose text the client
	// is not shown. Required.
	Log *slog.Logger
	// Render is the body shape: ProblemJSON or PlainText. Required.
	Render Renderer
	// Map lists the service's own errors; nil means it has none.
	Map Mapper
	// Resource and IDParam, when both set, name what a 404 did not find:
	// if the path parameter IDParam holds an integer, the detail becomes
	// "<Resource> <id> not found". Domain not-found errors carry no id;
	// the path does, and the original APIs named it.
	Resource, IDParam string
	// NotFound, when set, is that detail instead, a format with one %d
	// for the id: the original API's 404 said "The order with id: 7
	// doesn't exist".
	NotFound string
	// RetryAfter, when positive, is sent as Retry-After (in whole seconds)
	// with every 503, for services whose dependencies usually come back
	// within that time.
	RetryAfter time.Duration
}

// DefaultRetryAfter is what a 503 or a 429 of the services tells the
// client to wait when nothing better is known: a dependency restarting, a
// failover, a stream freeing up take seconds.
const DefaultRetryAfter = 5 * time.Second

// RetryAfter is a Retry-After header of d, in whole seconds.
func RetryAfter(d time.Duration) http.Header {
	return http.Header{"Retry-After": {strconv.FormatInt(int64(d/time.Second), 10)}}
}

// Guard adapts h to gin as a middleware: an error h returns is answered by
// Error and stops the chain; nil lets the request go on. Checks every route
// of a group shares (who is calling, how often) are guards, answered in
// the group's body shape.
func (r Responder) Guard(h HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			r.Error(c, err)
			c.Abort()
			return
		}
		c.Next()
	}
}

// HandlerFunc is a handler that returns its error instead of answering
// it, so that every error of a route group is answered in one place, by
// the group's Responder (see Handle). A handler that has started its answer
// (a stream) returns nil from then on.
type HandlerFunc func(c *gin.Context) error

// Handle adapts h to gin: an error h returns is answered by Error.
//
// A panic in h is answered here too, as a 500 in the group's shape (the
// original API's plain "Internal Server Error", or a problem), not in the
// engine's generic body: a client of one API meets one error shape. The
// engine's recovery still catches what panics outside handlers.
func (r Responder) Handle(h HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p) // the handler's way to drop the connection on purpose
			}
			r.Log.ErrorContext(c.Request.Context(), "panic while handling request",
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()), "method", c.Request.Method, "path", c.Request.URL.Path)
			c.Abort()
			if !c.Writer.Written() {
				r.Error(c, fmt.Errorf("handler panicked: %v", p))
			}
		}()
		if err := h(c); err != nil {
			r.Error(c, err)
		}
	}
}

// Error answers err for the request in c and logs what the client is not
// told. Handle calls it for every error a handler returns.
func (r Responder) Error(c *gin.Context, err error) {
	b := Describe(r.Map, err)
	p := b.Core()
	p.Instance = c.Request.URL.Path
	if p.Status == http.StatusNotFound && r.Resource != "" && r.IDParam != "" {
		if id, perr := strconv.ParseInt(c.Param(r.IDParam), 10, 64); perr == nil {
			// Formatted from the number, not copied from the path, so
			// that "+7" and "007" both read "7".
			if r.NotFound != "" {
				p.Detail = fmt.Sprintf(r.NotFound, id)
			} else {
				p.Detail = r.Resource + " " + strconv.FormatInt(id, 10) + " not found"
			}
		}
	}
	if p.Status >= http.StatusInternalServerError {
		r.Log.ErrorContext(c.Request.Context(), "request failed",
			"method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	}
	var refused *StatusError
	if errors.As(err, &refused) {
		for k, vs := range refused.Header {
			c.Writer.Header()[k] = vs
		}
	}
	if p.Status == http.StatusServiceUnavailable && r.RetryAfter > 0 && c.Writer.Header().Get("Retry-After") == "" {
		c.Header("Retry-After", RetryAfter(r.RetryAfter).Get("Retry-After"))
	}
	r.Render(c, b)
}
