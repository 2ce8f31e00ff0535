// Package orderapi is the harness's client of the platform's HTTP API: the
// original orders-service endpoints that create and move orders, and
// tracking-service's GET /track/{id} and its event stream.
package orderapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Forward is the path an order takes, one valid move after another from
// PENDING: each move answers 201 and adds one to the order's version.
var Forward = []string{"CONFIRMED", "SHIPPED", "OUT_FOR_DELIVERY", "DELIVERED"}

// Client calls orders-service at Orders and tracking-service at Tracking
// (base URLs, e.g. http://127.0.0.1:8081).
type Client struct {
	Orders, Tracking string
	HTTP             *http.Client
}

// NewHTTPClient returns a client whose connections are kept for reuse, up
// to idle per host: under load the harness must not measure TCP handshakes.
func NewHTTPClient(idle int, timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2 * idle
	t.MaxIdleConnsPerHost = idle
	return &http.Client{Transport: t, Timeout: timeout}
}

// StatusError is an answer other than the one the call expects.
type StatusError struct {
	Method, URL string
	Code        int
	Body        string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: got %d, want success: %s", e.Method, e.URL, e.Code, e.Body)
}

// Create creates an order with the original API and returns its id.
func (c *Client) Create(ctx context.Context, customer, item string) (int64, error) {
	body, _ := json.Marshal(map[string]any{"customerName": customer, "item": item, "quantity": 1})
	var o struct {
		ID int64 `json:"id"`
	}
	err := c.do(ctx, http.MethodPost, c.Orders+"/orders/createOrder", body, http.StatusCreated, &o)
	if err == nil && o.ID < 1 {
		err = fmt.Errorf("POST %s/orders/createOrder: answer has no order id", c.Orders)
	}
	return o.ID, err
}

// Move sets the order's status with the original API, which answers 201
// for a change; anything else (200 for a no-op, 409 for a forbidden move)
// is an error, as the harness only ever asks for valid moves.
func (c *Client) Move(ctx context.Context, id int64, status string) error {
	u := fmt.Sprintf("%s/orders/updateOrderStatus/%d?status=%s", c.Orders, id, url.QueryEscape(status))
	return c.do(ctx, http.MethodPut, u, nil, http.StatusCreated, nil)
}

// Track returns the version tracking-service answers for the order.
func (c *Client) Track(ctx context.Context, id int64) (int64, error) {
	var o struct {
		Version int64 `json:"version"`
	}
	err := c.do(ctx, http.MethodGet, c.Tracking+"/track/"+strconv.FormatInt(id, 10), nil, http.StatusOK, &o)
	return o.Version, err
}

// Events opens the order's event stream; the caller reads it (package sse)
// and closes it. It ends with ctx.
func (c *Client) Events(ctx context.Context, id int64) (io.ReadCloser, error) {
	u := c.Tracking + "/track/" + strconv.FormatInt(id, 10) + "/events"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, statusError(req, resp)
	}
	return resp.Body, nil
}

func (c *Client) do(ctx context.Context, method, u string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return statusError(req, resp)
	}
	if out == nil {
		// Read to the end, so the connection goes back to the pool.
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: cannot decode answer: %w", method, u, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

func statusError(req *http.Request, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &StatusError{Method: req.Method, URL: req.URL.String(), Code: resp.StatusCode, Body: string(b)}
}

// CreateMany makes n orders with concurrency workers, the i-th for
// customer(i), and returns their ids in that order; the first error stops
// every worker.
func (c *Client) CreateMany(ctx context.Context, n, concurrency int, customer func(int) string) ([]int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	ids := make([]int64, n)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for i := range next {
				id, err := c.Create(ctx, customer(i), "Laptop")
				if err != nil {
					cancel(err)
					return
				}
				ids[i] = id // each i is written by one worker only
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("cannot create %d orders: %w", n, context.Cause(ctx))
	}
	return ids, nil
}

// ReadIDs reads a file of order ids, one per line, as seed and the wrk
// create scenarios write them.
func ReadIDs(path string) ([]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, f := range strings.Fields(string(b)) {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
