package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// smokeRun is what testdata/run holds: the files of a real smoke run of
// hack/loadtest.sh (wrk, pgbench, redis-benchmark, the probe and the memory
// records as those tools wrote them).
var smokeRun = expectations{
	scenarios: []string{"create-legacy", "create-v1", "update", "fetch", "list", "track"},
	conns:     []int{2}, rates: []int{20}, baselines: true, rss: true, burst: true, startup: true, openloop: true,
}

// runDir copies testdata/run into a temporary directory, with edit applied
// to each file's content.
func runDir(t *testing.T, edit func(name, content string) string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir("testdata/run")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata/run", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		content := edit(e.Name(), string(b))
		if content == "" {
			continue // edited away: the file is missing
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fileIs returns an edit that makes file name hold content ("": removed).
func fileIs(name, content string) func(string, string) string {
	return func(n, c string) string {
		if n == name {
			return content
		}
		return c
	}
}

// unchanged is the edit that changes nothing.
func unchanged(_, content string) string { return content }

// replaceIn returns an edit that replaces from by to in file name only.
func replaceIn(name, from, to string) func(string, string) string {
	return func(n, content string) string {
		if n != name {
			return content
		}
		return strings.Replace(content, from, to, 1)
	}
}

func TestReportOfARealRun(t *testing.T) {
	rep := load(runDir(t, unchanged), smokeRun)
	if len(rep.problems) > 0 {
		t.Fatalf("got problems %q, want none", rep.problems)
	}
	if fails := rep.check(smokeRun); len(fails) > 0 {
		t.Errorf("got failures %q, want none", fails)
	}
	var out bytes.Buffer
	rep.print(&out, smokeRun)
	for _, want := range []string{
		"create-legacy", "pgbench create, 2 clients: 10348 tps", "redis GET, 16 clients: 75758/s",
		"update  sse", "never = not within 30000ms", "orders-service", "pgbench  update transaction",
		"creates per CPU-second", "Fixed rate (open loop", "623", "postgres    0.6    27%", "tracking-service      25.7",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("got report\n%s\nwant it to contain %q", out.String(), want)
		}
	}
}

func TestReportFailures(t *testing.T) {
	tests := []struct {
		name string
		edit func(name, content string) string
		exp  func(e expectations) expectations
		want string
	}{
		{
			name: "a 409 in the update scenario",
			edit: replaceIn("wrk-update-2.out", "unexpected=0 codes=-", "unexpected=3 codes=409:3"),
			want: "update at 2 connections: 3 answers with another status than expected (status:count 409:3)",
		},
		{
			name: "timeouts",
			edit: replaceIn("wrk-fetch-2.out", "timeouts=0", "timeouts=2"),
			want: "fetch at 2 connections: 2 socket errors or timeouts",
		},
		{
			name: "the update pool ran out",
			edit: replaceIn("wrk-update-2.out", "exhausted=0", "exhausted=1"),
			want: "update at 2 connections: ran out of PENDING orders",
		},
		{
			name: "p99 over the limit",
			edit: unchanged,
			exp:  func(e expectations) expectations { e.p99Max = 10 * time.Millisecond; return e },
			want: "create-legacy at 2 connections: p99 92.3ms over the limit 10ms",
		},
		{
			name: "wrk failed and wrote no record",
			edit: fileIs("wrk-track-2.out", "unable to connect to 127.0.0.1:18082 Connection refused\n"),
			want: "wrk-track-2.out: no @loadtest wrk record",
		},
		{
			name: "a scenario's output missing",
			edit: fileIs("wrk-list-2.out", ""),
			want: "wrk-list-2.out: missing",
		},
		{
			name: "a change never seen",
			edit: replaceIn("freshness.out", "kind=update via=sse changes=32 never_seen=0", "kind=update via=sse changes=32 never_seen=1"),
			want: "20 changes/s: update seen by sse: 1 of 32 changes never seen (allowed: 0)",
		},
		{
			name: "probe requests failed",
			edit: replaceIn("freshness.out", "errors=0", "errors=5"),
			want: "20 changes/s: 5 changes answered otherwise than 2xx or not at all",
		},
		{
			name: "a rate missing",
			edit: unchanged,
			exp:  func(e expectations) expectations { e.rates = []int{20, 50}; return e },
			want: "freshness.out: no result for 50 changes/s",
		},
		{
			name: "pgbench aborted",
			edit: replaceIn("pgbench-update-2.out", "tps =", "pgbench: error: Run was aborted\ntps ="),
			want: "pgbench-update-2.out: pgbench run was aborted",
		},
		{
			name: "pgbench transactions failed",
			edit: replaceIn("pgbench-create-2.out", "failed transactions: 0", "failed transactions: 7"),
			want: "pgbench create at 2 clients: 7 failed transactions",
		},
		{
			name: "open-loop requests failed",
			edit: replaceIn("openloop-update.out", "errors=0", "errors=4"),
			want: "open loop update at 855/s: 4 requests failed",
		},
		{
			name: "open-loop run missing",
			edit: fileIs("openloop-create.out", ""),
			want: "openloop-create.out: missing",
		},
		{
			name: "the burst's events not all consumed",
			edit: replaceIn("burst.out", "drained=true", "drained=false"),
			want: "burst: the consumers had not taken every one of the 1302 creates' events",
		},
		{
			name: "the burst tool failed",
			edit: fileIs("burst.out", "burst: orders-service: no process 4242\n"),
			want: "burst.out: no @loadtest burst record",
		},
		{
			name: "no start-up measured",
			edit: fileIs("startup.out", "startup: orders-service not ready: timed out\n"),
			want: "startup.out: no service's start-up was measured",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := smokeRun
			if tt.exp != nil {
				exp = tt.exp(exp)
			}
			rep := load(runDir(t, tt.edit), exp)
			got := append(rep.problems, rep.check(exp)...)
			for _, f := range got {
				if strings.Contains(f, tt.want) {
					return
				}
			}
			t.Errorf("got failures %q, want one containing %q", got, tt.want)
		})
	}
}
