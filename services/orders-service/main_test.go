package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/testinfra"
)

// TestIntegrationOriginalREADMEFlow runs the whole service in-process against
// the real infrastructure and replays the original system's README calls:
// create an order, ship it, and find both events on the topic, in order.
func TestIntegrationOriginalREADMEFlow(t *testing.T) {
	dbURL := testinfra.NewDatabase(t)
	brokers := testinfra.KafkaBrokers(t)
	topic := testinfra.UniqueName("order-events-e2e")
	base := testinfra.StartService(t, run, map[string]string{
		"DATABASE_URL":         dbURL,
		"KAFKA_BROKERS":        brokers,
		"KAFKA_TOPIC":          topic,
		"LOG_FORMAT":           "text",
		"OUTBOX_POLL_INTERVAL": "200ms",
	}, nil)

	var created map[string]any
	status := call(t, http.MethodPost, base+"/orders/createOrder", `{"customerName":"Alice","item":"Laptop","quantity":1}`, &created)
	if status != http.StatusCreated || created["status"] != "PENDING" {
		t.Fatalf("create: got %d %v, want 201 with a PENDING order", status, created)
	}
	id := int64(created["id"].(float64))
	var updated map[string]any
	status = call(t, http.MethodPut, fmt.Sprintf("%s/orders/updateOrderStatus/%d?status=SHIPPED", base, id), "", &updated)
	if status != http.StatusCreated || updated["status"] != "SHIPPED" {
		t.Fatalf("update: got %d %v, want 201 with a SHIPPED order", status, updated)
	}

	got := consume(t, brokers, topic, 2)
	want := []struct {
		typ     events.Type
		version int64
		status  string
	}{{events.TypeOrderCreated, 1, "PENDING"}, {events.TypeOrderUpdated, 2, "SHIPPED"}}
	for i, w := range want {
		e := got[i]
		if e.Type != w.typ || e.Version != w.version || e.OrderID != id || e.Order.Status != w.status {
			t.Errorf("event %d: got %s v%d order %d %s, want %s v%d order %d %s",
				i, e.Type, e.Version, e.OrderID, e.Order.Status, w.typ, w.version, id, w.status)
		}
	}
}

// TestIntegrationPasswordWithURLCharacters runs the service as a database
// role whose password has every character that breaks a URL unescaped
// (@ : / ? # %), given apart in DATABASE_PASSWORD as the chart gives it from
// its Secret: the service migrates its schema as that role, becomes ready,
// and creates and reads an order.
func TestIntegrationPasswordWithURLCharacters(t *testing.T) {
	const password = "p@ss:w/rd?#%x"
	testinfra.Unsetenv(t, "PGPASSWORD", "PGPASSFILE") // they would stand in for a missing password
	base := testinfra.StartService(t, run, map[string]string{
		"DATABASE_URL":      testinfra.PasswordRole(t, password),
		"DATABASE_PASSWORD": password,
		"KAFKA_BROKERS":     testinfra.KafkaBrokers(t),
		"KAFKA_TOPIC":       testinfra.UniqueName("order-events-password"),
		"LOG_FORMAT":        "text",
	}, nil)

	var created map[string]any
	status := call(t, http.MethodPost, base+"/orders/createOrder", `{"customerName":"Alice","item":"Lamp","quantity":2}`, &created)
	if status != http.StatusCreated {
		t.Fatalf("create: got %d %v, want 201", status, created)
	}
	var fetched map[string]any
	status = call(t, http.MethodGet, fmt.Sprintf("%s/orders/fetchOrder/%v", base, created["id"]), "", &fetched)
	if status != http.StatusOK || fetched["item"] != "Lamp" || fetched["status"] != "PENDING" {
		t.Fatalf("fetch: got %d %v, want 200 with the PENDING Lamp order", status, fetched)
	}
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
		{"unknown command", nil, []string{"frobnicate"}, 2},
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

func call(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", method, url, data, err)
	}
	return resp.StatusCode
}

// consume reads n events from the start of topic, as a plain consumer would.
func consume(t *testing.T, brokers, topic string, n int) []events.Event {
	t.Helper()
	c, err := ckafka.NewConsumer(&ckafka.ConfigMap{
		"bootstrap.servers": brokers,
		"group.id":          testinfra.UniqueName("e2e"),
		"auto.offset.reset": "earliest",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(topic, nil); err != nil {
		t.Fatal(err)
	}
	var got []events.Event
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		m, err := c.ReadMessage(time.Second)
		if err != nil {
			continue // timeouts while the group forms or the relay publishes
		}
		hs := make([]events.Header, len(m.Headers))
		for i, h := range m.Headers {
			hs[i] = events.Header{Key: h.Key, Value: h.Value}
		}
		e, err := events.Decode(hs, m.Value)
		if err != nil {
			t.Fatalf("undecodable event %q: %v", m.Value, err)
		}
		got = append(got, e)
	}
	if len(got) < n {
		t.Fatalf("got %d events within 60s, want %d", len(got), n)
	}
	return got
}
