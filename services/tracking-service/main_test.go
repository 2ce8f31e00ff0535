package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/order-tracking/platform/pkg/config"
	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/pkg/testinfra"
)

// TestIntegrationEventsReachTrackingAPI runs the whole service in-process
// against the real Kafka and Redis, on a topic, group and key prefix of its
// own, publishes order events as orders-service's relay does and watches
// them appear on GET /track/{id}, its history and its event stream.
func TestIntegrationEventsReachTrackingAPI(t *testing.T) {
	topic := testinfra.UniqueName("order-events-tracking-e2e-")
	base, producer := startService(t, map[string]string{
		"KAFKA_BROKERS": testinfra.KafkaBrokers(t), "KAFKA_TOPIC": topic, "REDIS_ADDR": testinfra.RedisAddr(t),
	})

	const id = 11
	t0 := time.Now().UTC()
	o := events.Order{ID: id, CustomerName: "Alice", Item: "Laptop", Quantity: 1, Status: "PENDING", CreatedAt: t0, UpdatedAt: t0}
	created := events.NewOrderCreated(o, 1, t0)
	o.Status, o.UpdatedAt = "SHIPPED", t0.Add(time.Second)
	shipped := events.NewOrderUpdated(o, "PENDING", 2, o.UpdatedAt)

	publish(t, producer, topic, created)
	waitTracked(t, base, id, 1)

	stream := openStream(t, base+"/track/11/events")
	if got := stream.nextState(t); got["version"] != float64(1) {
		t.Fatalf("got initial state %v, want version 1", got)
	}
	// The redelivered creation changes nothing; the update is streamed.
	publish(t, producer, topic, shipped, created)
	if got := stream.nextState(t); got["version"] != float64(2) || got["status"] != "SHIPPED" {
		t.Fatalf("got streamed state %v, want version 2 SHIPPED", got)
	}

	var tracked map[string]any
	if status := getJSON(t, base+"/track/11", &tracked); status != http.StatusOK {
		t.Fatalf("GET /track/11: got %d, want 200", status)
	}
	for k, want := range map[string]any{
		"orderId": float64(id), "customerName": "Alice", "item": "Laptop", "quantity": float64(1),
		"status": "SHIPPED", "version": float64(2), "createdAt": t0.Truncate(time.Microsecond).Format(time.RFC3339Nano),
	} {
		if tracked[k] != want {
			t.Errorf("GET /track/11: got %s=%v, want %v", k, tracked[k], want)
		}
	}
	var history []map[string]any
	if status := getJSON(t, base+"/track/11/history", &history); status != http.StatusOK || len(history) != 2 ||
		history[0]["status"] != "PENDING" || history[1]["status"] != "SHIPPED" {
		t.Errorf("GET /track/11/history: got %d %v, want PENDING then SHIPPED", status, history)
	}
	if status, body := getText(t, base+"/track/12"); status != http.StatusNotFound || body != "The order with id: 12 doesn't exist" {
		t.Errorf("GET /track/12: got %d %q, want the original's 404", status, body)
	}
}

// TestIntegrationRedisOutage cuts Redis away from a running service: it
// turns unready, answers 503 instead of guessing, and once Redis is back
// applies the event published meanwhile, by itself.
func TestIntegrationRedisOutage(t *testing.T) {
	brokers := testinfra.KafkaBrokers(t)
	proxy := testinfra.NewProxy(t, testinfra.RedisAddr(t))
	topic := testinfra.UniqueName("order-events-tracking-outage-")
	base, producer := startService(t, map[string]string{
		"KAFKA_BROKERS": brokers, "KAFKA_TOPIC": topic, "REDIS_ADDR": proxy.Addr,
	})

	t0 := time.Now().UTC()
	created := events.NewOrderCreated(events.Order{ID: 21, CustomerName: "Bob", Item: "Desk", Quantity: 2, Status: "PENDING", CreatedAt: t0, UpdatedAt: t0}, 1, t0)
	publish(t, producer, topic, created)
	waitTracked(t, base, 21, 1)

	proxy.Cut()
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		var body map[string]any
		status := getJSON(t, base+"/readyz", &body)
		return status == http.StatusServiceUnavailable, fmt.Sprintf("readyz answered %d %v", status, body)
	})
	if status, text := getText(t, base+"/track/21"); status != http.StatusServiceUnavailable || text == "" {
		t.Errorf("GET /track/21 with Redis down: got %d %q, want 503 saying why", status, text)
	}
	var body map[string]any
	shipped := created
	shipped.ID, shipped.Type, shipped.Version, shipped.Order.Status, shipped.PreviousStatus = uuid.NewString(), events.TypeOrderUpdated, 2, "SHIPPED", "PENDING"
	publish(t, producer, topic, shipped)

	proxy.Restore()
	waitTracked(t, base, 21, 2)
	if status := getJSON(t, base+"/readyz", &body); status != http.StatusOK {
		t.Errorf("readyz after Redis came back: got %d %v, want 200", status, body)
	}
}

