// Package orders is the client of orders-service's HTTP API that
// tracking-service reads an order from when Redis has forgotten it.
package orders

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/order-tracking/platform/pkg/httpserver"
	"github.com/order-tracking/platform/pkg/logging"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

// maxBodyBytes caps what is read of a response: an order is a few hundred
// bytes, so a bigger body is not one.
const maxBodyBytes = 1 << 20

// Client reads orders from orders-service. It implements tracking.Source.
type Client struct {
	base *url.URL
	http *http.Client
}

var _ tracking.Source = (*Client)(nil)

// NewClient returns a client of the orders-service at baseURL, e.g.
// http://orders-service:8081. timeout bounds each call: a fill happens
// while a client waits, so a slow orders-service must turn into a quick
// 503, not a hanging request. Each call is a client span, and carries the
// caller's trace context (traceparent) to orders-service. transport sends
// the requests, nil meaning http.DefaultTransport; with auth on it is the
// one that adds the service's own token (auth.ClientConfig.Transport).
func NewClient(baseURL string, timeout time.Duration, transport http.RoundTripper) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("orders-service URL must be an absolute http(s) URL, got %q", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if transport == nil {
		transport = http.DefaultTransport
	}
	return &Client{base: u, http: &http.Client{Timeout: timeout, Transport: otelhttp.NewTransport(transport)}}, nil
}

// order is GET /api/v1/orders/{id}'s body.
type order struct {
	ID           int64     `json:"id"`
	TrackingCode string    `json:"trackingCode"`
	Owner        string    `json:"owner"`
	CustomerName string    `json:"customerName"`
	Item         string    `json:"item"`
	Quantity     int       `json:"quantity"`
	Status       string    `json:"status"`
	Version      int64     `json:"version"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Order implements tracking.Source with GET /api/v1/orders/{id}: 404 is
// tracking.ErrNotFound; no answer, a timeout, any other status or a body
// that is not an order wrap tracking.ErrUnavailable.
func (c *Client) Order(ctx context.Context, id int64) (tracking.Order, error) {
	var o order
	if err := c.get(ctx, c.base.JoinPath("api", "v1", "orders", strconv.FormatInt(id, 10)), &o); err != nil {
		return tracking.Order{}, err
	}
	return o.check(id)
}

// OrderByCode implements tracking.Source with GET
// /api/v1/orders?trackingCode=: an empty page is tracking.ErrNotFound.
func (c *Client) OrderByCode(ctx context.Context, code string) (tracking.Order, error) {
	u := c.base.JoinPath("api", "v1", "orders")
	u.RawQuery = url.Values{"trackingCode": {code}, "limit": {"1"}}.Encode()
	var page struct {
		Items []order `json:"items"`
	}
	if err := c.get(ctx, u, &page); err != nil {
		return tracking.Order{}, err
	}
	if len(page.Items) == 0 {
		return tracking.Order{}, tracking.ErrNotFound
	}
	o, err := page.Items[0].check(page.Items[0].ID)
	if err == nil && o.TrackingCode != code {
		return tracking.Order{}, fmt.Errorf("%w: orders-service sent order %d for another tracking code", tracking.ErrUnavailable, o.ID)
	}
	return o, err
}

// History implements tracking.Source with GET /api/v1/orders/{id}/history.
func (c *Client) History(ctx context.Context, id int64) ([]tracking.StatusChange, error) {
	var h []struct {
		Status  string    `json:"status"`
		At      time.Time `json:"at"`
		Version int64     `json:"version"`
	}
	if err := c.get(ctx, c.base.JoinPath("api", "v1", "orders", strconv.FormatInt(id, 10), "history"), &h); err != nil {
		return nil, err
	}
	out := make([]tracking.StatusChange, 0, len(h))
	for _, e := range h {
		if e.Version < 1 || e.Status == "" {
			return nil, fmt.Errorf("%w: orders-service sent a history entry without version or status for order %d", tracking.ErrUnavailable, id)
		}
		out = append(out, tracking.StatusChange{Status: e.Status, At: e.At.UTC(), Version: e.Version})
	}
	return out, nil
}

// ChangedSince implements tracking.Source with GET
// /api/v1/orders?updatedSince=, 200 orders a page.
func (c *Client) ChangedSince(ctx context.Context, since time.Time, cursor string) ([]tracking.Order, string, error) {
	u := c.base.JoinPath("api", "v1", "orders")
	q := url.Values{"updatedSince": {since.UTC().Format(time.RFC3339Nano)}, "limit": {"200"}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	u.RawQuery = q.Encode()
	var page struct {
		Items      []order `json:"items"`
		NextCursor string  `json:"nextCursor"`
	}
	if err := c.get(ctx, u, &page); err != nil {
		return nil, "", err
	}
	out := make([]tracking.Order, 0, len(page.Items))
	for _, o := range page.Items {
		t, err := o.check(o.ID)
		if err != nil {
			return nil, "", err
		}
		out = append(out, t)
	}
	return out, page.NextCursor, nil
}

// get reads u's JSON body into out: 404 is tracking.ErrNotFound, anything
// but 200 wraps tracking.ErrUnavailable (a 401 or 403 too: the service's
// own credentials are wrong, which no client of ours can fix).
func (c *Client) get(ctx context.Context, u *url.URL, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("cannot build orders-service request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	// Carries the caller's request ID on, so one ID ties both services'
	// log lines together.
	if rid := logging.RequestID(ctx); rid != "" {
		req.Header.Set(httpserver.RequestIDHeader, rid)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: cannot reach orders-service: %w", tracking.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return fmt.Errorf("%w: cannot read orders-service response: %w", tracking.ErrUnavailable, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return tracking.ErrNotFound
	default:
		return fmt.Errorf("%w: orders-service answered %s", tracking.ErrUnavailable, resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%w: orders-service sent an undecodable order: %w", tracking.ErrUnavailable, err)
	}
	return nil
}

// check returns o as tracking's order if it is order id, whole.
func (o order) check(id int64) (tracking.Order, error) {
	if o.ID != id || o.Version < 1 || o.Status == "" {
		return tracking.Order{}, fmt.Errorf("%w: orders-service sent order %d version %d status %q for order %d",
			tracking.ErrUnavailable, o.ID, o.Version, o.Status, id)
	}
	return tracking.Order{
		ID: o.ID, TrackingCode: o.TrackingCode, Owner: o.Owner, CustomerName: o.CustomerName, Item: o.Item,
		Quantity: o.Quantity, Status: o.Status, CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC(), Version: o.Version,
	}, nil
}
