package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/testinfra"
	"github.com/order-tracking/platform/services/tracking-service/internal/redis/redistest"
)

func TestIntegrationStreamSendsStateThenChanges(t *testing.T) {
	srv := startServer(t, defaultHTTPConfig(), Options{})
	apply(t, srv.env.Store, order(11, 1, "PENDING"))
	s := openStream(t, srv.base+"/track/11/events")

	for k, want := range map[string]string{
		"Content-Type":      "text/event-stream",
		"Cache-Control":     "no-cache",
		"X-Accel-Buffering": "no",
	} {
		if got := s.resp.Header.Get(k); got != want {
			t.Errorf("got %s %q, want %q", k, got, want)
		}
	}
	if got := s.nextState(t, 5*time.Second); got != toTracked(order(11, 1, "PENDING")) {
		t.Fatalf("got initial state %+v, want version 1", got)
	}
	// A replay changes nothing and sends nothing; the next change is the
	// next event.
	apply(t, srv.env.Store, order(11, 1, "PENDING"), order(11, 2, "SHIPPED"), order(12, 1, "PENDING"))
	if got := s.nextState(t, 5*time.Second); got != toTracked(order(11, 2, "SHIPPED")) {
		t.Fatalf("got %+v, want version 2", got)
	}
}

func TestIntegrationStreamOutlivesServerTimeouts(t *testing.T) {
	// The server cuts ordinary requests off after 300ms; a stream must go
	// on, heartbeats and changes included.
	cfg := defaultHTTPConfig()
	cfg.ReadTimeout, cfg.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	srv := startServer(t, cfg, Options{Heartbeat: 50 * time.Millisecond})
	apply(t, srv.env.Store, order(11, 1, "PENDING"))
	s := openStream(t, srv.base+"/track/11/events")
	s.nextState(t, 5*time.Second)

	start := time.Now()
	heartbeats := 0
	for time.Since(start) < 1500*time.Millisecond {
		select {
		case e, ok := <-s.events:
			if !ok {
				t.Fatalf("stream ended after %s, want it open past the server's timeouts", time.Since(start))
			}
			if e.comment == "heartbeat" {
				heartbeats++
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no heartbeat within 5s")
		}
	}
	if heartbeats < 3 {
		t.Errorf("got %d heartbeats in 1.5s, want several", heartbeats)
	}
	apply(t, srv.env.Store, order(11, 2, "SHIPPED"))
	if got := s.nextState(t, 5*time.Second); got.Version != 2 {
		t.Errorf("got version %d, want 2", got.Version)
	}
}

func TestIntegrationManyStreamsShareOneSubscription(t *testing.T) {
	const streams, orders = 50, 5
	srv := startServer(t, defaultHTTPConfig(), Options{})
	for id := int64(1); id <= orders; id++ {
		apply(t, srv.env.Store, order(id, 1, "PENDING"))
	}
	ss := make([]*sseStream, streams)
	for i := range ss {
		ss[i] = openStream(t, fmt.Sprintf("%s/track/%d/events", srv.base, i%orders+1))
		ss[i].nextState(t, 5*time.Second)
	}
	if n := srv.hub.Len(); n != streams {
		t.Errorf("got %d hub subscribers, want %d", n, streams)
	}
	if ids := redistest.PubSubConns(t, srv.env.Client, srv.env.ClientName); len(ids) != 1 {
		t.Errorf("got %d Redis connections subscribed for %d streams, want 1", len(ids), streams)
	}
	for id := int64(1); id <= orders; id++ {
		apply(t, srv.env.Store, order(id, 2, "SHIPPED"))
	}
	for i, s := range ss {
		if got := s.nextState(t, 5*time.Second); got.OrderID != int64(i%orders+1) || got.Version != 2 {
			t.Errorf("stream %d: got order %d version %d, want order %d version 2", i, got.OrderID, got.Version, i%orders+1)
		}
	}
}

func TestIntegrationClientLeavingFreesSubscriber(t *testing.T) {
	srv := startServer(t, defaultHTTPConfig(), Options{})
	apply(t, srv.env.Store, order(11, 1, "PENDING"))
	s := openStream(t, srv.base+"/track/11/events")
	s.nextState(t, 5*time.Second)
	if n := srv.hub.Len(); n != 1 {
		t.Fatalf("got %d subscribers, want 1", n)
	}
	s.resp.Body.Close()
	testinfra.Eventually(t, 5*time.Second, func() (bool, string) {
		n := srv.hub.Len()
		return n == 0, fmt.Sprintf("%d subscribers left", n)
	})
}

func TestIntegrationShutdownEndsStreams(t *testing.T) {
	srv := startServer(t, defaultHTTPConfig(), Options{})
	apply(t, srv.env.Store, order(11, 1, "PENDING"))
	s := openStream(t, srv.base+"/track/11/events")
	s.nextState(t, 5*time.Second)

	start := time.Now()
	if err := srv.stop(); err != nil {
		t.Fatalf("got %v, want a clean shutdown with a stream open", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %s, want streams to end promptly", d)
	}
	s.waitEnd(t, 5*time.Second)
}

func TestIntegrationStreamErrorsBeforeStreaming(t *testing.T) {
	srv := startServer(t, defaultHTTPConfig(), Options{})
	for _, tt := range []struct {
		target string
		status int
	}{
		{"/track/abc/events", http.StatusBadRequest},
		{"/track/99/events", http.StatusNotFound},
	} {
		resp, err := http.Get(srv.base + tt.target)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: got %s %q, want %d with a problem+json body", tt.target, resp.Status, resp.Header.Get("Content-Type"), tt.status)
		}
	}
	if n := srv.hub.Len(); n != 0 {
		t.Errorf("got %d subscribers after refused streams, want 0", n)
	}
}

// TestIntegrationStreamByCode: the stream of a tracking code sends the
// public view.
func TestIntegrationStreamByCode(t *testing.T) {
	srv := startServer(t, defaultHTTPConfig(), Options{})
	apply(t, srv.env.Store, order(11, 1, "PENDING"))
	s := openStream(t, srv.base+"/track/"+codeOf(11)+"/events")
	first := s.next(t, 5*time.Second)
	if first.name != "state" || strings.Contains(first.data, "Alice") || strings.Contains(first.data, "orderId") ||
		!strings.Contains(first.data, `"trackingCode":"`+codeOf(11)+`"`) {
		t.Fatalf("got %+v, want the public state: tracking code, no name, no id", first)
	}
	apply(t, srv.env.Store, order(11, 2, "SHIPPED"))
	if next := s.next(t, 5*time.Second); !strings.Contains(next.data, `"status":"SHIPPED"`) || strings.Contains(next.data, "Alice") {
		t.Fatalf("got %+v, want the public SHIPPED state", next)
	}
}

// TestIntegrationStreamCaps: streams over the instance's cap answer 503,
// over a client's share 429; a closed stream frees its place.
func TestIntegrationStreamCaps(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		wantStatus int
	}{
		{name: "per client", opts: Options{MaxStreams: 10, MaxStreamsPerClient: 2}, wantStatus: http.StatusTooManyRequests},
		{name: "per instance", opts: Options{MaxStreams: 2, MaxStreamsPerClient: 10}, wantStatus: http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, defaultHTTPConfig(), tc.opts)
			apply(t, srv.env.Store, order(11, 1, "PENDING"))
			url := srv.base + "/track/" + codeOf(11) + "/events"
			a, b := openStream(t, url), openStream(t, url)
			a.next(t, 5*time.Second)
			b.next(t, 5*time.Second)
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("third stream: got %d with Retry-After %q, want %d with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), tc.wantStatus)
			}
			a.close()
			c := waitForStream(t, url)
			c.next(t, 5*time.Second)
		})
	}
}

