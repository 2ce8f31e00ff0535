// Package webhook delivers notifications by POSTing them as JSON to an
// HTTP endpoint, the integration point for a real email/SMS provider.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/order-tracking/platform/services/notification-service/internal/notify"
)

// Config configures a Sender.
type Config struct {
	// URL receives one POST per notification, with the notification as
	// JSON and its event id as Idempotency-Key.
	URL string `env:"NOTIFY_WEBHOOK_URL"`
	// Timeout bounds each attempt, response included.
	Timeout time.Duration `env:"NOTIFY_WEBHOOK_TIMEOUT"`
	// Retries is how many times a failed attempt (network error, timeout,
	// 408, 429 or 5xx) is repeated before Send gives up; the event is then
	// retried by the consumer as a whole.
	Retries int `env:"NOTIFY_WEBHOOK_RETRIES"`
	// Backoff is the wait before the first retry; it doubles for each
	// further one.
	Backoff time.Duration `env:"NOTIFY_WEBHOOK_BACKOFF"`
}

// SetDefaults gives a new Config its defaults: 5s per attempt, 2 retries,
// 200ms before the first. config.Load calls it before reading the
// environment; it sets every field unconditionally because 0 retries and
// no backoff are settings of their own.
func (c *Config) SetDefaults() {
	c.Timeout = 5 * time.Second
	c.Retries = 2
	c.Backoff = 200 * time.Millisecond
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); c.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("NOTIFY_WEBHOOK_URL must be an http or https URL, got %q", c.URL))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("NOTIFY_WEBHOOK_TIMEOUT must be positive, got %s", c.Timeout))
	}
	if c.Retries < 0 {
		errs = append(errs, fmt.Errorf("NOTIFY_WEBHOOK_RETRIES must not be negative, got %d", c.Retries))
	}
	if c.Backoff < 0 {
		errs = append(errs, fmt.Errorf("NOTIFY_WEBHOOK_BACKOFF must not be negative, got %s", c.Backoff))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid webhook config: %w", err)
	}
	return nil
}

// Sender is the webhook notify.Sender. It is safe for concurrent use.
type Sender struct {
	cfg    Config
	client *http.Client
	logger *slog.Logger
}

var _ notify.Sender = (*Sender)(nil)

// NewSender returns a Sender for cfg.
func NewSender(cfg Config, logger *slog.Logger) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Timeouts come from each attempt's context, not from the client, so
	// that they cover the response body too and show up as ctx errors.
	return &Sender{cfg: cfg, client: &http.Client{}, logger: logger}, nil
}

// Send implements notify.Sender. A 4xx answer other than 408 and 429 means
// the provider refused this notification and is returned wrapping
// notify.ErrPermanent; everything else that fails is retried up to
// Retries times, then returned as a transient error.
func (s *Sender) Send(ctx context.Context, n notify.Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("cannot encode notification: %w: %w", notify.ErrPermanent, err)
	}
	backoff := s.cfg.Backoff
	for attempt := 0; ; attempt++ {
		err := s.attempt(ctx, n.EventID, body)
		if err == nil || errors.Is(err, notify.ErrPermanent) || attempt >= s.cfg.Retries {
			return err
		}
		if ctx.Err() != nil {
			// Shutting down or out of the consumer's budget: retrying now
			// cannot succeed, the redelivered event will.
			return err
		}
		s.logger.WarnContext(ctx, "webhook attempt failed, retrying",
			"event_id", n.EventID, "attempt", attempt+1, "backoff", backoff.String(), "error", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		}
		backoff *= 2
	}
}

// maxErrorBody is how much of an error response is quoted in the error.
const maxErrorBody = 256

// attempt makes one POST.
func (s *Sender) attempt(ctx context.Context, eventID string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("cannot build webhook request: %w: %w", notify.ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	// The provider's means to drop the one duplicate the delivery log
	// cannot rule out (see package notify).
	req.Header.Set("Idempotency-Key", eventID)
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook request failed: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	// Drain the rest, so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))

	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("webhook answered %s: %q", resp.Status, snippet)
	default:
		return fmt.Errorf("webhook refused the notification with %s: %q: %w", resp.Status, snippet, notify.ErrPermanent)
	}
}