// TestIntegrationRedisFrozen: with Redis frozen (a proxy holding every
// byte, as SIGSTOP would), GET /track answers 503 with Retry-After within
// 3s, by id and by code, and tracking recovers once Redis runs again.
func TestIntegrationRedisFrozen(t *testing.T) {
	brokers := testinfra.KafkaBrokers(t)
	proxy := testinfra.NewProxy(t, testinfra.RedisAddr(t))
	topic := testinfra.UniqueName("order-events-tracking-frozen-")
	base, producer := startService(t, map[string]string{
		"KAFKA_BROKERS": brokers, "KAFKA_TOPIC": topic, "REDIS_ADDR": proxy.Addr,
	})
	t0 := time.Now().UTC()
	code := events.NewTrackingCode()
	created := events.NewOrderCreated(events.Order{ID: 31, TrackingCode: code, CustomerName: "Bob", Item: "Desk", Quantity: 2, Status: "PENDING", CreatedAt: t0, UpdatedAt: t0}, 1, t0)
	publish(t, producer, topic, created)
	waitTracked(t, base, 31, 1)

	proxy.Freeze()
	for _, path := range []string{"/track/31", "/track/31/history", "/track/" + code, "/track/31/events"} {
		status, h, took := testinfra.Timed(t, http.MethodGet, base+path, "")
		if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || took > 3*time.Second {
			t.Errorf("GET %s with Redis frozen: got %d with Retry-After %q after %s, want 503 with Retry-After within 3s",
				path, status, h.Get("Retry-After"), took.Round(time.Millisecond))
		}
	}
	proxy.Thaw()
	var body map[string]any
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		status := getJSON(t, base+"/track/31", &body)
		return status == http.StatusOK, fmt.Sprintf("GET /track/31 after the thaw: %d %v", status, body)
	})
}

// startService runs the service in-process with env on top of settings of
// its own (group, key prefix; orders-service knowing no order) through
// testinfra.StartService, and returns its base URL and a producer for its
// brokers.
func startService(t *testing.T, env map[string]string) (string, *kafka.Producer) {
	t.Helper()
	orders := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(orders.Close)
	settings := map[string]string{
		"KAFKA_GROUP_ID":     testinfra.UniqueName("tracking-e2e-"),
		"REDIS_KEY_PREFIX":   testinfra.UniqueName("tracking-e2e-") + ":",
		"ORDERS_SERVICE_URL": orders.URL,
		"LOG_FORMAT":         "text",
	}
	maps.Copy(settings, env)

	producer, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: env["KAFKA_BROKERS"]}, slog.New(slog.NewTextHandler(testinfra.LogWriter(t), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { producer.Close(10 * time.Second) })
	if err := producer.EnsureTopic(t.Context(), env["KAFKA_TOPIC"], 3); err != nil {
		t.Fatal(err)
	}

	base := testinfra.StartService(t, run, settings, nil)
	return base, producer
}

