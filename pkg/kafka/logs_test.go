package kafka

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// TestForwardLogs: librdkafka's lines become JSON records at the matching
// level, a repeating facility once per interval, and the forwarder ends
// when the client closes its log channel.
func TestForwardLogs(t *testing.T) {
	var buf bytes.Buffer
	logs := make(chan ckafka.LogEvent, 10)
	for i := range 4 {
		logs <- ckafka.LogEvent{Name: "rdkafka#producer-1", Tag: "FAIL", Level: 3, Message: "Connect failed " + string(rune('a'+i))}
	}
	logs <- ckafka.LogEvent{Name: "rdkafka#producer-1", Tag: "GETPID", Level: 4, Message: "Failed to acquire PID"}
	logs <- ckafka.LogEvent{Name: "rdkafka#producer-1", Tag: "BROKER", Level: 7, Message: "debug chatter"}
	close(logs)
	<-forwardLogs(logs, slog.New(slog.NewJSONHandler(&buf, nil)))

	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("got %q, want JSON: %v", line, err)
		}
		got = append(got, rec)
	}
	want := []struct{ level, msg, facility string }{
		{"ERROR", "Connect failed a", "FAIL"}, // b, c, d held back
		{"WARN", "Failed to acquire PID", "GETPID"},
		// debug chatter: below the logger's level
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records %v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i]["level"] != w.level || got[i]["msg"] != w.msg || got[i]["facility"] != w.facility || got[i]["source"] != "librdkafka" {
			t.Errorf("record %d: got %v, want %s %q from facility %s", i, got[i], w.level, w.msg, w.facility)
		}
	}
}