// TestIntegrationStreamResumesFromLastEventID: a client that reconnects
// (its EventSource sends the last id it saw) or opens the stream from a
// page rendered at some version (?since=) gets every change it missed, in
// order, then the live ones; the stream tells it to reconnect after 1s.
func TestIntegrationStreamResumesFromLastEventID(t *testing.T) {
	srv := startServer(t, defaultHTTPConfig(), Options{})
	apply(t, srv.env.Store, order(11, 1, "PENDING"), order(11, 2, "CONFIRMED"), order(11, 3, "SHIPPED"), order(11, 4, "OUT_FOR_DELIVERY"))
	tests := []struct {
		name, query, lastEventID string
		want                     []int64
	}{
		{name: "first connection", want: []int64{4}},
		{name: "reconnect after version 1", lastEventID: "1", want: []int64{2, 3, 4}},
		{name: "reconnect when up to date", lastEventID: "4", want: []int64{4}},
		{name: "page rendered at version 2", query: "?since=2", want: []int64{3, 4}},
		{name: "Last-Event-ID wins over since", query: "?since=1", lastEventID: "3", want: []int64{4}},
		{name: "nonsense is a first connection", query: "?since=x", lastEventID: "-5", want: []int64{4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStreamAfter(t, srv.base+"/track/11/events"+tc.query, tc.lastEventID)
			select {
			case e := <-s.events:
				if e.retry != "1000" {
					t.Errorf("got first event %+v, want retry: 1000", e)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no retry field within 5s")
			}
			var got []int64
			for range tc.want {
				got = append(got, s.nextState(t, 5*time.Second).Version)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got versions %v, want %v", got, tc.want)
			}
		})
	}
	// Then live: the next change follows the replay.
	s := openStreamAfter(t, srv.base+"/track/11/events", "2")
	for _, want := range []int64{3, 4} {
		if got := s.nextState(t, 5*time.Second); got.Version != want {
			t.Fatalf("got version %d, want %d", got.Version, want)
		}
	}
	apply(t, srv.env.Store, order(11, 5, "DELIVERED"))
	if got := s.nextState(t, 5*time.Second); got.Version != 5 || got.Status != "DELIVERED" {
		t.Errorf("got %+v, want the live change to version 5", got)
	}
}
