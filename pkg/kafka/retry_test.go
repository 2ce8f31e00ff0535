package kafka

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	transient := errors.New("database briefly unavailable")
	permanent := Permanent(errors.New("cannot decode order event"))
	panicked := &panicError{value: "nil map"}
	tests := []struct {
		name     string
		err      error
		attempts int
		panics   int
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
		{name: "first failure", err: transient, attempts: 1, healthy: true, want: decision{action: retry, backoff: 100 * time.Millisecond}},
		{name: "second failure doubles", err: transient, attempts: 2, healthy: true, want: decision{action: retry, backoff: 200 * time.Millisecond}},
		{name: "eighth failure capped", err: transient, attempts: 8, healthy: true, want: decision{action: retry, backoff: 10 * time.Second}},
		// Nothing transient is ever dead-lettered, however long it fails.
		{name: "a thousand failures: still retried", err: transient, attempts: 1000, healthy: true, want: decision{action: retry, backoff: 10 * time.Second}},
		{name: "failure, dependency down", err: transient, attempts: 1, want: decision{action: hold}},
		{name: "many failures, dependency down", err: transient, attempts: 500, want: decision{action: hold}},
		{name: "one panic: retried", err: panicked, attempts: 1, panics: 1, healthy: true, want: decision{action: retry, backoff: 100 * time.Millisecond}},
		{name: "panics in a row: poison", err: panicked, attempts: 3, panics: maxPanics, healthy: true, want: decision{action: deadLetter, reason: reasonPanicked}},
		{name: "panics in a row, dependency down: poison all the same", err: panicked, attempts: 3, panics: maxPanics, want: decision{action: deadLetter, reason: reasonPanicked}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decide(tt.err, tt.attempts, tt.panics, tt.healthy); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
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
		{name: "sixth failure", n: 6, ceiling: maxBackoff, want: 3200 * time.Millisecond},
		{name: "eighth failure capped", n: 8, ceiling: maxBackoff, want: 10 * time.Second},
		{name: "no overflow", n: 1 << 20, ceiling: maxBackoff, want: 10 * time.Second},
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
