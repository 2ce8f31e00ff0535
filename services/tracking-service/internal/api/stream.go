package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/pkg/httpserver"
	"github.com/order-tracking/platform/pkg/ratelimit"
	"github.com/order-tracking/platform/services/tracking-service/internal/hub"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

// streamWriteTimeout bounds each write to a stream. The server's own
// WriteTimeout covers a whole response and would cut every stream off
// after 30s, so streams replace it with a deadline per write: a client that
// stopped reading still gets dropped, a client that keeps reading stays.
const streamWriteTimeout = 10 * time.Second

// handleEvents serves GET /track/:id/events, a Server-Sent Events stream:
// the order's current state at once, then every change as it is stored,
// each as an event named "state" whose id is the version and whose data is
// the order as GET /track/{id} writes it. Comment lines keep the stream
// alive while nothing changes.
//
// The stream ends when the client leaves, when it falls too far behind,
// when the change subscription was interrupted (changes may have been
// missed) and when the service shuts down. In every case but the first the
// client's EventSource reconnects and starts again from the current state.
func handleEvents(svc *tracking.Service, changes *hub.Hub, heartbeat time.Duration, caps *streamCaps) httpapi.HandlerFunc {
	return func(c *gin.Context) error {
		t, err := resolve(c, svc)
		if err != nil {
			return err
		}
		release, err := caps.acquire(ratelimit.ClientKey(c))
		if err != nil {
			return err
		}
		defer release()
		// A stream lasts as long as its client listens: the request's
		// deadline, which bounded resolve above, does not apply to it.
		defer httpserver.Unbounded(c)()
		id := t.id
		// Subscribe before reading the state, so that a change stored in
		// between is delivered rather than lost; the version check below
		// drops it if the state read already included it.
		sub, err := changes.Subscribe(id)
		if err != nil {
			return err
		}
		defer sub.Close()
		ctx := c.Request.Context()
		o, err := svc.Get(ctx, id)
		if err != nil {
			return err
		}

		// The server's ReadTimeout needs no care: net/http clears the read
		// deadline once the request is read, to notice the client leaving.
		rc := http.NewResponseController(c.Writer)
		h := c.Writer.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		// Stops nginx (and ingress-nginx) from buffering the stream.
		h.Set("X-Accel-Buffering", "no")
		c.Status(http.StatusOK)

		// From here on the answer is under way: what ends the stream is
		// nobody's error to report.
		st := stream{w: c.Writer, rc: rc, view: t.view}
		if err := st.retry(reconnectDelay); err != nil {
			return nil
		}
		if err := st.replay(ctx, svc, o, lastSeen(c)); err != nil {
			return nil
		}
		st.follow(ctx, o, sub, heartbeat)
		return nil
	}
}

// reconnectDelay is how long a client's EventSource waits before it
// reconnects a dropped stream: a restarted instance or a failover is back
// within about that, and browsers' default (3s or more) would leave the
// tracking page stale for longer than it needs.
const reconnectDelay = time.Second

// lastSeen is the version the client last saw: its EventSource's
// Last-Event-ID on a reconnect, else the since query parameter (a page
// rendered at a version opens its first stream from there). Zero means
// none; anything that is not a positive integer counts as none, as the
// stream then starts from the current state like any first connection.
func lastSeen(c *gin.Context) int64 {
	v := c.GetHeader("Last-Event-ID")
	if v == "" {
		v = c.Query("since")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0
	}
	return n
}

// replay sends the states between seen and o, the current one, from the
// order's timeline: the changes a client missed while it was away, so that
// its timeline has no hole. Only status, time and version change along a
// timeline; the rest is o's. A timeline that cannot be read is skipped:
// the client still gets the current state next.
func (s stream) replay(ctx context.Context, svc *tracking.Service, o tracking.Order, seen int64) error {
	if seen == 0 || o.Version <= seen+1 {
		return nil
	}
	h, err := svc.History(ctx, o.ID)
	if err != nil {
		return nil
	}
	for _, c := range h {
		if c.Version <= seen || c.Version >= o.Version {
			continue
		}
		missed := o
		missed.Status, missed.UpdatedAt, missed.Version = c.Status, c.At, c.Version
		if err := s.state(missed); err != nil {
			return err
		}
	}
	return nil
}

// retry tells the client how long to wait before reconnecting.
func (s stream) retry(d time.Duration) error {
	return s.send(func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "retry: %d\n\n", d.Milliseconds())
		return err
	})
}

// follow sends o, then every newer state from sub, with a heartbeat
// comment every heartbeat, until the client leaves, the
// subscription ends or a write fails (the client is gone or stuck; nobody
// to tell).
func (s stream) follow(ctx context.Context, o tracking.Order, sub *hub.Subscription, heartbeat time.Duration) {
	if err := s.state(o); err != nil {
		return
	}
	last := o.Version
	ticker := time.NewTicker(heartbeat)
	defer ticker.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case o, ok := <-sub.Changes():
			if !ok {
				return
			}
			if o.Version <= last {
				continue
			}
			last = o.Version
			err = s.state(o)
		case <-ticker.C:
			err = s.comment("heartbeat")
		}
		if err != nil {
			return
		}
	}
}

// stream writes Server-Sent Events, each flushed at once.
type stream struct {
	w  io.Writer
	rc *http.ResponseController
	// view is the shape of the states sent: what the caller may see.
	view func(tracking.Order) any
}

// state sends o as a "state" event.
func (s stream) state(o tracking.Order) error {
	// Both views always marshal, and to one line, as data must be.
	data, _ := json.Marshal(s.view(o))
	return s.send(func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "id: %s\nevent: state\ndata: %s\n\n", strconv.FormatInt(o.Version, 10), data)
		return err
	})
}

// comment sends a comment line, which clients ignore.
func (s stream) comment(text string) error {
	return s.send(func(w io.Writer) error {
		_, err := fmt.Fprintf(w, ": %s\n\n", text)
		return err
	})
}

func (s stream) send(write func(io.Writer) error) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if err := write(s.w); err != nil {
		return err
	}
	return s.rc.Flush()
}
