package notify

import (
	"context"
	"log/slog"
)

// LogSender is the default Sender: it delivers nothing and logs each
// notification instead, as the original system's mock did.
type LogSender struct {
	logger *slog.Logger
}

// NewLogSender returns a LogSender writing to logger.
func NewLogSender(logger *slog.Logger) *LogSender {
	return &LogSender{logger: logger}
}

// Send implements Sender; it never fails.
func (s *LogSender) Send(ctx context.Context, n Notification) error {
	s.logger.InfoContext(ctx, "mock notification sent",
		"channel", n.Channel,
		"recipient", n.Recipient,
		"text", n.Text,
		"event_id", n.EventID,
		"order_id", n.OrderID)
	return nil
}
