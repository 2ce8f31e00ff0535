package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/testinfra"
	"github.com/order-tracking/platform/services/notification-service/internal/notify"
	"github.com/order-tracking/platform/services/notification-service/internal/webhook"
)

var note = notify.Notification{
	EventID:   "6f1c2a4e-8b1d-4c7e-9a55-0d3f2b7e9c10",
	OrderID:   7,
	Channel:   notify.ChannelSMS,
	Recipient: "Alice",
	Text:      "Order 7 status changed to SHIPPED",
}

// request is what the fake provider saw of one call.
type request struct {
	method, contentType, idempotencyKey string
	body                                notify.Notification
}

// provider is a fake webhook endpoint answering each call with the next of
// its statuses (the last one repeats); a status of 0 means "never answer",
// which holds the call until the client gives up.
type provider struct {
	statuses []int

	mu       sync.Mutex // guards requests
	requests []request
}

func (p *provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var n notify.Notification
	_ = json.NewDecoder(r.Body).Decode(&n)
	p.mu.Lock()
	p.requests = append(p.requests, request{r.Method, r.Header.Get("Content-Type"), r.Header.Get("Idempotency-Key"), n})
	i := min(len(p.requests), len(p.statuses)) - 1
	p.mu.Unlock()
	if p.statuses[i] == 0 {
		<-r.Context().Done() // the client timed out and closed the connection
		return
	}
	w.WriteHeader(p.statuses[i])
	_, _ = io.WriteString(w, http.StatusText(p.statuses[i]))
}

func (p *provider) Requests() []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]request(nil), p.requests...)
}

func TestSend(t *testing.T) {
	tests := []struct {
		name          string
		statuses      []int
		retries       int
		wantCalls     int
		wantErr       bool
		wantPermanent bool
		wantInErr     string
	}{
		{"accepted", []int{http.StatusAccepted}, 2, 1, false, false, ""},
		{"500 then success is retried", []int{500, 200}, 2, 2, false, false, ""},
		{"503 twice then success", []int{503, 502, 200}, 2, 3, false, false, ""},
		{"429 is retried", []int{429, 200}, 2, 2, false, false, ""},
		{"5xx beyond the retries is transient", []int{500}, 2, 3, true, false, "500 Internal Server Error"},
		{"no retries configured", []int{500, 200}, 0, 1, true, false, "500"},
		{"400 is permanent, not retried", []int{400, 200}, 2, 1, true, true, "400 Bad Request"},
		{"422 is permanent", []int{422}, 2, 1, true, true, "422"},
		{"timeout is retried, then transient", []int{0}, 1, 2, true, false, "deadline exceeded"},
		{"timeout then success", []int{0, 200}, 1, 2, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &provider{statuses: tt.statuses}
			srv := httptest.NewServer(p)
			defer srv.Close()
			s, err := webhook.NewSender(webhook.Config{
				URL:     srv.URL + "/notify",
				Timeout: 100 * time.Millisecond,
				Retries: tt.retries,
				Backoff: time.Millisecond,
			}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}

			err = s.Send(t.Context(), note)

			switch {
			case !tt.wantErr && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.wantErr && err == nil:
				t.Fatal("got no error, want one")
			case tt.wantErr && errors.Is(err, notify.ErrPermanent) != tt.wantPermanent:
				t.Errorf("got permanent=%v (%v), want %v", errors.Is(err, notify.ErrPermanent), err, tt.wantPermanent)
			case tt.wantErr && !strings.Contains(err.Error(), tt.wantInErr):
				t.Errorf("got error %q, want it to mention %q", err, tt.wantInErr)
			}
			reqs := p.Requests()
			if len(reqs) != tt.wantCalls {
				t.Fatalf("got %d calls, want %d", len(reqs), tt.wantCalls)
			}
			for i, r := range reqs {
				want := request{http.MethodPost, "application/json", note.EventID, note}
				if r != want {
					t.Errorf("call %d: got %+v, want %+v", i+1, r, want)
				}
			}
		})
	}
}

func TestSendStopsWhenContextEnds(t *testing.T) {
	p := &provider{statuses: []int{503}}
	srv := httptest.NewServer(p)
	defer srv.Close()
	s, err := webhook.NewSender(webhook.Config{URL: srv.URL, Timeout: time.Second, Retries: 5, Backoff: time.Hour},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, note) }()
	// Once the first attempt was made, Send fails it and waits an hour
	// before the next: only the cancellation can end it.
	testinfra.Eventually(t, 10*time.Second, func() (bool, string) {
		n := len(p.Requests())
		return n == 1, fmt.Sprintf("provider got %d calls, want 1", n)
	})
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got error %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send did not return within 10s of cancellation")
	}
	if got := len(p.Requests()); got != 1 {
		t.Errorf("got %d calls, want 1", got)
	}
}

func TestConfigValidate(t *testing.T) {
	valid := webhook.Config{URL: "https://notify.example.com/hook", Timeout: 5 * time.Second, Retries: 2, Backoff: 200 * time.Millisecond}
	tests := []struct {
		name    string
		change  func(*webhook.Config)
		wantErr string
	}{
		{"valid", func(*webhook.Config) {}, ""},
		{"zero retries and backoff", func(c *webhook.Config) { c.Retries, c.Backoff = 0, 0 }, ""},
		{"missing url", func(c *webhook.Config) { c.URL = "" }, "NOTIFY_WEBHOOK_URL"},
		{"relative url", func(c *webhook.Config) { c.URL = "/hook" }, "NOTIFY_WEBHOOK_URL"},
		{"other scheme", func(c *webhook.Config) { c.URL = "ftp://example.com/hook" }, "NOTIFY_WEBHOOK_URL"},
		{"zero timeout", func(c *webhook.Config) { c.Timeout = 0 }, "NOTIFY_WEBHOOK_TIMEOUT"},
		{"negative retries", func(c *webhook.Config) { c.Retries = -1 }, "NOTIFY_WEBHOOK_RETRIES"},
		{"negative backoff", func(c *webhook.Config) { c.Backoff = -time.Second }, "NOTIFY_WEBHOOK_BACKOFF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got error %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}
