package notify_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/order-tracking/platform/services/notification-service/internal/notify"
)

func TestLogSenderLogsTheNotification(t *testing.T) {
	var buf bytes.Buffer
	s := notify.NewLogSender(slog.New(slog.NewJSONHandler(&buf, nil)))
	n := notify.Notification{EventID: "e-1", OrderID: 7, Channel: notify.ChannelEmail, Recipient: "Alice", Text: "Hi Alice"}
	if err := s.Send(t.Context(), n); err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("log %q is not one JSON record: %v", buf.String(), err)
	}
	want := map[string]any{
		"level": "INFO", "msg": "mock notification sent",
		"channel": "email", "recipient": "Alice", "text": "Hi Alice", "event_id": "e-1", "order_id": float64(7),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("got %s=%v, want %v", k, got[k], v)
		}
	}
}
