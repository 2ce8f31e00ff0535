// Package tracing sets up OpenTelemetry tracing for a service from the
// standard OTEL_* environment variables, and carries W3C trace context
// through places that are not a request: an outbox row, a Kafka header.
//
// With no exporter configured it installs only the propagator: incoming
// trace context still flows on to outgoing calls and messages, and no span
// is recorded or exported.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Environment variables naming the pod and namespace a service runs in; the
// chart sets them from the downward API (metadata.name, metadata.namespace).
const (
	EnvPodName   = "K8S_POD_NAME"
	EnvNamespace = "K8S_NAMESPACE"
)

// Setup configures the global TracerProvider and the W3C TraceContext and
// Baggage propagator. The exporter follows the standard variables:
//
//   - OTEL_TRACES_EXPORTER: "otlp" or "none"; unset means otlp when an
//     endpoint is set (below), none otherwise. OTEL_SDK_DISABLED=true means
//     none.
//   - OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, and
//     the other OTEL_EXPORTER_OTLP_* settings (headers, timeout,
//     compression, certificates), read by the exporter itself.
//   - OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL:
//     "http/protobuf" (default, port 4318) or "grpc" (port 4317).
//   - OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (default
//     parentbased_always_on) and OTEL_BSP_*, read by the SDK.
//   - OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the resource
//     built from serviceName, version, K8S_POD_NAME and K8S_NAMESPACE.
//
// shutdown flushes the spans still buffered and stops the exporter; call it
// once the service has stopped, with a deadline. An error means the
// configuration cannot work.
func Setup(ctx context.Context, serviceName, version string) (shutdown func(context.Context) error, err error) {
	// Set even when nothing is exported: the context of an incoming request
	// or message then still reaches the calls and messages it causes.
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	noop := func(context.Context) error { return nil }

	exporter, err := newExporter(ctx)
	if err != nil || exporter == nil {
		return noop, err
	}
	res, err := newResource(ctx, serviceName, version)
	if err != nil {
		_ = exporter.Shutdown(ctx)
		return noop, err
	}
	// Export failures (collector away) are reported here, through the
	// service's logger rather than the standard library's.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		slog.Default().Warn("opentelemetry error", "error", err)
	}))
	// No sampler option: the SDK then reads OTEL_TRACES_SAMPLER itself.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// Enabled reports whether spans are recorded: whether the global tracer
// provider is the SDK's, as Setup installs it when it has an exporter (a
// test recording spans installs one too). Instrumentation that only makes
// spans, such as the database and Redis clients' hooks and the HTTP
// server's spans, is installed only then: with nothing recorded it would
// still cost every query and request a span's bookkeeping (measured: a
// tenth of tracking-service's CPU under load went to the Redis hook's
// caller lookup, a tenth of orders-service's to the HTTP middleware). What
// carries trace context (HTTP, Kafka headers, the outbox's traceparent) is
// installed either way, so a caller's trace still flows through a service
// that records nothing.
func Enabled() bool {
	_, sdk := otel.GetTracerProvider().(*sdktrace.TracerProvider)
	return sdk
}

// newExporter returns the span exporter the environment asks for, or nil
// for none.
func newExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, nil
	}
	otlp := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	if v := strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER")); v != "" {
		otlp = false
		for name := range strings.SplitSeq(v, ",") {
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "otlp":
				otlp = true
			case "none":
			default:
				return nil, fmt.Errorf("OTEL_TRACES_EXPORTER must be otlp or none, got %q", v)
			}
		}
	}
	if !otlp {
		return nil, nil
	}
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	// Both exporters read the endpoint, headers, timeout, compression and
	// certificates from OTEL_EXPORTER_OTLP_* themselves.
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch strings.ToLower(strings.TrimSpace(protocol)) {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or grpc, got %q", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot create otlp trace exporter: %w", err)
	}
	return exp, nil
}

// newResource describes the process. Later sources win: the environment's
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override what the service
// says of itself.
func newResource(ctx context.Context, serviceName, version string) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{semconv.ServiceName(serviceName)}
	if version != "" {
		attrs = append(attrs, semconv.ServiceVersion(version))
	}
	if v := os.Getenv(EnvPodName); v != "" {
		attrs = append(attrs, semconv.K8SPodName(v))
	}
	if v := os.Getenv(EnvNamespace); v != "" {
		attrs = append(attrs, semconv.K8SNamespaceName(v))
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(),
	)
	if err != nil {
		if errors.Is(err, resource.ErrPartialResource) {
			return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES is invalid: %w", err)
		}
		return nil, fmt.Errorf("cannot build the trace resource: %w", err)
	}
	return res, nil
}
