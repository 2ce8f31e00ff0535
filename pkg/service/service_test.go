package service_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/order-tracking/platform/pkg/logging"
	"github.com/order-tracking/platform/pkg/service"
)

type cfg struct {
	Log   logging.Config
	Value string `env:"SERVICETEST_VALUE" envDefault:"ok"`
}

func (c *cfg) Validate() error { return c.Log.Validate() }

func spec(served, migrated *string, fail error) service.Spec[cfg] {
	return service.Spec[cfg]{
		Name: "test-service",
		Log:  func(c cfg) logging.Config { return c.Log },
		Serve: func(_ context.Context, c cfg, _ *slog.Logger) error {
			*served = c.Value
			return fail
		},
		Commands: map[string]service.Func[cfg]{
			"migrate": func(context.Context, cfg, *slog.Logger) error { *migrated = "yes"; return fail },
		},
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		args         []string
		fail         error
		want         int
		wantServed   string
		wantMigrated string
		wantOutput   string
	}{
		{name: "serves", want: service.ExitOK, wantServed: "ok"},
		{name: "serve fails", fail: errors.New("boom"), want: service.ExitFailed, wantServed: "ok", wantOutput: "boom"},
		{name: "command", args: []string{"migrate"}, want: service.ExitOK, wantMigrated: "yes", wantOutput: "migrate done"},
		{name: "command fails", args: []string{"migrate"}, fail: errors.New("no db"), want: service.ExitFailed, wantMigrated: "yes", wantOutput: "no db"},
		{name: "unknown command", args: []string{"frobnicate"}, want: service.ExitUsage, wantOutput: "commands: migrate"},
		{name: "extra argument", args: []string{"migrate", "now"}, want: service.ExitUsage, wantOutput: "unknown command"},
		{name: "bad config", env: map[string]string{"LOG_FORMAT": "xml"}, want: service.ExitUsage, wantOutput: "LOG_FORMAT"},
		{name: "bad tracing config", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, want: service.ExitUsage, wantOutput: "OTEL_TRACES_EXPORTER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out bytes.Buffer
			var served, migrated string
			got := service.Run(context.Background(), tt.args, &out, spec(&served, &migrated, tt.fail))
			if got != tt.want || served != tt.wantServed || migrated != tt.wantMigrated {
				t.Fatalf("got exit %d served %q migrated %q, want %d %q %q", got, served, migrated, tt.want, tt.wantServed, tt.wantMigrated)
			}
			if !strings.Contains(out.String(), tt.wantOutput) {
				t.Fatalf("got output %q, want it to mention %q", out.String(), tt.wantOutput)
			}
		})
	}
}

// TestRunFlushesTraces checks that spans ended while serving reach the OTLP
// endpoint by the time Run returns, though the batch delay is far longer.
func TestRunFlushesTraces(t *testing.T) {
	var exports atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" {
			exports.Add(1)
		}
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "60000")
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })

	got := service.Run(context.Background(), nil, io.Discard, service.Spec[cfg]{
		Name: "test-service",
		Log:  func(c cfg) logging.Config { return c.Log },
		Serve: func(ctx context.Context, _ cfg, _ *slog.Logger) error {
			_, span := otel.Tracer("test").Start(ctx, "work")
			span.End()
			return nil
		},
	})
	if got != service.ExitOK {
		t.Fatalf("got exit %d, want %d", got, service.ExitOK)
	}
	if n := exports.Load(); n != 1 {
		t.Errorf("got %d exports by the time Run returned, want 1", n)
	}
}
