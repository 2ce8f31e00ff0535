package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string // substrings the error must contain; nil means valid
	}{
		{name: "defaults", cfg: Config{Format: "json", Level: "info"}},
		{name: "text debug", cfg: Config{Format: "text", Level: "debug"}},
		{name: "case insensitive", cfg: Config{Format: "JSON", Level: "WARN"}},
		{name: "bad format", cfg: Config{Format: "xml", Level: "info"}, wantErr: []string{"LOG_FORMAT", `"xml"`}},
		{name: "bad level", cfg: Config{Format: "json", Level: "trace"}, wantErr: []string{"LOG_LEVEL", `"trace"`}},
		{name: "both bad are both named", cfg: Config{Format: "", Level: ""}, wantErr: []string{"LOG_FORMAT", "LOG_LEVEL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil error, want one mentioning %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got error %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestNewFormatAndLevel(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantDebug bool
		wantJSON  bool
	}{
		{name: "json info drops debug", cfg: Config{Format: "json", Level: "info"}, wantJSON: true},
		{name: "text debug keeps debug", cfg: Config{Format: "text", Level: "debug"}, wantDebug: true},
		{name: "invalid falls back to json info", cfg: Config{Format: "xml", Level: "loud"}, wantJSON: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := New(tt.cfg, &buf)
			logger.Debug("debug line")
			logger.Info("info line")

			out := buf.String()
			if got := strings.Contains(out, "debug line"); got != tt.wantDebug {
				t.Errorf("got debug line written %v, want %v; output:\n%s", got, tt.wantDebug, out)
			}
			first, _, _ := strings.Cut(out, "\n")
			if got := json.Valid([]byte(first)); got != tt.wantJSON {
				t.Errorf("got JSON line %v, want %v: %s", got, tt.wantJSON, first)
			}
		})
	}
}

func TestRequestIDInLogs(t *testing.T) {
	var buf bytes.Buffer
	logger := New(Config{Format: "json", Level: "info"}, &buf).With("service", "orders")

	ctx := WithRequestID(context.Background(), "req-123")
	if got := RequestID(ctx); got != "req-123" {
		t.Fatalf("got RequestID %q, want %q", got, "req-123")
	}
	if got := RequestID(context.Background()); got != "" {
		t.Fatalf("got RequestID %q on empty context, want empty", got)
	}

	logger.InfoContext(ctx, "with id")
	logger.InfoContext(context.Background(), "without id")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{"req-123", ""} {
		var rec map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &rec); err != nil {
			t.Fatalf("line %d is not JSON: %v", i, err)
		}
		got, _ := rec[RequestIDKey].(string)
		if got != want {
			t.Errorf("line %d: got request_id %q, want %q", i, got, want)
		}
		if rec["service"] != "orders" {
			t.Errorf("line %d: got service %v, want orders (attrs from With must survive)", i, rec["service"])
		}
	}
}

func TestNewContextHandlerDoesNotWrapTwice(t *testing.T) {
	h := NewContextHandler(New(Config{}, &bytes.Buffer{}).Handler())
	if _, ok := h.(*ContextHandler); !ok {
		t.Fatalf("got %T, want *ContextHandler", h)
	}
	if inner := h.(*ContextHandler).next; inner == nil {
		t.Fatal("got nil wrapped handler")
	} else if _, nested := inner.(*ContextHandler); nested {
		t.Fatal("got a ContextHandler wrapping a ContextHandler, want a single layer")
	}
}

func TestTraceIDsInLogs(t *testing.T) {
	traceID := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	spanID := trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	withSpan := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled,
	}))
	tests := []struct {
		name          string
		ctx           context.Context
		wantTrace     string
		wantSpan      string
		wantRequestID string
	}{
		{name: "no span", ctx: context.Background()},
		{name: "span", ctx: withSpan, wantTrace: "4bf92f3577b34da6a3ce929d0e0e4736", wantSpan: "00f067aa0ba902b7"},
		{name: "span and request id", ctx: WithRequestID(withSpan, "req-1"), wantTrace: "4bf92f3577b34da6a3ce929d0e0e4736", wantSpan: "00f067aa0ba902b7", wantRequestID: "req-1"},
		{
			name: "invalid span context is left out",
			ctx:  trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID})),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := New(Config{Format: "json", Level: "info"}, &buf).With("service", "orders")
			logger.InfoContext(tt.ctx, "line")
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("line is not JSON: %v: %s", err, buf.String())
			}
			for key, want := range map[string]string{TraceIDKey: tt.wantTrace, SpanIDKey: tt.wantSpan, RequestIDKey: tt.wantRequestID} {
				got, present := rec[key].(string)
				if got != want || present != (want != "") {
					t.Errorf("got %s %q (present %v), want %q", key, got, present, want)
				}
			}
			if rec["service"] != "orders" {
				t.Errorf("got service %v, want orders (attrs from With must survive)", rec["service"])
			}
		})
	}
}
