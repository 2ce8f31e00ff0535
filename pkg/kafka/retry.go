package kafka

import (
	"strconv"
	"time"
)

// firstBackoff and maxBackoff shape the capped exponential backoff
// between handler attempts (100ms, 200ms, ... 2s, 2s, ...).
const (
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 2 * time.Second
)

// Reasons a message goes to the dead-letter topic: the label values of
// kafka_consumer_messages_dead_lettered_total and the dlt.reason header.
const (
	reasonPermanent = "permanent"
	reasonExhausted = "exhausted"
)

// action is what the consumer does next with the message in hand.
type action int

const (
	// retry calls the handler: at once before the first attempt, after the
	// decision's backoff after a failed one.
	retry action = iota
	// hold puts consumption on hold until the dependency is healthy again,
	// then calls the handler at once; neither the failed attempt nor the
	// time on hold is charged to the retry budget.
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
	// reason is reasonPermanent or reasonExhausted for deadLetter, empty
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
//   - elapsed is the retry budget spent when err came back: the time since
//     the first attempt, less the time not charged to the budget (see
//     rule 3);
//   - dependencyHealthy is the gate's verdict, asked after err came back
//     (true without a gate, and when err is nil or Permanent, since the
//     gate is not asked then);
//   - budget is ConsumerConfig.RetryBudget.
//
// The rules, first match wins:
//
//  1. before the first attempt the handler is called at once: the gate is
//     not asked, so the happy path costs the dependency nothing beyond the
//     handler's own calls;
//  2. a Permanent error dead-letters at once, as "permanent": retrying
//     cannot fix it, whatever the dependency's state;
//  3. a transient error while the dependency is unhealthy holds the
//     message until the gate passes, then retries it at once. Neither the
//     failed attempt nor the hold is charged to the budget, and the budget
//     is not checked: failing against a dependency that is down says
//     nothing about the message, so an outage dead-letters nothing;
//  4. a transient error once elapsed has reached budget dead-letters, as
//     "exhausted", so that a poison message blocks its partition for about
//     the budget at most;
//  5. otherwise the handler is called again once the backoff has passed.
//     The backoff is cut to end at the budget, so the attempt after the
//     last wait is the last one: a poison message holds its partition for
//     about the budget plus one handler call, not a backoff step more.
//
// The consumer asks once per attempt, after it: the gate is consulted
// only when the attempt failed with a transient error, never before an
// attempt. A dependency that goes down during a backoff is noticed by the
// next attempt failing.
func decide(err error, attempts int, elapsed time.Duration, dependencyHealthy bool, budget time.Duration) decision {
	switch {
	case err == nil:
		return decision{action: retry}
	case IsPermanent(err):
		return decision{action: deadLetter, reason: reasonPermanent}
	case !dependencyHealthy:
		return decision{action: hold}
	case elapsed >= budget:
		return decision{action: deadLetter, reason: reasonExhausted}
	}
	return decision{action: retry, backoff: min(backoff(attempts, maxBackoff), budget-elapsed)}
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
