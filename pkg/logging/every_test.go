package logging

import (
	"testing"
	"time"
)

func TestEvery(t *testing.T) {
	at := time.Unix(1_000_000, 0)
	e := NewEvery(time.Second)
	e.now = func() time.Time { return at }
	steps := []struct {
		advance        time.Duration
		key            string
		wantOK         bool
		wantSuppressed int
	}{
		{0, "down", true, 0},
		{100 * time.Millisecond, "down", false, 0},
		{100 * time.Millisecond, "down", false, 0},
		{0, "other", true, 0}, // another kind is counted apart
		{900 * time.Millisecond, "down", true, 2},
		{time.Second, "down", true, 0},
	}
	for i, s := range steps {
		at = at.Add(s.advance)
		ok, n := e.Allow(s.key)
		if ok != s.wantOK || n != s.wantSuppressed {
			t.Errorf("step %d (%s): got %v, %d, want %v, %d", i, s.key, ok, n, s.wantOK, s.wantSuppressed)
		}
	}
}
