package httpserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/pkg/logging"
)

// RequestIDHeader carries the request ID in requests and responses.
const RequestIDHeader = "X-Request-ID"

// maxRequestIDLen bounds an incoming request ID; anything longer is
// replaced, so a client cannot stuff our logs with arbitrary data.
const maxRequestIDLen = 128

// requestID keeps the caller's X-Request-ID when it is sane, so one ID
// follows a request across services, and makes a new one otherwise. The ID
// is echoed on the response and stored in the request context for logs.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		c.Header(RequestIDHeader, id)
		c.Request = c.Request.WithContext(logging.WithRequestID(c.Request.Context(), id))
		c.Next()
	}
}

// validRequestID accepts 1 to 128 printable ASCII characters: no control
// characters that could forge log lines, no spaces that break log parsing.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// recovery turns a panic in a handler into a 500 with a JSON body. The
// panic value and stack go to the log only: they can hold internal details
// that must not reach the client, who gets the request ID to quote instead.
func recovery(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				// The handler's way to drop the connection on purpose;
				// net/http handles it silently, so let it through.
				panic(r)
			}
			ctx := c.Request.Context()
			logger.ErrorContext(ctx, "panic while handling request",
				"panic", fmt.Sprint(r),
				"stack", string(debug.Stack()),
				"method", c.Request.Method,
				"path", c.Request.URL.Path,
			)
			if c.Writer.Written() {
				// Headers are already out; all we can do is stop.
				c.Abort()
				return
			}
			c.Abort()
			httpapi.Encode(c, http.StatusInternalServerError, gin.H{
				"error":     "internal server error",
				"requestId": logging.RequestID(ctx),
			})
		}()
		c.Next()
	}
}

// quietPaths are polled by Kubernetes and Prometheus every few seconds;
// their access log lines go to debug so they do not drown the rest.
var quietPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, ActuatorHealthPath: true, ActuatorPrometheusPath: true}

// observe records each request in the duration histogram and writes one
// access log line for it, after the rest of the chain has run.
func observe(hist *prometheus.HistogramVec, logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		elapsed := time.Since(start)

		status := c.Writer.Status()
		route := routeTemplate(c.FullPath())
		hist.WithLabelValues(methodLabel(c.Request.Method), route, strconv.Itoa(status)).Observe(elapsed.Seconds())

		level := slog.LevelInfo
		if quietPaths[c.FullPath()] {
			level = slog.LevelDebug
		}
		logger.LogAttrs(c.Request.Context(), level, "http request",
			slog.String("method", c.Request.Method),
			slog.String("path", c.Request.URL.Path),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Int("bytes", c.Writer.Size()),
			slog.Duration("duration", elapsed),
			slog.String("client_ip", c.ClientIP()),
		)
	}
}
