package logging

import (
	"sync"
	"time"
)

// Every lets one line of each kind through per interval and counts the
// others, for warnings that repeat while a dependency is down: a broker
// outage made one service log "brokers are down" 6 to 8 times a second.
// Kinds are the caller's keys (an error code, a facility); keep them few.
// Safe for concurrent use.
type Every struct {
	interval time.Duration
	now      func() time.Time

	// mu guards kinds.
	mu    sync.Mutex
	kinds map[string]*kind
}

type kind struct {
	last       time.Time
	suppressed int
}

// NewEvery returns an Every letting one line of a kind through per
// interval.
func NewEvery(interval time.Duration) *Every {
	return &Every{interval: interval, now: time.Now, kinds: map[string]*kind{}}
}

// Allow reports whether a line of kind key may be written now and, when
// it may, how many of that kind were held back since the last one written
// (worth logging with it).
func (e *Every) Allow(key string) (ok bool, suppressed int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	k := e.kinds[key]
	if k == nil {
		k = &kind{}
		e.kinds[key] = k
	} else if now.Sub(k.last) < e.interval {
		k.suppressed++
		return false, 0
	}
	suppressed, k.last, k.suppressed = k.suppressed, now, 0
	return true, suppressed
}
