package httpserver

import (
	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
)

// traceRequests starts a server span for each request, continuing the
// caller's trace when its headers carry one (W3C traceparent), and puts
// the span in the request context for everything downstream: handlers,
// database calls, log lines. The tracer and propagator are the global ones
// that tracing.Setup configures; without it the spans are no-ops.
func traceRequests() gin.HandlerFunc {
	return otelgin.Middleware("",
		// The span name is the route template, as in the metrics' uri
		// label, so spans group by endpoint rather than by order id.
		otelgin.WithSpanNameFormatter(func(c *gin.Context) string {
			if c.FullPath() == "" {
				return c.Request.Method
			}
			return c.Request.Method + " " + routeTemplate(c.FullPath())
		}),
		// Probes and scrapes would each make a trace of their own, every
		// few seconds, and drown the ones worth reading.
		otelgin.WithGinFilter(func(c *gin.Context) bool { return !quietPaths[c.FullPath()] }),
	)
}
