package kafka

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/order-tracking/platform/pkg/testinfra"
	"github.com/order-tracking/platform/pkg/tracing"
)

// newTestTelemetry records every ended span, synchronously, in memory.
func newTestTelemetry(t *testing.T) (telemetry, *tracetest.InMemoryExporter, trace.Tracer) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	return telemetry{tracer: tp.Tracer(instrumentationName), prop: prop}, exp, tp.Tracer("test")
}

func spanNamed(t *testing.T, exp *tracetest.InMemoryExporter, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("got %d spans named %q, want 1 (spans: %v)", len(found), name, exp.GetSpans().Snapshots())
	}
	return found[0]
}

func attr(s tracetest.SpanStub, key attribute.Key) attribute.Value {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func headerValues(hs []Header, key string) []string {
	var vs []string
	for _, h := range hs {
		if h.Key == key {
			vs = append(vs, string(h.Value))
		}
	}
	return vs
}

// TestTraceThroughKafka follows one order change the way the platform
// carries it: a request span's traceparent stored with the outbox row, the
// relay publishing the row under its batch span, a consumer processing it.
func TestTraceThroughKafka(t *testing.T) {
	tel, exp, test := newTestTelemetry(t)

	reqCtx, req := test.Start(context.Background(), "POST /api/v1/orders", trace.WithSpanKind(trace.SpanKindServer))
	stored := tracing.Traceparent(reqCtx)
	req.End()

	batchCtx, batch := test.Start(context.Background(), "outbox relay")
	orig := []Header{{Key: "ce_id", Value: []byte("e1")}, {Key: "traceparent", Value: []byte(stored)}}
	hs := orig
	span := tel.startPublish(batchCtx, "order-events", []byte("42"), &hs)
	endPublish(span, 3, 1234, nil)
	batch.End()

	if got := headerValues(orig, "traceparent"); !slices.Equal(got, []string{stored}) {
		t.Errorf("got caller's traceparent headers %q, want them unchanged (%q)", got, stored)
	}
	if got := headerValues(hs, "ce_id"); !slices.Equal(got, []string{"e1"}) {
		t.Errorf("got ce_id headers %q, want [e1]: other headers must stay", got)
	}

	m := Message{Topic: "order-events", Partition: 3, Offset: 1234, Key: []byte("42"), Value: []byte("{}"), Headers: hs}
	cctx, cspan := tel.startProcess(context.Background(), "tracking-service", m)
	cspan.End()

	pub := spanNamed(t, exp, "publish order-events")
	proc := spanNamed(t, exp, "process order-events")
	reqStub := spanNamed(t, exp, "POST /api/v1/orders")
	batchStub := spanNamed(t, exp, "outbox relay")

	// The publish span continues the request's trace and links the batch.
	if pub.Parent.SpanID() != reqStub.SpanContext.SpanID() || pub.SpanContext.TraceID() != reqStub.SpanContext.TraceID() {
		t.Errorf("got publish span parent %s in trace %s, want the request span %s in trace %s",
			pub.Parent.SpanID(), pub.SpanContext.TraceID(), reqStub.SpanContext.SpanID(), reqStub.SpanContext.TraceID())
	}
	if len(pub.Links) != 1 || pub.Links[0].SpanContext.SpanID() != batchStub.SpanContext.SpanID() {
		t.Errorf("got publish span links %v, want one to the batch span %s", pub.Links, batchStub.SpanContext.SpanID())
	}
	if pub.SpanKind != trace.SpanKindProducer {
		t.Errorf("got publish span kind %v, want producer", pub.SpanKind)
	}
	// The header now names the publish span, not the request.
	if got := headerValues(hs, "traceparent"); len(got) != 1 || tracing.SpanContextFromTraceparent(got[0]).SpanID() != pub.SpanContext.SpanID() {
		t.Errorf("got traceparent headers %q, want one naming the publish span %s", got, pub.SpanContext.SpanID())
	}

	// The process span is a child of the publish span, and links it.
	if proc.Parent.SpanID() != pub.SpanContext.SpanID() || proc.SpanContext.TraceID() != pub.SpanContext.TraceID() {
		t.Errorf("got process span parent %s, want the publish span %s", proc.Parent.SpanID(), pub.SpanContext.SpanID())
	}
	if !proc.Parent.IsRemote() {
		t.Error("got a local parent for the process span, want the remote publish span")
	}
	if len(proc.Links) != 1 || proc.Links[0].SpanContext.SpanID() != pub.SpanContext.SpanID() {
		t.Errorf("got process span links %v, want one to the publish span %s", proc.Links, pub.SpanContext.SpanID())
	}
	if proc.SpanKind != trace.SpanKindConsumer {
		t.Errorf("got process span kind %v, want consumer", proc.SpanKind)
	}
	if got := trace.SpanContextFromContext(cctx).SpanID(); got != proc.SpanContext.SpanID() {
		t.Errorf("got handler context span %s, want the process span %s", got, proc.SpanContext.SpanID())
	}

	for _, tc := range []struct {
		span tracetest.SpanStub
		key  attribute.Key
		want attribute.Value
	}{
		{pub, "messaging.system", attribute.StringValue("kafka")},
		{pub, "messaging.destination.name", attribute.StringValue("order-events")},
		{pub, "messaging.operation.type", attribute.StringValue("send")},
		{pub, "messaging.operation.name", attribute.StringValue("publish")},
		{pub, "messaging.kafka.message.key", attribute.StringValue("42")},
		{pub, "messaging.destination.partition.id", attribute.StringValue("3")},
		{pub, "messaging.kafka.offset", attribute.IntValue(1234)},
		{proc, "messaging.system", attribute.StringValue("kafka")},
		{proc, "messaging.destination.name", attribute.StringValue("order-events")},
		{proc, "messaging.operation.type", attribute.StringValue("process")},
		{proc, "messaging.consumer.group.name", attribute.StringValue("tracking-service")},
		{proc, "messaging.destination.partition.id", attribute.StringValue("3")},
		{proc, "messaging.kafka.offset", attribute.IntValue(1234)},
		{proc, "messaging.kafka.message.key", attribute.StringValue("42")},
	} {
		if got := attr(tc.span, tc.key); got != tc.want {
			t.Errorf("%s: got %s = %v, want %v", tc.span.Name, tc.key, got.Emit(), tc.want.Emit())
		}
	}
}

func TestStartPublishParent(t *testing.T) {
	tests := []struct {
		name string
		// header is the traceparent the message carries: "" for none,
		// "ctx" for the span in ctx's own, "other" for another span's.
		header     string
		ctxSpan    bool
		wantParent string // "ctx", "other" or "" for a root span
		wantLink   bool
	}{
		{name: "outbox row under a batch span", header: "other", ctxSpan: true, wantParent: "other", wantLink: true},
		{name: "outbox row without a batch span", header: "other", wantParent: "other"},
		{name: "no header: child of ctx", ctxSpan: true, wantParent: "ctx"},
		{name: "no header, no span: root", wantParent: ""},
		{name: "malformed header: child of ctx", header: "00-abc-def-01", ctxSpan: true, wantParent: "ctx"},
		{name: "dead-letter copy: header is ctx's span", header: "ctx", ctxSpan: true, wantParent: "ctx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel, exp, test := newTestTelemetry(t)
			ctx := context.Background()
			var ctxSC trace.SpanContext
			if tt.ctxSpan {
				var s trace.Span
				ctx, s = test.Start(ctx, "ctx")
				ctxSC = s.SpanContext()
				defer s.End()
			}
			otherCtx, other := test.Start(context.Background(), "other")
			other.End()
			var hs []Header
			switch tt.header {
			case "":
			case "ctx":
				hs = []Header{{Key: "traceparent", Value: []byte(tracing.Traceparent(ctx))}}
			case "other":
				hs = []Header{{Key: "traceparent", Value: []byte(tracing.Traceparent(otherCtx))}, {Key: "tracestate", Value: []byte("vendor=x")}}
			default:
				hs = []Header{{Key: "traceparent", Value: []byte(tt.header)}}
			}
			endPublish(tel.startPublish(ctx, "t", nil, &hs), 0, 0, errors.New("broker down"))

			pub := spanNamed(t, exp, "publish t")
			wantParent := map[string]trace.SpanContext{"ctx": ctxSC, "other": other.SpanContext(), "": {}}[tt.wantParent]
			if pub.Parent.SpanID() != wantParent.SpanID() {
				t.Errorf("got parent %s, want %s (%q)", pub.Parent.SpanID(), wantParent.SpanID(), tt.wantParent)
			}
			if got := len(pub.Links) == 1 && pub.Links[0].SpanContext.SpanID() == ctxSC.SpanID(); got != tt.wantLink || (!tt.wantLink && len(pub.Links) > 0) {
				t.Errorf("got links %v, want a link to ctx's span: %v", pub.Links, tt.wantLink)
			}
			if got := headerValues(hs, "traceparent"); len(got) != 1 || tracing.SpanContextFromTraceparent(got[0]).SpanID() != pub.SpanContext.SpanID() {
				t.Errorf("got traceparent headers %q, want one naming the publish span", got)
			}
			// The tracestate is the span's: inherited within a trace, gone
			// when the span does not continue the carried one.
			var want []string
			if ts := pub.SpanContext.TraceState().String(); ts != "" {
				want = []string{ts}
			}
			if got := headerValues(hs, "tracestate"); !slices.Equal(got, want) {
				t.Errorf("got tracestate headers %q, want %q", got, want)
			}
			if pub.Status.Code != codes.Error {
				t.Errorf("got status %v, want error for a refused message", pub.Status)
			}
		})
	}
}

