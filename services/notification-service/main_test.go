package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/pkg/testinfra"
)

// notification is one element of GET /notifications.
type notification struct {
	EventID   string  `json:"eventId"`
	OrderID   int64   `json:"orderId"`
	Channel   string  `json:"channel"`
	Recipient string  `json:"recipient"`
	Text      string  `json:"text"`
	Status    string  `json:"status"`
	SentAt    *string `json:"sentAt"`
}

// TestIntegrationNotifiesOncePerEvent runs the whole service in-process
// against the real infrastructure, on a topic and group of its own: real
// events go in through Kafka, the notifications come out through the log
// sender and GET /notifications, and a redelivered event sends nothing new.
func TestIntegrationNotifiesOncePerEvent(t *testing.T) {
	dbURL := testinfra.NewDatabase(t)
	brokers := testinfra.KafkaBrokers(t)
	topic := testinfra.UniqueName("order-events-notify-e2e-")

	// One partition, so the events are handled in the order produced: what
	// comes after the redelivered event proves it was handled.
	producer := newProducer(t, brokers)
	if err := producer.EnsureTopic(t.Context(), topic, 1); err != nil {
		t.Fatalf("cannot create topic: %v", err)
	}

	logs := &logRecorder{t: t}
	base := testinfra.StartService(t, run, map[string]string{
		"DATABASE_URL":   dbURL,
		"KAFKA_BROKERS":  brokers,
		"KAFKA_TOPIC":    topic,
		"KAFKA_GROUP_ID": testinfra.UniqueName("notification-e2e-"),
		"LOG_FORMAT":     "json",
		"NOTIFY_SENDER":  "log",
	}, logs)

	at := time.Now().UTC()
	o := events.Order{ID: 7, CustomerName: "Alice", Item: "Laptop", Quantity: 1, Status: "PENDING", CreatedAt: at, UpdatedAt: at}
	created := events.NewOrderCreated(o, 1, at)
	o.Status = "SHIPPED"
	shipped := events.NewOrderUpdated(o, "PENDING", 2, at.Add(time.Second))
	other := events.NewOrderCreated(events.Order{ID: 8, CustomerName: "Bob", Item: "Pen", Quantity: 2, Status: "PENDING", CreatedAt: at, UpdatedAt: at}, 1, at)

	publish(t, producer, topic, created, shipped)
	want := []notification{
		{EventID: shipped.ID, OrderID: 7, Channel: "sms", Recipient: "Alice", Text: "Order 7 status changed to SHIPPED", Status: "sent"},
		{EventID: created.ID, OrderID: 7, Channel: "email", Recipient: "Alice", Text: "Hi Alice, your order for Laptop has been received.", Status: "sent"},
	}
	testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
		got, err := list(base, 7)
		if err != nil {
			return false, err.Error()
		}
		return sameNotifications(got, want), fmt.Sprintf("got %+v, want %+v", got, want)
	})

	// The created event again, as after a rebalance, then another order's
	// event: once that one is listed, the redelivery was handled before it.
	publish(t, producer, topic, created, other)
	testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
		got, err := list(base, 8)
		if err != nil {
			return false, err.Error()
		}
		return len(got) == 1 && got[0].Status == "sent", fmt.Sprintf("order 8: got %+v, want one sent email", got)
	})
	got, err := list(base, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !sameNotifications(got, want) {
		t.Errorf("after the redelivery: got %+v, want %+v", got, want)
	}
	if n := logs.count("mock notification sent"); n != 3 {
		t.Errorf("got %d notifications sent by the log sender, want 3 (the redelivery sends none)", n)
	}
}

func TestIntegrationMigrateCommand(t *testing.T) {
	t.Setenv("AUTH_MODE", "off")
	t.Setenv("DATABASE_URL", testinfra.NewDatabase(t))
	var out bytes.Buffer
	for i := range 2 {
		if code := run(t.Context(), []string{"migrate"}, &out); code != 0 {
			t.Fatalf("run %d: got exit code %d, want 0 (output %q)", i+1, code, out.String())
		}
	}
	if !strings.Contains(out.String(), "migrate done") {
		t.Errorf("got output %q, want it to report the migration done", out.String())
	}
}

