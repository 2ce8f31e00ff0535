package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otelEnv are the variables Setup reads; each test starts with all unset.
var otelEnv = []string{
	"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER",
	EnvPodName, EnvNamespace,
}

func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range otelEnv {
		t.Setenv(k, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	// Setup changes process-wide state; leave none of it to the next test.
	otel.SetTracerProvider(noop.NewTracerProvider())
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
}

func TestSetupPicksExporter(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		wantExporter bool
		wantErr      string
	}{
		{name: "no endpoint: nothing exported"},
		{name: "endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, wantExporter: true},
		{name: "traces endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, wantExporter: true},
		{name: "otlp asked for, default endpoint", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, wantExporter: true},
		{name: "grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, wantExporter: true},
		{name: "none wins over an endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}},
		{name: "sdk disabled", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}},
		{name: "unknown exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: "OTEL_TRACES_EXPORTER"},
		{name: "unknown protocol", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, wantErr: "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{name: "bad resource attributes", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_RESOURCE_ATTRIBUTES": "novalue"}, wantErr: "OTEL_RESOURCE_ATTRIBUTES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.env)
			shutdown, err := Setup(context.Background(), "orders-service", "1.2.3")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			defer func() {
				if err := shutdown(ctx); err != nil {
					t.Errorf("got shutdown error %v, want nil", err)
				}
			}()
			_, got := otel.GetTracerProvider().(*sdktrace.TracerProvider)
			if got != tt.wantExporter {
				t.Errorf("got SDK tracer provider installed %v, want %v", got, tt.wantExporter)
			}
			if got := Enabled(); got != tt.wantExporter {
				t.Errorf("got Enabled() %v, want %v", got, tt.wantExporter)
			}
			// The propagator is set either way, so context flows on.
			if fields := otel.GetTextMapPropagator().Fields(); !slices.Contains(fields, "traceparent") || !slices.Contains(fields, "baggage") {
				t.Errorf("got propagator fields %v, want traceparent and baggage", fields)
			}
		})
	}
}

func TestNewResource(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want map[string]string
	}{
		{
			name: "from the service",
			want: map[string]string{"service.name": "orders-service", "service.version": "1.2.3", "k8s.pod.name": "", "telemetry.sdk.language": "go"},
		},
		{
			name: "kubernetes downward API",
			env:  map[string]string{EnvPodName: "orders-service-7d9f-abcde", EnvNamespace: "shop"},
			want: map[string]string{"k8s.pod.name": "orders-service-7d9f-abcde", "k8s.namespace.name": "shop", "service.name": "orders-service"},
		},
		{
			name: "OTEL_SERVICE_NAME overrides",
			env:  map[string]string{"OTEL_SERVICE_NAME": "orders-eu"},
			want: map[string]string{"service.name": "orders-eu"},
		},
		{
			name: "OTEL_RESOURCE_ATTRIBUTES adds and overrides",
			env:  map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=staging,service.version=9"},
			want: map[string]string{"deployment.environment.name": "staging", "service.version": "9", "service.name": "orders-service"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.env)
			res, err := newResource(context.Background(), "orders-service", "1.2.3")
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				v, _ := res.Set().Value(attribute.Key(k))
				if got := v.Emit(); got != want {
					t.Errorf("got %s %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestSetupExportsOTLP runs Setup against an OTLP/HTTP endpoint and checks
// that a span arrives, with the resource, on shutdown's flush.
func TestSetupExportsOTLP(t *testing.T) {
	var (
		mu   sync.Mutex
		reqs []*coltracepb.ExportTraceServiceRequest
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		req := &coltracepb.ExportTraceServiceRequest{}
		if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(body, req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	setEnv(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL, EnvPodName: "pod-1", EnvNamespace: "ns-1"})

	shutdown, err := Setup(context.Background(), "tracking-service", "1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(context.Background(), "work")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		t.Fatalf("got shutdown error %v, want nil", err)
	}

	mu.Lock()
	defer mu.Unlock()
	var names []string
	attrs := map[string]string{}
	for _, req := range reqs {
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.Resource.Attributes {
				attrs[kv.Key] = kv.Value.GetStringValue()
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names = append(names, s.Name)
				}
			}
		}
	}
	if !slices.Equal(names, []string{"work"}) {
		t.Errorf("got spans %q exported, want [work]", names)
	}
	for k, want := range map[string]string{"service.name": "tracking-service", "service.version": "1.2.3", "k8s.pod.name": "pod-1", "k8s.namespace.name": "ns-1"} {
		if attrs[k] != want {
			t.Errorf("got resource %s %q, want %q", k, attrs[k], want)
		}
	}
}

func TestTraceparentRoundTrip(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	tp := Traceparent(trace.ContextWithSpanContext(context.Background(), sc))
	if want := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"; tp != want {
		t.Errorf("got traceparent %q, want %q", tp, want)
	}
	if got := SpanContextFromTraceparent(tp); got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsSampled() {
		t.Errorf("got span context %v back, want %v", got, sc)
	}
	if got := Traceparent(context.Background()); got != "" {
		t.Errorf("got traceparent %q without a span, want empty", got)
	}
	for _, bad := range []string{"", "00-abc-def-01", "garbage"} {
		if got := SpanContextFromTraceparent(bad); got.IsValid() {
			t.Errorf("got valid span context from %q, want invalid", bad)
		}
	}
}

func TestChildSpansOnly(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	child := ChildSpansOnly(tp).Tracer("redis")

	ctx := context.Background()
	got, span := child.Start(ctx, "ping")
	span.End()
	if got != ctx || span.SpanContext().IsValid() {
		t.Errorf("got context %v and span %v outside a trace, want ctx as is and no span", got, span.SpanContext())
	}

	pctx, parent := tp.Tracer("test").Start(ctx, "process")
	_, span = child.Start(pctx, "evalsha")
	span.End()
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 2 || spans[0].Name != "evalsha" || spans[0].Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("got spans %v, want evalsha as a child of process, and nothing else", spans.Snapshots())
	}
}
