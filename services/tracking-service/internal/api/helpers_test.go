package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/httpserver"
	"github.com/order-tracking/platform/services/tracking-service/internal/hub"
	"github.com/order-tracking/platform/services/tracking-service/internal/orders"
	"github.com/order-tracking/platform/services/tracking-service/internal/redis/redistest"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

func init() { gin.SetMode(gin.TestMode) }

var (
	t0    = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	quiet = slog.New(slog.DiscardHandler)
)

// order returns the state of order id at version v.
func order(id, v int64, status string) tracking.Order {
	return tracking.Order{
		ID: id, TrackingCode: codeOf(id), Owner: "alice", CustomerName: "Alice", Item: "Laptop", Quantity: 1, Status: status,
		CreatedAt: t0, UpdatedAt: t0.Add(time.Duration(v) * time.Minute), Version: v,
	}
}

// codeOf is the tracking code the tests give order id.
func codeOf(id int64) string { return fmt.Sprintf("trk_%032x", id) }

// fakeOrdersService stands in for orders-service's GET /api/v1/orders/{id}
// and GET /api/v1/orders?trackingCode=: it knows known, answers 500 for
// order 500 and 404 (or an empty page) for anything else.
func fakeOrdersService(t *testing.T, known ...tracking.Order) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode := func(o tracking.Order) map[string]any {
			return map[string]any{
				"id": o.ID, "trackingCode": o.TrackingCode, "owner": o.Owner, "customerName": o.CustomerName, "item": o.Item,
				"quantity": o.Quantity, "status": o.Status, "createdAt": o.CreatedAt, "updatedAt": o.UpdatedAt, "version": o.Version,
			}
		}
		w.Header().Set("Content-Type", "application/json")
		if code := r.URL.Query().Get("trackingCode"); r.URL.Path == "/api/v1/orders" && code != "" {
			items := []any{}
			for _, o := range known {
				if o.TrackingCode == code {
					items = append(items, encode(o))
				}
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"items": items})
			return
		}
		if rest, ok := strings.CutSuffix(r.URL.Path, "/history"); ok {
			id, _ := strconv.ParseInt(strings.TrimPrefix(rest, "/api/v1/orders/"), 10, 64)
			for _, o := range known {
				if o.ID == id {
					// The whole timeline: every version, PENDING first.
					h := []map[string]any{}
					for v := int64(1); v <= o.Version; v++ {
						status := "PENDING"
						if v == o.Version {
							status = o.Status
						}
						h = append(h, map[string]any{"status": status, "at": o.CreatedAt.Add(time.Duration(v) * time.Minute), "version": v})
					}
					_ = json.NewEncoder(w).Encode(h)
					return
				}
			}
			w.WriteHeader(http.StatusNotFound)
			return
		}
		id, _ := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/api/v1/orders/"), 10, 64)
		if id == 500 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		for _, o := range known {
			if o.ID == id {
				_ = json.NewEncoder(w).Encode(encode(o))
				return
			}
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"type":"/problems/not-found","status":404}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// closedURL is the URL of a port nobody listens on: orders-service down.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}

