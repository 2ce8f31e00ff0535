package outbox

import "sync/atomic"

// Wakeup connects the writers of one process to the relay of the same
// process. While that relay is the active one, a write wakes it directly,
// and its statement carries no NOTIFY: PostgreSQL serialises the commits of
// every transaction that notifies (they all append to one queue under one
// lock), which caps the rate of writes; and the relay no longer wakes
// once per commit but once per batch of whatever arrived meanwhile. Writes
// in a process whose relay is not active notify as before, so the active
// relay in another replica still hears them at once.
//
// A nil *Wakeup is valid: every write then notifies.
type Wakeup struct {
	// wake holds at most one pending wake-up: writes made while the relay
	// is busy are all picked up by its next round.
	wake chan struct{}
	// leading is true while this process's relay holds the advisory lock
	// and listens: only then may a write skip NOTIFY.
	leading atomic.Bool
}

// NewWakeup returns a Wakeup for one relay (NewRelay's Options) and the
// order store of the same process.
func NewWakeup() *Wakeup {
	return &Wakeup{wake: make(chan struct{}, 1)}
}

// local reports whether a write may wake the relay in-process instead of
// notifying.
func (w *Wakeup) local() bool { return w != nil && w.leading.Load() }

// signal wakes the relay if it is waiting, or makes its next wait return at
// once; it never blocks.
func (w *Wakeup) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
