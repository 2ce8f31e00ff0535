package events

import (
	"regexp"
	"testing"
)

func TestTrackingCode(t *testing.T) {
	pattern := regexp.MustCompile(`^trk_[0-9a-f]{32}$`) // the schema's
	seen := map[string]bool{}
	for range 1000 {
		c := NewTrackingCode()
		if !pattern.MatchString(c) || !ValidTrackingCode(c) || seen[c] {
			t.Fatalf("got code %q (valid %v, seen %v), want a new code matching the schema", c, ValidTrackingCode(c), seen[c])
		}
		seen[c] = true
	}
	for _, bad := range []string{"", "17", "trk_", "trk_0123456789abcdef0123456789ABCDEF", "trk_0123456789abcdef0123456789abcde",
		"TRK_0123456789abcdef0123456789abcdef", "trk_0123456789abcdef0123456789abcdef0", "trk_0123456789abcdef0123456789abcdeg"} {
		if ValidTrackingCode(bad) {
			t.Errorf("ValidTrackingCode(%q) = true, want false", bad)
		}
	}
}
