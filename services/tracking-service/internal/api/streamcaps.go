package api

import (
	"net/http"
	"sync"

	"github.com/order-tracking/platform/pkg/httpapi"
)

// streamCaps counts the open event streams, per instance and per client,
// and refuses one over either cap. A nil *streamCaps caps nothing.
type streamCaps struct {
	max, perClient int

	// mu guards total and open.
	mu    sync.Mutex
	total int
	open  map[string]int // by client key; a client with none has no entry
}

// newStreamCaps returns caps of total streams and perClient per client; nil
// when both are zero (no caps).
func newStreamCaps(total, perClient int) *streamCaps {
	if total <= 0 && perClient <= 0 {
		return nil
	}
	return &streamCaps{max: total, perClient: perClient, open: map[string]int{}}
}

// acquire counts a new stream of client, or refuses it: 503 when the
// instance is full (another instance may have room), 429 when the client
// has its share open. release must be called when the stream ends.
func (s *streamCaps) acquire(client string) (release func(), err error) {
	if s == nil {
		return func() {}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.max > 0 && s.total >= s.max:
		return nil, &httpapi.StatusError{
			Status: http.StatusServiceUnavailable, Type: "/problems/too-many-streams", Title: "Too many streams",
			Detail: "this instance serves as many event streams as it can; retry later",
			Header: httpapi.RetryAfter(httpapi.DefaultRetryAfter),
		}
	case s.perClient > 0 && s.open[client] >= s.perClient:
		return nil, &httpapi.StatusError{
			Status: http.StatusTooManyRequests, Type: "/problems/too-many-streams", Title: "Too many streams",
			Detail: "this client has as many event streams open as it may; close one first",
			Header: httpapi.RetryAfter(httpapi.DefaultRetryAfter),
		}
	}
	s.total++
	s.open[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.total--
			if s.open[client]--; s.open[client] == 0 {
				delete(s.open, client)
			}
		})
	}, nil
}
