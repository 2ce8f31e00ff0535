package main

import (
	"strings"
	"testing"

	"github.com/order-tracking/platform/hack/loadtest/internal/results"
)

// checkParse fails t unless a parser returned want, or, when wantErr is
// set, an error containing it.
func checkParse[T comparable](t *testing.T, got T, err error, want T, wantErr string) {
	t.Helper()
	switch {
	case wantErr != "":
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("got error %v, want one containing %q", err, wantErr)
		}
	case err != nil || got != want:
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
}

func TestParsePgbench(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    pgbenchRun
		wantErr string
	}{
		{
			name: "PostgreSQL 15 summary",
			out: `transaction type: create.sql
number of transactions actually processed: 10895
number of failed transactions: 2 (0.018%)
latency average = 0.183 ms
initial connection time = 4.497 ms
tps = 10942.303578 (without initial connection time)
`,
			want: pgbenchRun{tps: 10942.303578, latencyMS: 0.183, failed: 2},
		},
		{
			name:    "aborted run",
			out:     "number of transactions actually processed: 0\npgbench: error: Run was aborted; the above results are incomplete.\n",
			wantErr: "aborted",
		},
		{name: "no summary", out: "pgbench: error: connection to server failed\n", wantErr: "no tps line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePgbench(tt.out)
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestParseRedisCSV(t *testing.T) {
	header := `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"` + "\n"
	tests := []struct {
		name    string
		out     string
		want    redisRun
		wantErr string
	}{
		{
			name: "redis-benchmark 7",
			out:  header + `"GET","69444.45","0.140","0.040","0.135","0.207","0.287","1.031"` + "\n",
			want: redisRun{rps: 69444.45, p50: 0.135, p99: 0.287},
		},
		{
			name: "GET among other tests",
			out:  header + `"SET","1.0","0","0","0","0","0","0"` + "\n" + `"GET","2.5","0","0","0.1","0","0.2","0"` + "\n",
			want: redisRun{rps: 2.5, p50: 0.1, p99: 0.2},
		},
		{name: "header only", out: header, wantErr: "no result line"},
		{name: "no GET", out: header + `"SET","1.0","0","0","0","0","0","0"` + "\n", wantErr: "no GET line"},
		{name: "old format without percentiles", out: "\"GET\",\"1.0\"\n\"GET\",\"2.0\"\n", wantErr: "no column"},
		{name: "not a number", out: header + `"GET","fast","0","0","0","0","0","0"` + "\n", wantErr: "invalid syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRedisCSV(tt.out)
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestParseHTTPRun(t *testing.T) {
	full := "@loadtest wrk scenario=update conns=16 threads=2 requests=1831 duration_s=1.10 rps=1660.9 p50_ms=0.73 " +
		"p99_ms=49.04 max_ms=76.73 unexpected=3 codes=409:3 connect_errors=1 read_errors=2 write_errors=0 timeouts=4 exhausted=0"
	tests := []struct {
		name    string
		line    string
		want    httpRun
		wantErr string
	}{
		{
			name: "wrk/loadtest.lua's record",
			line: full,
			want: httpRun{
				scenario: "update", conns: 16, rps: 1660.9, p50: 0.73, p99: 49.04, max: 76.73,
				requests: 1831, unexpected: 3, codes: "409:3", socketErrors: 7,
			},
		},
		{name: "a field missing", line: strings.Replace(full, " timeouts=4", "", 1), wantErr: `no field "timeouts"`},
		{name: "a field garbled", line: strings.Replace(full, "rps=1660.9", "rps=nan%", 1), wantErr: "rps"},
		{name: "no scenario", line: strings.Replace(full, "scenario=update ", "", 1), wantErr: "no scenario"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := results.Parse(tt.line)
			if !ok {
				t.Fatalf("got no record from %q", tt.line)
			}
			got, err := parseHTTPRun(r)
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}