func TestRunRejectsBadConfigAndCommands(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want int
	}{
		{"bad log format", map[string]string{"LOG_FORMAT": "xml"}, nil, 2},
		{"bad port", map[string]string{"HTTP_PORT": "eighty"}, nil, 2},
		{"bad ttl", map[string]string{"TRACKING_TTL": "forever"}, nil, 2},
		{"tiny ttl", map[string]string{"TRACKING_TTL": "1ms"}, nil, 2},
		{"bad orders-service URL", map[string]string{"ORDERS_SERVICE_URL": "orders-service"}, nil, 2},
		{"no group", map[string]string{"KAFKA_GROUP_ID": " "}, nil, 2},
		{"unknown command", nil, []string{"migrate"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out bytes.Buffer
			if got := run(context.Background(), tt.args, &out); got != tt.want {
				t.Fatalf("got exit code %d, want %d (output %q)", got, tt.want, out.String())
			}
			if out.Len() == 0 {
				t.Fatal("got no explanation on stderr, want one")
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	testinfra.Unsetenv(t, "HTTP_PORT", "KAFKA_GROUP_ID", "KAFKA_TOPIC", "TRACKING_TTL", "ORDERS_SERVICE_URL", "REDIS_KEY_PREFIX",
		"SSE_MAX_STREAMS", "SSE_MAX_STREAMS_PER_CLIENT")
	t.Setenv("AUTH_MODE", "off")
	cfg, err := config.Load[Config]()
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(cfg.HTTP.Port, cfg.Kafka.GroupID, cfg.Kafka.Topic, cfg.TTL, cfg.OrdersServiceURL, cfg.Redis.KeyPrefix,
		cfg.SSEMaxStreams, cfg.SSEMaxStreamsPerClient)
	if want := fmt.Sprint(8082, "tracking-service", "order-events", 24*time.Hour, "http://127.0.0.1:8081", "tracking:", 1000, 10); got != want {
		t.Errorf("got defaults %q, want %q", got, want)
	}
}

// With auth on, tracking-service needs an issuer and its own client's
// credentials, and says so all at once.
func TestConfigAuthNeedsClientCredentials(t *testing.T) {
	testinfra.Unsetenv(t, "AUTH_MODE", "OIDC_ISSUER_URL", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")
	_, err := config.Load[Config]()
	for _, want := range []string{"OIDC_ISSUER_URL is required", "AUTH_MODE=off", "OIDC_CLIENT_ID is required", "OIDC_CLIENT_SECRET is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error containing %q", err, want)
		}
	}
}

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
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for i, err := range p.Publish(ctx, msgs) {
		if err != nil {
			t.Fatalf("cannot publish event %d: %v", i, err)
		}
	}
}

// waitTracked waits until GET /track/{id} answers version.
func waitTracked(t *testing.T, base string, id, version int64) {
	t.Helper()
	testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
		resp, err := http.Get(fmt.Sprintf("%s/track/%d", base, id))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var o struct{ Version int64 }
		_ = json.Unmarshal(body, &o)
		return resp.StatusCode == http.StatusOK && o.Version == version,
			fmt.Sprintf("GET /track/%d answered %s %s", id, resp.Status, body)
	})
}

// fetch GETs url and returns the answer, its body read.
func fetch(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp, data
}

func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	resp, data := fetch(t, url)
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("GET %s: body %q is not JSON: %v", url, data, err)
	}
	return resp.StatusCode
}

// getText GETs url and returns the status and the body, which must be the
// original API's plain text.
func getText(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, data := fetch(t, url)
	if ct := resp.Header.Get("Content-Type"); ct != httpapi.PlainTextType {
		t.Errorf("GET %s: got Content-Type %q, want %s", url, ct, httpapi.PlainTextType)
	}
	return resp.StatusCode, string(data)
}

// eventStream reads the data of a stream's state events on a goroutine
// that the test's cleanup ends and waits for.
type eventStream struct{ states chan map[string]any }

func openStream(t *testing.T, url string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("GET %s: %v %v", url, resp, err)
	}
	s := &eventStream{states: make(chan map[string]any)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(s.states)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue // ids, event names, heartbeats, blank lines
			}
			var o map[string]any
			_ = json.Unmarshal([]byte(data), &o)
			select {
			case s.states <- o:
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return s
}

func (s *eventStream) nextState(t *testing.T) map[string]any {
	t.Helper()
	select {
	case o, ok := <-s.states:
		if !ok {
			t.Fatal("stream ended, want a state")
		}
		return o
	case <-time.After(30 * time.Second):
		t.Fatal("no state within 30s")
		return nil
	}
}
