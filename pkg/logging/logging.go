// Package logging builds the structured logger every service uses, and
// carries the request ID through a context so that every log line written
// while serving a request can be tied back to it, and to its trace.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// Config selects the log output. JSON is for production, where the log
// collector parses each line; text is easier to read on a terminal.
type Config struct {
	// Format is "json" (production) or "text" (local development).
	Format string `env:"LOG_FORMAT"`
	// Level is the minimum level written: "debug", "info", "warn" or "error".
	Level string `env:"LOG_LEVEL"`
}

// SetDefaults fills the fields left empty: JSON at info level.
func (c *Config) SetDefaults() {
	if c.Format == "" {
		c.Format = "json"
	}
	if c.Level == "" {
		c.Level = "info"
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var problems []string
	switch strings.ToLower(c.Format) {
	case "json", "text":
	default:
		problems = append(problems, fmt.Sprintf("LOG_FORMAT must be json or text, got %q", c.Format))
	}
	if _, ok := parseLevel(c.Level); !ok {
		problems = append(problems, fmt.Sprintf("LOG_LEVEL must be debug, info, warn or error, got %q", c.Level))
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid logging config: %s", strings.Join(problems, "; "))
	}
	return nil
}

// New returns a logger writing to w in the configured format. Invalid
// settings fall back to JSON at info, because a service that cannot log
// is worse than one that logs in the wrong format; Validate is where a bad
// setting is rejected.
//
// The returned logger adds request_id to every record whose context
// carries one (see WithRequestID), and trace_id and span_id to every record
// whose context carries a span, so use the *Context logging methods
// (InfoContext, LogAttrs, ...) when a request context is at hand.
func New(cfg Config, w io.Writer) *slog.Logger {
	level, ok := parseLevel(cfg.Level)
	if !ok {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if strings.EqualFold(cfg.Format, "text") {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(NewContextHandler(h))
}

func parseLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

type requestIDKey struct{}

// WithRequestID returns a copy of ctx carrying the request ID id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request ID carried by ctx, or "" if there is none.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Attribute keys under which ContextHandler writes what it finds in a
// record's context.
const (
	RequestIDKey = "request_id"
	// TraceIDKey and SpanIDKey hold the OpenTelemetry span's IDs in hex, as
	// trace backends show them, so a log line leads to its trace.
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// ContextHandler is a slog.Handler that adds the request ID found in a
// record's context as the request_id attribute, and the IDs of the span
// found there as trace_id and span_id, so code deep in a request path does
// not have to pass them to every log call.
type ContextHandler struct {
	next slog.Handler
}

// NewContextHandler wraps next in a ContextHandler. Wrapping a handler that
// is already a ContextHandler returns it unchanged, so that packages which
// need request IDs in their logs can wrap whatever logger they are given
// without writing request_id twice.
func NewContextHandler(next slog.Handler) slog.Handler {
	if h, ok := next.(*ContextHandler); ok {
		return h
	}
	return &ContextHandler{next: next}
}

// Enabled reports whether the wrapped handler handles records at level.
func (h *ContextHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle adds request_id, trace_id and span_id from ctx, those present,
// and passes the record on.
func (h *ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		// A caller may pass nil to Log or LogAttrs; nothing to add then.
		return h.next.Handle(ctx, r)
	}
	id := RequestID(ctx)
	sc := trace.SpanContextFromContext(ctx)
	if id == "" && !sc.IsValid() {
		return h.next.Handle(ctx, r)
	}
	// Clone: the record may be shared with other handlers, and adding to it
	// in place would be visible to them.
	r = r.Clone()
	if id != "" {
		r.AddAttrs(slog.String(RequestIDKey, id))
	}
	if sc.IsValid() {
		r.AddAttrs(slog.String(TraceIDKey, sc.TraceID().String()), slog.String(SpanIDKey, sc.SpanID().String()))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a ContextHandler whose wrapped handler has attrs added.
func (h *ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &ContextHandler{next: h.next.WithAttrs(attrs)}
}

// WithGroup returns a ContextHandler whose wrapped handler opens group name.
func (h *ContextHandler) WithGroup(name string) slog.Handler {
	return &ContextHandler{next: h.next.WithGroup(name)}
}
