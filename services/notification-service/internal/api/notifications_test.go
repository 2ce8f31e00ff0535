package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/order-tracking/platform/pkg/httpserver"
	"github.com/order-tracking/platform/services/notification-service/internal/api"
	"github.com/order-tracking/platform/services/notification-service/internal/notify"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres/postgrestest"
)

// newHandler serves the API over deliveries the way the service does.
func newHandler(deliveries notify.DeliveryLog) http.Handler {
	srv := httpserver.New(httpserver.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	api.Register(srv.Router(), deliveries)
	return srv.Handler()
}

func get(t *testing.T, h http.Handler, target string, out any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("got Content-Type %q, want application/json", ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
	}
	return rec.Code
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
	h := newHandler(log)

	var got []listed
	if code := get(t, h, "/notifications?orderId=7", &got); code != http.StatusOK {
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
	h := newHandler(unreachable{})
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
			var body struct {
				Error string `json:"error"`
			}
			if code := get(t, h, "/notifications"+tt.query, &body); code != http.StatusBadRequest {
				t.Fatalf("got status %d, want 400", code)
			}
			if body.Error != tt.wantErr {
				t.Errorf("got error %q, want %q", body.Error, tt.wantErr)
			}
		})
	}
}

func TestListNotificationsStoreFailureIsHidden(t *testing.T) {
	h := newHandler(unreachable{})
	var body struct {
		Error string `json:"error"`
	}
	if code := get(t, h, "/notifications?orderId=7", &body); code != http.StatusInternalServerError {
		t.Fatalf("got status %d, want 500", code)
	}
	if body.Error != "internal server error" {
		t.Errorf("got error %q, want the generic text, not the cause", body.Error)
	}
}

// unreachable is a delivery log whose database is down.
type unreachable struct{ notify.DeliveryLog }

func (unreachable) List(context.Context, int64) ([]notify.Delivery, error) {
	return nil, errors.New("dial tcp 10.0.0.1:5432: connection refused")
}
