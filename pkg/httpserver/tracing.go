package httpserver

import (
	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/order-tracking/platform/pkg/tracing"
)

// traceRequests starts a server span for each request, continuing the
// caller's trace when its headers carry one (W3C traceparent), and puts
// the span in the request context for everything downstream: handlers,
// database calls, log lines. The tracer and propagator are the global ones
// that tracing.Setup configures. When nothing is recorded
// (tracing.Enabled is false) it only carries the caller's trace context
// on: a span that is never recorded would still cost each request about a
// tenth of orders-service's CPU (measured under GET load), and downstream
// sees the same trace context either way.
func traceRequests() gin.HandlerFunc {
	if !tracing.Enabled() {
		return carryTraceContext()
	}
	return otelgin.Middleware("",
		// The span name is the route template, as in the metrics' uri
		// label, so spans group by endpoint rather than by order id.
		otelgin.WithSpanNameFormatter(func(c *gin.Context) string {
			if c.FullPath() == "" {
				return methodLabel(c.Request.Method)
			}
			return methodLabel(c.Request.Method) + " " + routeTemplate(c.FullPath())
		}),
		// Probes and scrapes would each make a trace of their own, every
		// few seconds, and drown the ones worth reading.
		otelgin.WithGinFilter(func(c *gin.Context) bool { return !quietPaths[c.FullPath()] }),
	)
}

// carryTraceContext puts the trace context of the request's headers, if
// any, in its context: what a non-recording server span would carry. The
// propagators return the context unchanged when the headers carry none.
func carryTraceContext() gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		if carried := otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(c.Request.Header)); carried != ctx {
			c.Request = c.Request.WithContext(carried)
		}
		c.Next()
	}
}
