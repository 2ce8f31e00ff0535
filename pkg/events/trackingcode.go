package events

import (
	"crypto/rand"
	"encoding/hex"
)

// TrackingCodePrefix starts every tracking code, which sets codes apart
// from numeric order ids in the same path segment (/track/{idOrCode}).
const TrackingCodePrefix = "trk_"

// NewTrackingCode returns a new tracking code: the prefix and 128 random
// bits as 32 lowercase hex digits, unguessable and safe in a URL. It is
// part of the contract because orders-service makes the codes that
// tracking-service looks up.
func NewTrackingCode() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return TrackingCodePrefix + hex.EncodeToString(b)
}

// ValidTrackingCode reports whether s has the shape of a tracking code,
// the schema's pattern ^trk_[0-9a-f]{32}$.
func ValidTrackingCode(s string) bool {
	if len(s) != len(TrackingCodePrefix)+32 || s[:len(TrackingCodePrefix)] != TrackingCodePrefix {
		return false
	}
	for _, c := range s[len(TrackingCodePrefix):] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
