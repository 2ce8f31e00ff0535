// Package hub fans the stream of order changes out to the clients watching
// each order, so that any number of watchers cost one Redis subscription in
// total instead of one connection each.
package hub

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

// ErrClosed is returned by Subscribe once the hub is closed, i.e. the
// service is shutting down.
var ErrClosed = errors.New("hub is closed")

// Options tunes a Hub; the zero value is usable.
type Options struct {
	// Buffer is how many changes a subscriber may fall behind before it is
	// dropped; default 16.
	Buffer int
	// Registerer receives the tracking_sse_subscribers gauge; nil means no
	// metrics.
	Registerer prometheus.Registerer
}

// Hub delivers each published change to the subscribers of its order.
//
// Publish never waits for a subscriber: a subscriber whose buffer is full
// is dropped (its channel closed), because blocking would let one slow
// client delay every other, and skipping a change silently would leave it
// showing a wrong state. A dropped client reconnects and reads the current
// state again.
type Hub struct {
	buffer int

	// mu guards subs and closed. Channels are sent to and closed only with
	// mu held, so a send never races a close.
	mu     sync.Mutex
	subs   map[int64]map[*Subscription]struct{}
	count  int
	closed bool
}

// New returns an open hub. It fails only when opts.Registerer refuses the
// hub's gauge, e.g. because another hub registered it there before.
func New(opts Options) (*Hub, error) {
	if opts.Buffer <= 0 {
		opts.Buffer = 16
	}
	h := &Hub{buffer: opts.Buffer, subs: map[int64]map[*Subscription]struct{}{}}
	if opts.Registerer != nil {
		err := opts.Registerer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tracking_sse_subscribers",
			Help: "Clients currently streaming order changes.",
		}, func() float64 { return float64(h.Len()) }))
		if err != nil {
			return nil, fmt.Errorf("cannot register hub metrics: %w", err)
		}
	}
	return h, nil
}

// Subscription receives the changes of one order.
type Subscription struct {
	hub     *Hub
	orderID int64
	ch      chan tracking.Order
}

// Changes delivers the order's changes in the order they were published.
// It is closed when the subscriber is dropped, the hub is reset or closed,
// or Close is called.
func (s *Subscription) Changes() <-chan tracking.Order { return s.ch }

// Close ends the subscription and frees its slot; calling it again, or
// after the hub dropped the subscriber, does nothing.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.remove(s)
}

// Subscribe starts delivering the changes of order id. Changes published
// before the call are not delivered: read the current state after
// subscribing, so that no change falls between the two.
func (h *Hub) Subscribe(id int64) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	s := &Subscription{hub: h, orderID: id, ch: make(chan tracking.Order, h.buffer)}
	if h.subs[id] == nil {
		h.subs[id] = map[*Subscription]struct{}{}
	}
	h.subs[id][s] = struct{}{}
	h.count++
	return s, nil
}

// Publish delivers o to the subscribers of its order.
func (h *Hub) Publish(o tracking.Order) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[o.ID] {
		select {
		case s.ch <- o:
		default:
			h.remove(s)
		}
	}
}

// Reset ends every current subscription, for when changes may have been
// missed (the upstream subscription was down): subscribers reconnect and
// read the current state again. New subscriptions are accepted.
func (h *Hub) Reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeAll()
}

// Close ends every subscription and refuses new ones, so that open streams
// end and the HTTP server can drain on shutdown.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	h.removeAll()
}

// Len returns the number of current subscriptions.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}

// remove drops s if it is still subscribed; h.mu must be held.
func (h *Hub) remove(s *Subscription) {
	set := h.subs[s.orderID]
	if _, ok := set[s]; !ok {
		return
	}
	delete(set, s)
	if len(set) == 0 {
		delete(h.subs, s.orderID)
	}
	h.count--
	close(s.ch)
}

// removeAll drops every subscriber; h.mu must be held.
func (h *Hub) removeAll() {
	for _, set := range h.subs {
		for s := range set {
			close(s.ch)
		}
	}
	h.subs = map[int64]map[*Subscription]struct{}{}
	h.count = 0
}
