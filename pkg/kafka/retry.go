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
	// hold puts consumption on hold until the dependency is healthy again;
	// the time on hold is not charged to the retry budget.
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
//     the first attempt, less the time on hold;
//   - dependencyHealthy is the gate's verdict (true without a gate);
//   - budget is ConsumerConfig.RetryBudget.
//
// The rules, first match wins:
//
//  1. a Permanent error dead-letters at once, as "permanent": retrying
//     cannot fix it, whatever the dependency's state;
//  2. a transient error once elapsed has reached budget dead-letters, as
//     "exhausted", so that a poison message blocks its partition for about
//     the budget at most;
//  3. an unhealthy dependency holds the message: no attempt, no budget
//     spent, since failing against a dependency that is down says nothing
//     about the message;
//  4. otherwise the handler is called, after a failure once the backoff has
//     passed. The backoff is cut to end at the budget, so the attempt after
//     the last wait is the last one: a poison message holds its partition
//     for about the budget plus one handler call, not a backoff step more.
//
// The consumer asks twice per failed attempt. Right after the failure, the
// dependency counts as healthy (the gate passed just before the attempt),
// so rules 1, 2 and 4 apply. After the backoff, before the next attempt,
// it asks again with the same err, attempts and elapsed (rules 1 and 2 then
// cannot match) and the gate's fresh verdict, to know whether to hold. So a
// budget that has run out dead-letters the message even while the gate
// fails, and a dependency that goes down during the backoff holds it.
func decide(err error, attempts int, elapsed time.Duration, dependencyHealthy bool, budget time.Duration) decision {
	switch {
	case IsPermanent(err):
		return decision{action: deadLetter, reason: reasonPermanent}
	case err != nil && elapsed >= budget:
		return decision{action: deadLetter, reason: reasonExhausted}
	case !dependencyHealthy:
		return decision{action: hold}
	case err == nil:
		return decision{action: retry}
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
