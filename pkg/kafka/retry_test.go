package kafka

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	const budget = 10 * time.Second
	transient := errors.New("database briefly unavailable")
	permanent := Permanent(errors.New("cannot decode order event"))
	tests := []struct {
		name     string
		err      error
		attempts int
		elapsed  time.Duration
		healthy  bool
		want     decision
	}{
		{name: "first attempt", healthy: true, want: decision{action: retry}},
		// The gate is not asked before an attempt; were its verdict passed,
		// it would change nothing.
		{name: "first attempt ignores the gate", want: decision{action: retry}},
		{name: "permanent error", err: permanent, attempts: 1, healthy: true, want: decision{action: deadLetter, reason: reasonPermanent}},
		{name: "permanent error wrapped", err: fmt.Errorf("handle order: %w", permanent), attempts: 1, healthy: true, want: decision{action: deadLetter, reason: reasonPermanent}},
		{name: "permanent error, dependency down", err: permanent, attempts: 1, want: decision{action: deadLetter, reason: reasonPermanent}},
		{name: "permanent error after the budget", err: permanent, attempts: 9, elapsed: budget, healthy: true, want: decision{action: deadLetter, reason: reasonPermanent}},
		{name: "first failure", err: transient, attempts: 1, elapsed: 30 * time.Millisecond, healthy: true, want: decision{action: retry, backoff: 100 * time.Millisecond}},
		{name: "second failure doubles", err: transient, attempts: 2, elapsed: 200 * time.Millisecond, healthy: true, want: decision{action: retry, backoff: 200 * time.Millisecond}},
		{name: "fifth failure", err: transient, attempts: 5, elapsed: 2 * time.Second, healthy: true, want: decision{action: retry, backoff: 1600 * time.Millisecond}},
		{name: "sixth failure capped", err: transient, attempts: 6, elapsed: 4 * time.Second, healthy: true, want: decision{action: retry, backoff: 2 * time.Second}},
		{name: "many failures stay capped", err: transient, attempts: 1000, elapsed: 5 * time.Second, healthy: true, want: decision{action: retry, backoff: 2 * time.Second}},
		{name: "last wait ends at the budget", err: transient, attempts: 8, elapsed: budget - 500*time.Millisecond, healthy: true, want: decision{action: retry, backoff: 500 * time.Millisecond}},
		{name: "budget spent", err: transient, attempts: 9, elapsed: budget, healthy: true, want: decision{action: deadLetter, reason: reasonExhausted}},
		{name: "budget overspent by a slow handler", err: transient, attempts: 2, elapsed: budget + 3*time.Second, healthy: true, want: decision{action: deadLetter, reason: reasonExhausted}},
		{name: "first failure, dependency down", err: transient, attempts: 1, elapsed: 30 * time.Millisecond, want: decision{action: hold}},
		{name: "failure after retries, dependency down", err: transient, attempts: 4, elapsed: time.Second, want: decision{action: hold}},
		// A failure against a dependency that is down says nothing about the
		// message: it holds rather than spend what is left of the budget.
		{name: "budget spent, dependency down", err: transient, attempts: 9, elapsed: budget, want: decision{action: hold}},
		{name: "budget overspent, dependency down", err: transient, attempts: 2, elapsed: budget + 3*time.Second, want: decision{action: hold}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decide(tt.err, tt.attempts, tt.elapsed, tt.healthy, budget); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestDecideSequence plays a handler that fails at once, every time, against
// a 1s budget: the waits double, the last one is cut to end at the budget,
// and the attempt after it is the last.
func TestDecideSequence(t *testing.T) {
	const budget = time.Second
	err := errors.New("downstream keeps timing out")
	var (
		waits   []time.Duration
		elapsed time.Duration
		d       decision
	)
	attempts := 1
	for ; attempts < 100; attempts++ {
		if d = decide(err, attempts, elapsed, true, budget); d.action != retry {
			break
		}
		waits = append(waits, d.backoff)
		elapsed += d.backoff
	}
	wantWaits := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 300 * time.Millisecond}
	if !slices.Equal(waits, wantWaits) {
		t.Errorf("got waits %v, want %v", waits, wantWaits)
	}
	if want := (decision{action: deadLetter, reason: reasonExhausted}); d != want {
		t.Errorf("got final decision %+v, want %+v", d, want)
	}
	if attempts != 5 {
		t.Errorf("got %d attempts, want 5", attempts)
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		ceiling time.Duration
		want    time.Duration
	}{
		{name: "first failure", n: 1, ceiling: maxBackoff, want: 100 * time.Millisecond},
		{name: "second failure", n: 2, ceiling: maxBackoff, want: 200 * time.Millisecond},
		{name: "third failure", n: 3, ceiling: maxBackoff, want: 400 * time.Millisecond},
		{name: "fifth failure", n: 5, ceiling: maxBackoff, want: 1600 * time.Millisecond},
		{name: "sixth failure capped", n: 6, ceiling: maxBackoff, want: 2 * time.Second},
		{name: "no overflow", n: 1 << 20, ceiling: maxBackoff, want: 2 * time.Second},
		{name: "dead-letter publish, sixth failure", n: 6, ceiling: maxDeadLetterBackoff, want: 3200 * time.Millisecond},
		{name: "dead-letter publish capped", n: 7, ceiling: maxDeadLetterBackoff, want: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := backoff(tt.n, tt.ceiling); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
