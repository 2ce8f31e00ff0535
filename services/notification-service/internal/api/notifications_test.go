package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/order-tracking/platform/pkg/guard"
	"github.com/order-tracking/platform/pkg/httpserver"
	"github.com/order-tracking/platform/services/notification-service/internal/api"
	"github.com/order-tracking/platform/services/notification-service/internal/notify"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres/postgrestest"
)

// Content types of the answers: a list, and an error.
const (
	jsonType    = "application/json; charset=utf-8"
	problemType = "application/problem+json"
)

// newHandler serves the API over deliveries the way the service does,
// logging to logs.
func newHandler(t *testing.T, deliveries notify.DeliveryLog, logs io.Writer) http.Handler {
	t.Helper()
	log := slog.New(slog.NewTextHandler(logs, nil))
	srv, err := httpserver.New(httpserver.Config{}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	api.Register(srv.Router(), log, deliveries, guard.Guards{})
	return srv.Handler()
}

// get sends GET target to h, checks the answer against the OpenAPI
// document and that it has Content-Type wantType, decodes its body into out
// and returns its status.
func get(t *testing.T, h http.Handler, target, wantType string, out any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	openAPI(t).Validate(t, http.MethodGet, target, rec)
	if ct := rec.Header().Get("Content-Type"); ct != wantType {
		t.Errorf("got Content-Type %q, want %q", ct, wantType)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
	}
	return rec.Code
}

// problem is an error answer, decoded loosely so that the test checks the
// JSON member names of RFC 9457.
type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
}

// listed is one element of the answer, decoded loosely so that the test
// checks the JSON field names, not only what our own types round-trip.
type listed struct {
	EventID   string  `json:"eventId"`
	OrderID   int64   `json:"orderId"`
	Channel   string  `json:"channel"`
	Recipient string  `json:"recipient"`
	Text      string  `json:"text"`
	Status    string  `json:"status"`
	SentAt    *string `json:"sentAt"`
}

func TestIntegrationListNotifications(t *testing.T) {
	log := postgres.NewDeliveryLog(postgrestest.NewPool(t))
	ok := func(context.Context, notify.Notification) error { return nil }
	failing := func(context.Context, notify.Notification) error { return errors.New("provider down") }
	seed := []struct {
		n    notify.Notification
		send func(context.Context, notify.Notification) error
	}{
		{notify.Notification{EventID: uuid.NewString(), OrderID: 7, Channel: notify.ChannelEmail, Recipient: "Alice", Text: "created"}, ok},
		{notify.Notification{EventID: uuid.NewString(), OrderID: 8, Channel: notify.ChannelEmail, Recipient: "Bob", Text: "other order"}, ok},
		{notify.Notification{EventID: uuid.NewString(), OrderID: 7, Channel: notify.ChannelSMS, Recipient: "Alice", Text: "shipped"}, ok},
		{notify.Notification{EventID: uuid.NewString(), OrderID: 7, Channel: notify.ChannelSMS, Recipient: "Alice", Text: "delivered"}, failing},
	}
	for _, s := range seed {
		_, _ = log.Deliver(t.Context(), s.n, s.send) // the failing one errs on purpose
	}
	h := newHandler(t, log, io.Discard)

	var got []listed
	if code := get(t, h, "/notifications?orderId=7", jsonType, &got); code != http.StatusOK {
		t.Fatalf("got status %d, want 200", code)
	}
	want := []struct {
		seed   int
		status string
	}{{3, "pending"}, {2, "sent"}, {0, "sent"}} // newest first
	if len(got) != len(want) {
		t.Fatalf("got %d notifications %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		n := seed[w.seed].n
		g := got[i]
		if g.EventID != n.EventID || g.OrderID != n.OrderID || g.Channel != string(n.Channel) ||
			g.Recipient != n.Recipient || g.Text != n.Text || g.Status != w.status {
			t.Errorf("notification %d: got %+v, want %+v with status %s", i, g, n, w.status)
		}
		switch {
		case w.status == "pending" && g.SentAt != nil:
			t.Errorf("notification %d: got sentAt %s, want null while pending", i, *g.SentAt)
		case w.status == "sent" && g.SentAt == nil:
			t.Errorf("notification %d: got sentAt null, want a time", i)
		case w.status == "sent":
			if _, err := time.Parse(time.RFC3339Nano, *g.SentAt); err != nil {
				t.Errorf("notification %d: got sentAt %q, want RFC 3339: %v", i, *g.SentAt, err)
			}
		}
	}

	t.Run("none", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/notifications?orderId=424242", nil))
		if rec.Code != http.StatusOK || rec.Body.String() != "[]" {
			t.Fatalf("got %d %q, want 200 []", rec.Code, rec.Body.String())
		}
	})
}

