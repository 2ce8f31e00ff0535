package tracing

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// HeaderTraceparent is the W3C Trace Context header naming a span.
const HeaderTraceparent = "traceparent"

// Traceparent returns the W3C traceparent of the span in ctx, for storing
// it where a context cannot go (an outbox row), or "" when ctx carries no
// valid span context.
func Traceparent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c[HeaderTraceparent]
}

// SpanContextFromTraceparent parses a W3C traceparent; the result is
// invalid (IsValid false) when tp is empty or malformed.
func SpanContextFromTraceparent(tp string) trace.SpanContext {
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{HeaderTraceparent: tp})
	return trace.SpanContextFromContext(ctx)
}

// ChildSpansOnly wraps tp so that its tracers start a span only inside a
// recording span, and otherwise start none. Give it to the instrumentation
// of clients that are also called outside any request or message, by
// readiness probes, consumer gates or polling loops: their calls then show
// in the traces they are part of, and do not make one root trace each.
func ChildSpansOnly(tp trace.TracerProvider) trace.TracerProvider {
	return childSpansOnly{tp: tp}
}

type childSpansOnly struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (p childSpansOnly) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childTracer{t: p.tp.Tracer(name, opts...)}
}

type childTracer struct {
	embedded.Tracer
	t trace.Tracer
}

func (t childTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		// SpanFromContext of an empty context is a no-op span; ctx is
		// returned as is, so the caller's span stays the current one.
		return ctx, trace.SpanFromContext(context.Background())
	}
	return t.t.Start(ctx, name, opts...)
}
