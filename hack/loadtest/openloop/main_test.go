package main

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSend(t *testing.T) {
	fail := errors.New("refused")
	tests := []struct {
		name                            string
		n, rate, maxInFlight            int
		next                            func(context.Context) (func(context.Context) error, bool)
		wantOK, wantErrors, wantDropped int64
		wantStarved                     int64
	}{
		{
			name: "every request answered", n: 20, rate: 1000, maxInFlight: 100,
			next: func(context.Context) (func(context.Context) error, bool) {
				return func(context.Context) error { return nil }, true
			},
			wantOK: 20,
		},
		{
			name: "errors counted, not timed", n: 10, rate: 1000, maxInFlight: 100,
			next: func(context.Context) (func(context.Context) error, bool) {
				return func(context.Context) error { return fail }, true
			},
			wantErrors: 10,
		},
		{
			name: "nothing ready: starved", n: 5, rate: 1000, maxInFlight: 100,
			next:        func(context.Context) (func(context.Context) error, bool) { return nil, false },
			wantStarved: 5,
		},
		{
			// The first request never answers before the others are due,
			// so with one allowed in flight every later one is dropped.
			name: "a slow service: dropped, never waited for", n: 5, rate: 1000, maxInFlight: 1,
			next: func(context.Context) (func(context.Context) error, bool) {
				return func(context.Context) error { time.Sleep(100 * time.Millisecond); return nil }, true
			},
			wantOK: 1, wantDropped: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t.Context(), tt.n, tt.rate, tt.maxInFlight, tt.next)
			if got := int64(len(r.latencies)); got != tt.wantOK || r.errors != tt.wantErrors || r.dropped != tt.wantDropped || r.starved != tt.wantStarved {
				t.Errorf("got ok %d, errors %d, dropped %d, starved %d; want %d, %d, %d, %d",
					got, r.errors, r.dropped, r.starved, tt.wantOK, tt.wantErrors, tt.wantDropped, tt.wantStarved)
			}
		})
	}
}

// TestSendTimesFromDue checks that a request's latency counts from when it
// was due, so that time spent behind schedule is not hidden.
func TestSendTimesFromDue(t *testing.T) {
	r := send(t.Context(), 1, 1, 10, func(context.Context) (func(context.Context) error, bool) {
		return func(context.Context) error { time.Sleep(30 * time.Millisecond); return nil }, true
	})
	if len(r.latencies) != 1 || r.latencies[0] < 30*time.Millisecond {
		t.Errorf("got latencies %v, want one of at least 30ms", r.latencies)
	}
}