// newHub is an open hub without metrics.
func newHub(t *testing.T) *hub.Hub {
	t.Helper()
	h, err := hub.New(hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newService(t *testing.T, store tracking.Store, ordersURL string) *tracking.Service {
	t.Helper()
	c, err := orders.NewClient(ordersURL, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tracking.NewService(store, c)
}

func apply(t *testing.T, s tracking.Store, os ...tracking.Order) {
	t.Helper()
	for _, o := range os {
		if _, err := s.Apply(t.Context(), o); err != nil {
			t.Fatalf("cannot apply %+v: %v", o, err)
		}
	}
}

// testServer is the API on pkg/httpserver, wired like main wires it: the
// store's change subscription feeds the hub, and the hub closes when the
// server's context ends.
type testServer struct {
	base string
	env  redistest.Env
	hub  *hub.Hub
	stop func() error // shuts the server down, returns Serve's error
}

func startServer(t *testing.T, httpCfg httpserver.Config, opts Options) *testServer {
	t.Helper()
	env := redistest.New(t, 0)
	h := newHub(t)
	srv, err := httpserver.New(httpCfg, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	Register(srv.Router(), quiet, newService(t, env.Store, fakeOrdersService(t)), h, opts)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	subscribed := make(chan struct{}, 1)
	served, watched := make(chan error, 1), make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	go func() {
		watched <- env.Store.Watch(ctx, h.Publish, func() {
			h.Reset()
			select {
			case subscribed <- struct{}{}:
			default:
			}
		})
	}()
	go func() { <-ctx.Done(); h.Close() }()

	stopped := false
	var serveErr error
	stop := func() error {
		if stopped {
			return serveErr
		}
		stopped = true
		cancel()
		for _, ch := range []chan error{served, watched} {
			select {
			case err := <-ch:
				if ch == served {
					serveErr = err
				}
			case <-time.After(15 * time.Second):
				t.Error("server did not stop within 15s")
			}
		}
		return serveErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("server: got %v, want a clean shutdown", err)
		}
	})
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("change subscription not established within 10s")
	}
	return &testServer{base: "http://" + ln.Addr().String(), env: env, hub: h, stop: stop}
}

func defaultHTTPConfig() httpserver.Config {
	return httpserver.Config{
		Port: 1, ShutdownTimeout: 10 * time.Second, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute,
	}
}

// sseEvent is one Server-Sent Event, or a comment line when comment is set.
type sseEvent struct {
	id, name, data string
	comment        string
	retry          string
}

// sseStream is an open event stream as a client reads it.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent // closed when the stream ends
	cancel context.CancelFunc
}

// close ends the stream from the client's side.
func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// openStream opens url and reads its events on a goroutine that ends with
// the stream; the test's cleanup closes the stream and waits for it.
func openStream(t *testing.T, url string) *sseStream {
	t.Helper()
	return openStreamAfter(t, url, "")
}

// openStreamAfter opens url as an EventSource reconnecting after the event
// lastEventID does (none when empty).
func openStreamAfter(t *testing.T, url, lastEventID string) *sseStream {
	t.Helper()
	s, status := tryStream(t, url, lastEventID)
	if s == nil {
		t.Fatalf("GET %s: got status %d, want a stream", url, status)
	}
	return s
}

// waitForStream opens url, retrying for up to 5s while it is refused: a
// stream's place is freed once the server notices its client left.
func waitForStream(t *testing.T, url string) *sseStream {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, status := tryStream(t, url, "")
		if s != nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: still %d after 5s, want a stream", url, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tryStream opens url, sending lastEventID as Last-Event-ID unless empty:
// a stream when it answers 200, else nil and the status.
func tryStream(t *testing.T, url, lastEventID string) (*sseStream, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode
	}
	s := &sseStream{resp: resp, events: make(chan sseEvent, 1024), cancel: cancel}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(s.events)
		readEvents(ctx, resp.Body, s.events)
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return s, http.StatusOK
}

// readEvents parses r into out until r ends or ctx is cancelled.
func readEvents(ctx context.Context, r io.Reader, out chan<- sseEvent) {
	sc := bufio.NewScanner(r)
	var e sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
			e = sseEvent{}
		case strings.HasPrefix(line, ":"):
			e.comment = strings.TrimSpace(line[1:])
		default:
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "id":
				e.id = v
			case "event":
				e.name = v
			case "data":
				e.data = v
			case "retry":
				e.retry = v
			}
		}
	}
}

// next returns the next event that is not a comment or a retry, failing the test if
// none comes within timeout or the stream ends, or if the OpenAPI document
// does not allow it.
func (s *sseStream) next(t *testing.T, timeout time.Duration) sseEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				t.Fatal("stream ended, want an event")
			}
			if e.comment == "" && e.retry == "" {
				checkEvent(t, e)
				return e
			}
		case <-deadline:
			t.Fatalf("no event within %s", timeout)
		}
	}
}

// nextState returns the order of the next event, which must be a state.
func (s *sseStream) nextState(t *testing.T, timeout time.Duration) trackedOrder {
	t.Helper()
	e := s.next(t, timeout)
	var o trackedOrder
	if err := json.Unmarshal([]byte(e.data), &o); err != nil || e.name != "state" || e.id != strconv.FormatInt(o.Version, 10) {
		t.Fatalf("got event %+v, want a state event whose id is its version", e)
	}
	return o
}

// waitEnd waits for the stream to end, skipping what it still sends.
func (s *sseStream) waitEnd(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("stream still open after %s, want it ended", timeout)
		}
	}
}