func TestListNotificationsBadOrderID(t *testing.T) {
	h := newHandler(t, unreachable{}, io.Discard)
	tests := []struct {
		name, query, wantErr string
	}{
		{"missing", "", "orderId is required"},
		{"empty", "?orderId=", "orderId is required"},
		{"not a number", "?orderId=abc", `orderId must be a positive integer, got "abc"`},
		{"zero", "?orderId=0", `orderId must be a positive integer, got "0"`},
		{"negative", "?orderId=-3", `orderId must be a positive integer, got "-3"`},
		{"fraction", "?orderId=1.5", `orderId must be a positive integer, got "1.5"`},
		{"overflow", "?orderId=9223372036854775808", `orderId must be a positive integer, got "9223372036854775808"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body problem
			if code := get(t, h, "/notifications"+tt.query, problemType, &body); code != http.StatusBadRequest {
				t.Fatalf("got status %d, want 400", code)
			}
			if body.Detail != tt.wantErr {
				t.Errorf("got detail %q, want %q", body.Detail, tt.wantErr)
			}
			if body.Status != http.StatusBadRequest || body.Instance != "/notifications" {
				t.Errorf("got status %d and instance %q in the body, want 400 and /notifications", body.Status, body.Instance)
			}
		})
	}
}

func TestListNotificationsStoreFailureIsHidden(t *testing.T) {
	var logs bytes.Buffer
	h := newHandler(t, unreachable{}, &logs)
	var body problem
	if code := get(t, h, "/notifications?orderId=7", problemType, &body); code != http.StatusInternalServerError {
		t.Fatalf("got status %d, want 500", code)
	}
	if body.Detail != "internal server error" {
		t.Errorf("got detail %q, want the generic text, not the cause", body.Detail)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("got log %q, want the cause logged as an error", logs.String())
	}
}

// TestListNotificationsProblemShape pins the whole error answer, byte for
// byte: the RFC 9457 members in order, the same shape as orders-service's
// /api/v1 problems.
func TestListNotificationsProblemShape(t *testing.T) {
	h := newHandler(t, unreachable{}, io.Discard)
	tests := []struct {
		name, target string
		wantStatus   int
		wantBody     string
	}{
		{"bad orderId", "/notifications?orderId=abc", http.StatusBadRequest,
			`{"type":"/problems/invalid-request","title":"Invalid request","status":400,` +
				`"detail":"orderId must be a positive integer, got \"abc\"","instance":"/notifications"}`},
		{"store failure", "/notifications?orderId=7", http.StatusInternalServerError,
			`{"type":"about:blank","title":"Internal Server Error","status":500,` +
				`"detail":"internal server error","instance":"/notifications"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.target, nil))
			if rec.Code != tt.wantStatus {
				t.Errorf("got status %d, want %d", rec.Code, tt.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != problemType {
				t.Errorf("got Content-Type %q, want %q", ct, problemType)
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("got body %s, want %s", got, tt.wantBody)
			}
		})
	}
}

// unreachable is a delivery log whose database is down.
type unreachable struct{ notify.DeliveryLog }

func (unreachable) List(context.Context, int64) ([]notify.Delivery, error) {
	return nil, errors.New("dial tcp 10.0.0.1:5432: connection refused")
}
