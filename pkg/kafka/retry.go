package kafka

import (
	"strconv"
	"time"
)

// firstBackoff and maxBackoff shape the capped exponential backoff
// between handler attempts (100ms, 200ms, ... 10s, 10s, ...).
const (
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 10 * time.Second
)

// maxPanics is how many times in a row a handler may panic on one record
// before the record is taken for poison: a panic is a bug meeting this
// record, which retrying will not fix, but one panic may be a fluke.
const maxPanics = 3

// Reasons a message goes to the dead-letter topic: the label values of
// kafka_consumer_messages_dead_lettered_total and the dlt.reason header.
const (
	// reasonPermanent is a record no retry can handle: undecodable, of an
	// unknown type, refused by its handler as permanent.
	reasonPermanent = "permanent"
	// reasonPanicked is a record its handler panicked on maxPanics times.
	reasonPanicked = "panicked"
)

// action is what the consumer does next with the message in hand.
type action int

const (
	// retry calls the handler: at once before the first attempt, after the
	// decision's backoff after a failed one.
	retry action = iota
	// hold puts consumption on hold until the dependency is healthy again,
	// then calls the handler at once.
	hold
	// deadLetter sends the message to the dead-letter topic, for the
	// decision's reason.
	deadLetter
)

// String names a for test failures and debugging.
func (a action) String() string {
	switch a {
	case retry:
		return "retry"
	case hold:
		return "hold"
	case deadLetter:
		return "deadLetter"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// decision is the retry policy's answer for the message in hand. It is
// comparable, so tests compare whole decisions.
type decision struct {
	action action
	// reason is reasonPermanent or reasonPanicked for deadLetter, empty
	// otherwise.
	reason string
	// backoff is the wait before a retry after a failed attempt; zero
	// otherwise.
	backoff time.Duration
}

// decide is the consumer's retry policy, kept free of the loop's clock,
// client and context so that it can be read and tested on its own:
//
//   - err is the last attempt's error, nil before the first attempt;
//   - attempts is how many attempts were made;
//   - panics is how many of them in a row ended in a panic;
//   - dependencyHealthy is the gate's verdict, asked after err came back
//     (true without a gate, and when err is nil or Permanent, since the
//     gate is not asked then).
//
// Only what can never succeed is dead-lettered; everything else is
// retried, however long that takes. The rules, first match wins:
//
//  1. before the first attempt the handler is called at once: the gate is
//     not asked, so the happy path costs the dependency nothing beyond the
//     handler's own calls;
//  2. a Permanent error dead-letters at once, as "permanent": retrying
//     cannot fix it, whatever the dependency's state;
//  3. maxPanics panics in a row dead-letter, as "panicked";
//  4. a transient error while the dependency is unhealthy holds the
//     message until the gate passes, then retries it at once;
//  5. otherwise the handler is called again once the backoff has passed,
//     the partition held meanwhile. A dependency that is slow, read-only
//     or refusing writes fails attempts while it answers the gate: its
//     events wait, in order, for as long as it lasts, rather than go to
//     the dead-letter topic, whose replay could not restore their order.
//     A transient failure that never passes blocks its partition, which
//     the consumer-lag alert and the retry metrics show.
func decide(err error, attempts, panics int, dependencyHealthy bool) decision {
	switch {
	case err == nil:
		return decision{action: retry}
	case IsPermanent(err):
		return decision{action: deadLetter, reason: reasonPermanent}
	case panics >= maxPanics:
		return decision{action: deadLetter, reason: reasonPanicked}
	case !dependencyHealthy:
		return decision{action: hold}
	}
	return decision{action: retry, backoff: backoff(attempts, maxBackoff)}
}

// backoff is the wait after the n-th failure in a row (n >= 1):
// firstBackoff, doubled at each further failure up to ceiling. Handler
// retries use maxBackoff; dead-letter publishes, which go on until one
// succeeds, maxDeadLetterBackoff.
func backoff(n int, ceiling time.Duration) time.Duration {
	d := firstBackoff
	for i := 1; i < n && d < ceiling; i++ {
		d = min(2*d, ceiling)
	}
	return d
}
