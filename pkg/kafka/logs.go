package kafka

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/order-tracking/platform/pkg/logging"
)

// repeatInterval is how often one kind of client warning (a broker down,
// a connection refused) is logged while it keeps happening; the lines in
// between are counted and the count is logged with the next one.
const repeatInterval = 10 * time.Second

// forwardLogs writes librdkafka's own log lines to logger, as the
// service's records (JSON under LOG_FORMAT=json) instead of librdkafka's
// "%3|1795821398.217|FAIL|..." lines on stderr, one facility at most once
// per repeatInterval. It returns at once; the returned channel is closed
// when logs is, which the client's Close does.
func forwardLogs(logs <-chan ckafka.LogEvent, logger *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	every := logging.NewEvery(repeatInterval)
	go func() {
		defer close(done)
		for e := range logs {
			level := syslogLevel(e.Level)
			if !logger.Enabled(context.Background(), level) {
				continue
			}
			ok, suppressed := every.Allow(e.Tag + "/" + strconv.Itoa(e.Level))
			if !ok {
				continue
			}
			attrs := []slog.Attr{slog.String("source", "librdkafka"), slog.String("client", e.Name), slog.String("facility", e.Tag)}
			if suppressed > 0 {
				attrs = append(attrs, slog.Int("repeated", suppressed))
			}
			logger.LogAttrs(context.Background(), level, e.Message, attrs...)
		}
	}()
	return done
}

// syslogLevel maps librdkafka's syslog levels (0 emergency ... 7 debug).
func syslogLevel(l int) slog.Level {
	switch {
	case l <= 3:
		return slog.LevelError
	case l == 4:
		return slog.LevelWarn
	case l <= 6:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// clientError logs a client error event (a broker down, all brokers
// down): each code at most once per repeatInterval, with how many were
// held back, since librdkafka repeats them for as long as the outage lasts.
func clientError(logger *slog.Logger, every *logging.Every, msg string, e ckafka.Error) {
	ok, suppressed := every.Allow(e.Code().String())
	if !ok {
		return
	}
	attrs := []any{"error", e, "code", e.Code()}
	if suppressed > 0 {
		attrs = append(attrs, "repeated", suppressed)
	}
	logger.Warn(msg, attrs...)
}
