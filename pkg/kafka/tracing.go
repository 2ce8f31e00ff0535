package kafka

import (
	"context"
	"strconv"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// instrumentationName is the tracer's scope: this package.
const instrumentationName = "github.com/order-tracking/platform/pkg/kafka"

// Span names follow the messaging conventions, "{operation} {destination}":
// "publish order-events" and "process order-events".
const (
	operationPublish = "publish"
	operationProcess = "process"
)

// traceHeaders are the W3C Trace Context headers; a span's context
// replaces both, so a tracestate of another trace never lingers.
var traceHeaders = []string{"traceparent", "tracestate"}

// telemetry is the tracer and propagator of a Producer or Consumer.
// confluent-kafka-go has no instrumentation, so spans and headers are made
// here, by hand, after the OpenTelemetry messaging conventions.
type telemetry struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// newTelemetry uses the global tracer provider and propagator, which
// tracing.Setup configures; both are no-ops until then.
func newTelemetry() telemetry {
	return telemetry{tracer: otel.Tracer(instrumentationName), prop: otel.GetTextMapPropagator()}
}

// startPublish starts the producer span of the message whose headers are
// *hs and writes the span's context into them. When the headers already
// carry a trace context (the request that wrote an outbox row), the span
// continues that trace, linked to the span in ctx (the relay's batch);
// otherwise it is a child of ctx.
func (t telemetry) startPublish(ctx context.Context, topic string, key []byte, hs *[]Header) trace.Span {
	parent := ctx
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(messageAttrs(operationPublish, semconv.MessagingOperationTypeSend, topic, key)...),
	}
	hctx := t.prop.Extract(context.Background(), headerCarrier{hs})
	if carried := trace.SpanContextFromContext(hctx); carried.IsValid() {
		parent = trace.ContextWithRemoteSpanContext(ctx, carried)
		if b := baggage.FromContext(hctx); b.Len() > 0 {
			parent = baggage.ContextWithBaggage(parent, b)
		}
		// No link when ctx's span is the one carried (a dead-letter copy).
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && sc.SpanID() != carried.SpanID() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
		}
	}
	sctx, span := t.tracer.Start(parent, operationPublish+" "+topic, opts...)
	t.inject(sctx, hs)
	return span
}

// endPublish ends a producer span with the broker's answer.
func endPublish(span trace.Span, partition int32, offset int64, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	} else {
		span.SetAttributes(
			semconv.MessagingDestinationPartitionID(strconv.FormatInt(int64(partition), 10)),
			semconv.MessagingKafkaOffset(int(offset)),
		)
	}
	span.End()
}

// startProcess starts the consumer span of m: a child of the producer span
// its headers name, with a link to it as well (the conventions' way to tie
// a consumer to the message's creation, which stays meaningful for backends
// that show links only). The returned context carries the span, and the
// message's baggage, for the handler.
func (t telemetry) startProcess(ctx context.Context, group string, m Message) (context.Context, trace.Span) {
	ctx = t.prop.Extract(ctx, headerCarrier{&m.Headers})
	attrs := append(messageAttrs(operationProcess, semconv.MessagingOperationTypeProcess, m.Topic, m.Key),
		semconv.MessagingConsumerGroupName(group),
		semconv.MessagingDestinationPartitionID(strconv.FormatInt(int64(m.Partition), 10)),
		semconv.MessagingKafkaOffset(int(m.Offset)),
		semconv.MessagingMessageBodySize(len(m.Value)),
	)
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...)}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	return t.tracer.Start(ctx, operationProcess+" "+m.Topic, opts...)
}

// inject replaces the trace headers in *hs with the context of the span
// in ctx. Without a valid span there is nothing to say, and the headers
// are left as they are.
func (t telemetry) inject(ctx context.Context, hs *[]Header) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	c := headerCarrier{hs}
	for _, k := range traceHeaders {
		c.del(k)
	}
	t.prop.Inject(ctx, c)
}

func messageAttrs(operation string, opType attribute.KeyValue, topic string, key []byte) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		semconv.MessagingSystemKafka,
		semconv.MessagingDestinationName(topic),
		semconv.MessagingOperationName(operation),
		opType,
	}
	// The conventions want the key only when it is text; ours are order ids.
	if len(key) > 0 && utf8.Valid(key) {
		attrs = append(attrs, semconv.MessagingKafkaMessageKey(string(key)))
	}
	return attrs
}

// headerCarrier lets a propagator read and write Kafka headers.
type headerCarrier struct{ hs *[]Header }

var _ propagation.TextMapCarrier = headerCarrier{}

// Get returns the last header named key, as events.Decode does with a
// repeated header.
func (c headerCarrier) Get(key string) string {
	for i := len(*c.hs) - 1; i >= 0; i-- {
		if (*c.hs)[i].Key == key {
			return string((*c.hs)[i].Value)
		}
	}
	return ""
}

// Set replaces every header named key with one of value.
func (c headerCarrier) Set(key, value string) {
	c.del(key)
	*c.hs = append(*c.hs, Header{Key: key, Value: []byte(value)})
}

// Keys lists the header names.
func (c headerCarrier) Keys() []string {
	keys := make([]string, len(*c.hs))
	for i, h := range *c.hs {
		keys[i] = h.Key
	}
	return keys
}

// del removes the headers named key. It builds a new slice: the old one
// may be shared with the caller's Message.
func (c headerCarrier) del(key string) {
	kept := make([]Header, 0, len(*c.hs))
	for _, h := range *c.hs {
		if h.Key != key {
			kept = append(kept, h)
		}
	}
	*c.hs = kept
}