// With tracing off, headers pass through as they came: an invalid
// traceparent is not dropped, and nothing is added.
func TestTracingOffLeavesHeaders(t *testing.T) {
	tel := telemetry{tracer: noop.NewTracerProvider().Tracer(""), prop: propagation.TraceContext{}}
	for _, hs := range [][]Header{nil, {{Key: "traceparent", Value: []byte("00-abc-def-01")}}} {
		got := slices.Clone(hs)
		endPublish(tel.startPublish(context.Background(), "t", nil, &got), 0, 0, nil)
		if !slices.EqualFunc(got, hs, func(a, b Header) bool { return a.Key == b.Key && string(a.Value) == string(b.Value) }) {
			t.Errorf("got headers %v, want %v unchanged", got, hs)
		}
	}
}

// TestIntegrationDeadLetterTrace runs a real producer and consumer: a
// message the handler refuses is processed under a consumer span, child of
// its publish span, marked as an error, and its dead-letter copy is
// published as a child of that consumer span.
func TestIntegrationDeadLetterTrace(t *testing.T) {
	t.Parallel()
	brokers := testinfra.KafkaBrokers(t)
	tel, exp, test := newTestTelemetry(t)
	logger := slog.New(slog.DiscardHandler)

	p, err := NewProducer(ProducerConfig{Brokers: brokers}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(5 * time.Second)
	p.tel = tel
	topic := testinfra.UniqueName("trace-test-")
	for _, name := range []string{topic, topic + ".dlt"} {
		if err := p.EnsureTopic(t.Context(), name, 1); err != nil {
			t.Fatal(err)
		}
	}
	ctx, req := test.Start(t.Context(), "request")
	if err := p.Publish(ctx, []Message{{Topic: topic, Key: []byte("k"), Value: []byte("poison")}})[0]; err != nil {
		t.Fatal(err)
	}
	req.End()

	c, err := NewConsumer(ConsumerConfig{Brokers: brokers, GroupID: testinfra.UniqueName("trace-group-"), Topic: topic},
		func(context.Context, Message) error { return Permanent(errors.New("poison")) }, logger, ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.tel, c.dlt.tel = tel, tel
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		for _, s := range exp.GetSpans() {
			if s.Name == "publish "+topic+".dlt" {
				return true, ""
			}
		}
		return false, "no dead-letter publish span yet"
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: got %v, want nil", err)
	}

	pub := spanNamed(t, exp, "publish "+topic)
	proc := spanNamed(t, exp, "process "+topic)
	dlt := spanNamed(t, exp, "publish "+topic+".dlt")
	if proc.Parent.SpanID() != pub.SpanContext.SpanID() || len(proc.Links) != 1 || proc.Links[0].SpanContext.SpanID() != pub.SpanContext.SpanID() {
		t.Errorf("got process span parent %s links %v, want the publish span %s as both", proc.Parent.SpanID(), proc.Links, pub.SpanContext.SpanID())
	}
	if proc.Status.Code != codes.Error || len(proc.Events) == 0 || proc.Events[0].Name != "exception" {
		t.Errorf("got process span status %v events %v, want an error with the handler's error recorded", proc.Status, proc.Events)
	}
	if dlt.Parent.SpanID() != proc.SpanContext.SpanID() || dlt.SpanContext.TraceID() != pub.SpanContext.TraceID() {
		t.Errorf("got dead-letter publish span parent %s, want the process span %s, in the same trace", dlt.Parent.SpanID(), proc.SpanContext.SpanID())
	}
	if proc.EndTime.Before(dlt.EndTime) {
		t.Errorf("got process span ended at %s, before the dead-letter publish at %s: it must cover it", proc.EndTime, dlt.EndTime)
	}
}
