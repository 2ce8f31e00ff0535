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
	url := base + "/notifications?orderId=1"
	proxy.Freeze()
	if code, h, took := testinfra.Timed(t, http.MethodGet, url, ""); code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || took > 3*time.Second {
		t.Errorf("frozen: got %d with Retry-After %q after %s, want 503 with Retry-After within 3s", code, h.Get("Retry-After"), took.Round(time.Millisecond))
	}
	proxy.Thaw()
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		code, _, _ := testinfra.Timed(t, http.MethodGet, url, "")
		return code == http.StatusOK, "GET /notifications after the thaw answered " + http.StatusText(code)
	})
}
