package redis

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/order-tracking/platform/pkg/logging"
)

// LogTo sends the Redis client's own log lines (a pool failing to dial, a
// pub/sub reconnecting) to logger, as the service's records (JSON under
// LOG_FORMAT=json) instead of "redis: 2026/11/27 ..." lines on stderr, each
// kind at most once every 10s while it repeats. It is process-wide, like
// the client library's logger.
func LogTo(logger *slog.Logger) {
	goredis.SetLogger(&libraryLogger{logger: logger, every: logging.NewEvery(10 * time.Second)})
}

type libraryLogger struct {
	logger *slog.Logger
	every  *logging.Every
}

// Printf implements the client library's logging interface. The format,
// not the formatted line, is the kind: its arguments (an address, an
// attempt count) vary while the problem stays the same.
func (l *libraryLogger) Printf(ctx context.Context, format string, v ...any) {
	ok, suppressed := l.every.Allow(format)
	if !ok {
		return
	}
	attrs := []any{"source", "go-redis"}
	if suppressed > 0 {
		attrs = append(attrs, "repeated", suppressed)
	}
	l.logger.WarnContext(ctx, fmt.Sprintf(format, v...), attrs...)
}