func TestRunRejectsBadConfigAndCommands(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    int
		wantOut string
	}{
		{"bad log format", map[string]string{"LOG_FORMAT": "xml"}, nil, 2, "LOG_FORMAT"},
		{"bad port", map[string]string{"HTTP_PORT": "eighty"}, nil, 2, "HTTP_PORT"},
		{"unknown sender", map[string]string{"NOTIFY_SENDER": "pigeon"}, nil, 2, "NOTIFY_SENDER"},
		{"webhook without url", map[string]string{"NOTIFY_SENDER": "webhook"}, nil, 2, "NOTIFY_WEBHOOK_URL"},
		{"template with a typo", map[string]string{"NOTIFY_CREATED_TEMPLATE": "Hi {{.Customer}}"}, nil, 2, "NOTIFY_CREATED_TEMPLATE"},
		{"template that does not parse", map[string]string{"NOTIFY_UPDATED_TEMPLATE": "{{.Status"}, nil, 2, "NOTIFY_UPDATED_TEMPLATE"},
		{"all problems at once", map[string]string{"LOG_FORMAT": "xml", "NOTIFY_SENDER": "pigeon"}, nil, 2, "NOTIFY_SENDER"},
		{"unknown command", nil, []string{"frobnicate"}, 2, "frobnicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AUTH_MODE", "off")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out bytes.Buffer
			if got := run(context.Background(), tt.args, &out); got != tt.want {
				t.Fatalf("got exit code %d, want %d (output %q)", got, tt.want, out.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Fatalf("got output %q, want it to name %s", out.String(), tt.wantOut)
			}
		})
	}
}

// sameNotifications compares all but sentAt, which must be set.
func sameNotifications(got, want []notification) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g := got[i]
		if g.SentAt == nil {
			return false
		}
		g.SentAt = nil
		if g != want[i] {
			return false
		}
	}
	return true
}

func list(base string, orderID int64) ([]notification, error) {
	resp, err := http.Get(fmt.Sprintf("%s/notifications?orderId=%d", base, orderID))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /notifications answered %s", resp.Status)
	}
	var out []notification
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("GET /notifications: %w", err)
	}
	return out, nil
}

func newProducer(t *testing.T, brokers string) *kafka.Producer {
	t.Helper()
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: brokers, DeliveryTimeout: 30 * time.Second},
		slog.New(slog.NewTextHandler(&logRecorder{t: t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(10 * time.Second) })
	return p
}

// publish sends es to topic, in order, the way orders-service's relay does.
func publish(t *testing.T, p *kafka.Producer, topic string, es ...events.Event) {
	t.Helper()
	msgs := make([]kafka.Message, len(es))
	for i, e := range es {
		m, err := kafka.EncodeEvent(topic, e, "/orders-service")
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = m
	}
	for i, err := range p.Publish(t.Context(), msgs) {
		if err != nil {
			t.Fatalf("cannot publish event %d: %v", i, err)
		}
	}
}

// logRecorder sends the service's log lines to the test log, shown on
// failure, and keeps them for the test to count. The test's cleanup waits
// for run to return, so no line comes after the test.
type logRecorder struct {
	t     *testing.T
	mu    sync.Mutex // guards lines
	lines []string
}

func (w *logRecorder) Write(p []byte) (int, error) {
	line := string(bytes.TrimRight(p, "\n"))
	w.t.Log(line)
	w.mu.Lock()
	w.lines = append(w.lines, line)
	w.mu.Unlock()
	return len(p), nil
}

// count returns how many records have msg as their message.
func (w *logRecorder) count(msg string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, l := range w.lines {
		var rec struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == msg {
			n++
		}
	}
	return n
}
