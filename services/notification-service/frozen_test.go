package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/testinfra"
)

// TestIntegrationDatabaseFrozen: with PostgreSQL frozen, GET /notifications
// answers 503 with Retry-After within 3s, and 200 again once it thaws.
func TestIntegrationDatabaseFrozen(t *testing.T) {
	dbURL := testinfra.NewDatabase(t)
	proxy := testinfra.NewProxy(t, testinfra.Host(t, dbURL))
	base := testinfra.StartService(t, run, map[string]string{
		"DATABASE_URL":   proxy.Through(t, dbURL),
		"KAFKA_BROKERS":  testinfra.KafkaBrokers(t),
		"KAFKA_TOPIC":    testinfra.UniqueName("order-events-frozen"),
		"KAFKA_GROUP_ID": testinfra.UniqueName("notification-frozen-"),
		"LOG_FORMAT":     "text",
	}, nil)
	get := func() (int, string, time.Duration) {
		start := time.Now()
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(base + "/notifications?orderId=1")
		if err != nil {
			t.Fatalf("no answer within 10s: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start)
	}
	proxy.Freeze()
	if code, retry, took := get(); code != http.StatusServiceUnavailable || retry == "" || took > 3*time.Second {
		t.Errorf("frozen: got %d with Retry-After %q after %s, want 503 with Retry-After within 3s", code, retry, took.Round(time.Millisecond))
	}
	proxy.Thaw()
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		code, _, _ := get()
		return code == http.StatusOK, "GET /notifications after the thaw answered " + http.StatusText(code)
	})
}
