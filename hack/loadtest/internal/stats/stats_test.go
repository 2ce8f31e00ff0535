package stats

import (
	"testing"
	"time"
)

// ms turns whole milliseconds into durations, to keep the tables short.
func ms(vs ...int) []time.Duration {
	out := make([]time.Duration, len(vs))
	for i, v := range vs {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

// oneToN is 1ms, 2ms, ..., n ms.
func oneToN(n int) []time.Duration {
	vs := make([]int, n)
	for i := range vs {
		vs[i] = i + 1
	}
	return ms(vs...)
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{name: "empty", sorted: nil, p: 50, want: 0},
		{name: "one value is every percentile", sorted: ms(7), p: 99, want: 7 * time.Millisecond},
		{name: "p50 of an even count is the lower middle", sorted: ms(1, 2, 3, 4), p: 50, want: 2 * time.Millisecond},
		{name: "p50 of an odd count is the middle", sorted: ms(1, 2, 3, 4, 5), p: 50, want: 3 * time.Millisecond},
		{name: "p99 of 100 values", sorted: oneToN(100), p: 99, want: 99 * time.Millisecond},
		{name: "p99 of 1000 values", sorted: oneToN(1000), p: 99, want: 990 * time.Millisecond},
		{name: "p99 of few values is the maximum", sorted: ms(1, 2, 3, 50), p: 99, want: 50 * time.Millisecond},
		{name: "p100 is the maximum", sorted: ms(1, 2, 3), p: 100, want: 3 * time.Millisecond},
		{name: "tiny p is the minimum", sorted: ms(1, 2, 3), p: 0.001, want: 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want Summary
	}{
		{name: "empty", in: nil, want: Summary{}},
		{
			name: "unsorted input",
			in:   ms(30, 10, 20, 40),
			want: Summary{N: 4, P50: 20 * time.Millisecond, P99: 40 * time.Millisecond, Max: 40 * time.Millisecond},
		},
		{
			name: "one slow outlier in 200",
			in:   append(oneToN(199), 5*time.Second),
			want: Summary{N: 200, P50: 100 * time.Millisecond, P99: 198 * time.Millisecond, Max: 5 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := append([]time.Duration(nil), tt.in...)
			if got := Summarize(tt.in); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			for i := range before {
				if before[i] != tt.in[i] {
					t.Fatalf("Summarize reordered its input: got %v, want %v", tt.in, before)
				}
			}
		})
	}
}
