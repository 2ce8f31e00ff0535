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
// caller's trace context (traceparent) to orders-service.
func NewClient(baseURL string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("orders-service URL must be an absolute http(s) URL, got %q", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{base: u, http: &http.Client{Timeout: timeout, Transport: otelhttp.NewTransport(http.DefaultTransport)}}, nil
}

// order is GET /api/v1/orders/{id}'s body.
type order struct {
	ID           int64     `json:"id"`
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
	u := c.base.JoinPath("api", "v1", "orders", strconv.FormatInt(id, 10))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return tracking.Order{}, fmt.Errorf("cannot build orders-service request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	// Carries the caller's request ID on, so one ID ties both services'
	// log lines together.
	if rid := logging.RequestID(ctx); rid != "" {
		req.Header.Set(httpserver.RequestIDHeader, rid)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return tracking.Order{}, fmt.Errorf("%w: cannot reach orders-service: %w", tracking.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return tracking.Order{}, fmt.Errorf("%w: cannot read orders-service response: %w", tracking.ErrUnavailable, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return tracking.Order{}, tracking.ErrNotFound
	default:
		return tracking.Order{}, fmt.Errorf("%w: orders-service answered %s", tracking.ErrUnavailable, resp.Status)
	}
	var o order
	if err := json.Unmarshal(body, &o); err != nil {
		return tracking.Order{}, fmt.Errorf("%w: orders-service sent an undecodable order: %w", tracking.ErrUnavailable, err)
	}
	if o.ID != id || o.Version < 1 || o.Status == "" {
		return tracking.Order{}, fmt.Errorf("%w: orders-service sent order %d version %d status %q for order %d",
			tracking.ErrUnavailable, o.ID, o.Version, o.Status, id)
	}
	return tracking.Order{
		ID: o.ID, CustomerName: o.CustomerName, Item: o.Item, Quantity: o.Quantity, Status: o.Status,
		CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC(), Version: o.Version,
	}, nil
}
