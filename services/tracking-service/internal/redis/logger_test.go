package redis

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/logging"
)

func TestLibraryLogger(t *testing.T) {
	var buf bytes.Buffer
	l := &libraryLogger{logger: slog.New(slog.NewJSONHandler(&buf, nil)), every: logging.NewEvery(time.Hour)}
	for i := range 5 {
		l.Printf(t.Context(), "redis: connection pool: failed to dial after %d attempts: %s", i, "refused")
	}
	l.Printf(t.Context(), "redis: discarding bad PubSub connection: %s", "EOF")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines %q, want 2: one per kind", len(lines), lines)
	}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["level"] != "WARN" || rec["source"] != "go-redis" {
			t.Errorf("got %q (%v), want a JSON warning from go-redis", line, err)
		}
	}
	if !strings.Contains(lines[0], "failed to dial after 0 attempts") {
		t.Errorf("got %q, want the first line formatted", lines[0])
	}
}
