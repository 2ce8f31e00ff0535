package httpserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/order-tracking/platform/pkg/testinfra"
)

// TestRequestSpans checks that a request is a server span named after its
// route template, continuing the caller's trace, that its access log line
// names that span, and that probes and scrapes make no span.
func TestRequestSpans(t *testing.T) {
	exp := testinfra.RecordSpans(t)

	s, logs := newTestServer(t)
	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	caller := http.Header{"Traceparent": {"00-" + traceID + "-" + callerSpan + "-01"}}
	if rec := do(t, s.Handler(), "GET", "/orders/fetchOrder/7", caller); rec.Code != http.StatusOK {
		t.Fatalf("got status %d, want 200", rec.Code)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		do(t, s.Handler(), "GET", path, nil)
	}

	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("got %d spans %v, want 1: probes and scrapes are not traced", len(spans), spans.Snapshots())
	}
	sp := spans[0]
	if sp.Name != "GET /orders/fetchOrder/{id}" || sp.SpanKind != trace.SpanKindServer {
		t.Errorf("got span %q of kind %v, want server span %q", sp.Name, sp.SpanKind, "GET /orders/fetchOrder/{id}")
	}
	if sp.SpanContext.TraceID().String() != traceID || sp.Parent.SpanID().String() != callerSpan {
		t.Errorf("got trace %s parent %s, want the caller's trace %s and span %s",
			sp.SpanContext.TraceID(), sp.Parent.SpanID(), traceID, callerSpan)
	}

	var line map[string]any
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `"route":"/orders/fetchOrder/{id}"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line["trace_id"] != traceID || line["span_id"] != sp.SpanContext.SpanID().String() {
		t.Errorf("got access log trace_id %v span_id %v, want %s and %s", line["trace_id"], line["span_id"], traceID, sp.SpanContext.SpanID())
	}
}

// TestTracingOffCarriesCallerContext: with nothing recorded no span is
// made, but the caller's trace context still reaches the handler and the
// access log, so that what the request causes (outbox rows, Kafka
// headers) continues the caller's trace.
func TestTracingOffCarriesCallerContext(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{}) // as tracing.Setup does
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	s, logs := newTestServer(t)
	var seen trace.SpanContext
	s.Router().GET("/seen", func(c *gin.Context) {
		seen = trace.SpanContextFromContext(c.Request.Context())
		c.Status(http.StatusNoContent)
	})
	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tests := []struct {
		name      string
		header    http.Header
		wantTrace string // "" means no trace context
	}{
		{"caller in a trace", http.Header{"Traceparent": {"00-" + traceID + "-" + callerSpan + "-01"}}, traceID},
		{"caller in none", nil, ""},
		{"malformed traceparent", http.Header{"Traceparent": {"00-zz-00-01"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen = trace.SpanContext{}
			logs.Reset()
			do(t, s.Handler(), "GET", "/seen", tt.header)
			if tt.wantTrace == "" {
				if seen.IsValid() {
					t.Errorf("got trace context %v, want none", seen)
				}
				return
			}
			if seen.TraceID().String() != traceID || seen.SpanID().String() != callerSpan || !seen.IsRemote() {
				t.Errorf("got trace %s span %s remote %v, want the caller's %s %s", seen.TraceID(), seen.SpanID(), seen.IsRemote(), traceID, callerSpan)
			}
			if !strings.Contains(logs.String(), `"trace_id":"`+traceID+`"`) {
				t.Errorf("access log %s does not name the caller's trace", logs.String())
			}
		})
	}
}
