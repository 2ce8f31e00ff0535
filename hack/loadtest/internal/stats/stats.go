// Package stats summarises a set of latencies the way the harness reports
// them: count, p50, p99 and max.
package stats

import (
	"math"
	"slices"
	"time"
)

// Summary is a set of latencies in four figures.
type Summary struct {
	N             int
	P50, P99, Max time.Duration
}

// Summarize returns the summary of ds, which it leaves in its order.
func Summarize(ds []time.Duration) Summary {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	s := Summary{N: len(sorted), P50: Percentile(sorted, 50), P99: Percentile(sorted, 99)}
	if len(sorted) > 0 {
		s.Max = sorted[len(sorted)-1]
	}
	return s
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted, an
// ascending slice, by nearest rank: the smallest value that at least p% of
// the values do not exceed. It never interpolates, so the answer is always
// a latency that was measured; with few values p99 is the maximum, which
// is the honest answer. An empty slice gives 0.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
