package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/order-tracking/platform/hack/loadtest/internal/results"
)

// httpRun is one wrk run of a scenario (the record of wrk/loadtest.lua).
type httpRun struct {
	scenario      string
	conns         int
	rps           float64
	p50, p99, max float64 // milliseconds
	requests      int64
	unexpected    int64  // answers with another status than the scenario expects
	codes         string // those answers by status, "409:3,500:1", or "-"
	socketErrors  int64  // connect, read, write errors and timeouts
	exhausted     int64  // update threads that ran out of orders
}

func parseHTTPRun(r results.Record) (httpRun, error) {
	f := fields{r: r}
	run := httpRun{scenario: r.Fields["scenario"], codes: r.Fields["codes"]}
	run.conns = int(f.int("conns"))
	run.rps, run.p50, run.p99, run.max = f.num("rps"), f.num("p50_ms"), f.num("p99_ms"), f.num("max_ms")
	run.requests, run.unexpected, run.exhausted = f.int("requests"), f.int("unexpected"), f.int("exhausted")
	run.socketErrors = f.int("connect_errors") + f.int("read_errors") + f.int("write_errors") + f.int("timeouts")
	if run.scenario == "" {
		f.errs = append(f.errs, errors.New("wrk record has no scenario"))
	}
	return run, f.err()
}

// fields reads a record's numbers, keeping every error for err.
type fields struct {
	r    results.Record
	errs []error
}

func (f *fields) int(key string) int64 {
	v, err := f.r.Int(key)
	f.errs = append(f.errs, err)
	return v
}

func (f *fields) num(key string) float64 {
	v, err := f.r.Float(key)
	f.errs = append(f.errs, err)
	return v
}

func (f *fields) err() error { return errors.Join(f.errs...) }

// pgbenchRun is what pgbench printed for one script and client count.
type pgbenchRun struct {
	tps       float64
	latencyMS float64
	failed    int64
}

var (
	pgbenchTPS     = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
	pgbenchLatency = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
	pgbenchFailed  = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
)

// parsePgbench reads pgbench's summary (PostgreSQL 15 and later). A run
// that aborted has no tps line and is an error.
func parsePgbench(out string) (pgbenchRun, error) {
	if strings.Contains(out, "Run was aborted") {
		return pgbenchRun{}, errors.New("pgbench run was aborted")
	}
	m := pgbenchTPS.FindStringSubmatch(out)
	if m == nil {
		return pgbenchRun{}, errors.New("no tps line in pgbench's output")
	}
	var run pgbenchRun
	run.tps, _ = strconv.ParseFloat(m[1], 64)
	if m := pgbenchLatency.FindStringSubmatch(out); m != nil {
		run.latencyMS, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := pgbenchFailed.FindStringSubmatch(out); m != nil {
		run.failed, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return run, nil
}

// redisRun is redis-benchmark's figure for GET.
type redisRun struct {
	rps, p50, p99 float64
}

// parseRedisCSV reads `redis-benchmark -t get --csv`: a header line, then
// one line per test, quoted.
func parseRedisCSV(out string) (redisRun, error) {
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		return redisRun{}, fmt.Errorf("cannot read redis-benchmark's CSV: %w", err)
	}
	if len(rows) < 2 {
		return redisRun{}, errors.New("redis-benchmark's CSV has no result line")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, row := range rows[1:] {
		if len(row) != len(rows[0]) || row[col["test"]] != "GET" {
			continue
		}
		get := func(name string) (float64, error) {
			i, ok := col[name]
			if !ok {
				return 0, fmt.Errorf("redis-benchmark's CSV has no column %q", name)
			}
			return strconv.ParseFloat(row[i], 64)
		}
		rps, err1 := get("rps")
		p50, err2 := get("p50_latency_ms")
		p99, err3 := get("p99_latency_ms")
		if err := errors.Join(err1, err2, err3); err != nil {
			return redisRun{}, err
		}
		return redisRun{rps: rps, p50: p50, p99: p99}, nil
	}
	return redisRun{}, errors.New("redis-benchmark's CSV has no GET line")
}

// freshnessRun is one rate of the freshness probe.
type freshnessRun struct {
	rate                               int
	scheduled, sent, ok, errs, dropped int64
	achieved                           float64
	streams, streamBreaks, polls       int64
	withinMS                           int64
	rows                               []freshnessRow
}

// freshnessRow is one kind of change seen one way at one rate.
type freshnessRow struct {
	kind, via      string
	changes, never int64
	p50, p99, max  float64 // milliseconds
}

func parseFreshnessRun(r results.Record) (freshnessRun, error) {
	f := fields{r: r}
	run := freshnessRun{
		rate: int(f.int("rate")), scheduled: f.int("scheduled"), sent: f.int("sent"), ok: f.int("ok"),
		errs: f.int("errors"), dropped: f.int("dropped"), streams: f.int("streams"), streamBreaks: f.int("stream_breaks"),
		polls: f.int("polls"), withinMS: f.int("within_ms"), achieved: f.num("achieved"),
	}
	return run, f.err()
}

func parseFreshnessRow(r results.Record) (rate int, row freshnessRow, err error) {
	f := fields{r: r}
	rate = int(f.int("rate"))
	row = freshnessRow{
		kind: r.Fields["kind"], via: r.Fields["via"], changes: f.int("changes"), never: f.int("never_seen"),
		p50: f.num("p50_ms"), p99: f.num("p99_ms"), max: f.num("max_ms"),
	}
	return rate, row, f.err()
}

// rss is one service's memory at the end of the run.
type rss struct {
	service      string
	hwmKB, rssKB int64
}

func parseRSS(r results.Record) (rss, error) {
	hwm, err1 := r.Int("hwm_kb")
	cur, err2 := r.Int("rss_kb")
	return rss{service: r.Fields["service"], hwmKB: hwm, rssKB: cur}, errors.Join(err1, err2)
}

// openloopRun is hack/loadtest/openloop's result.
type openloopRun struct {
	scenario               string
	rate                   int
	due, ok, errs, dropped int64
	starved                int64
	p50, p99, max          float64 // milliseconds
}

func parseOpenloop(r results.Record) (openloopRun, error) {
	f := fields{r: r}
	run := openloopRun{
		scenario: r.Fields["scenario"], rate: int(f.int("rate")), due: f.int("due"), ok: f.int("ok"),
		errs: f.int("errors"), dropped: f.int("dropped"), starved: f.int("starved"),
		p50: f.num("p50_ms"), p99: f.num("p99_ms"), max: f.num("max_ms"),
	}
	return run, f.err()
}

// burstRun is hack/loadtest/burst's result.
type burstRun struct {
	creates      int64
	loadMS       float64
	drainMS      float64
	drained      bool
	cpuMS        float64
	perCPUSecond float64
	cpu          []processCPU
}

func parseBurst(r results.Record) (burstRun, error) {
	f := fields{r: r}
	b := burstRun{creates: f.int("creates"), loadMS: f.num("load_ms"), drainMS: f.num("drain_ms"), cpuMS: f.num("cpu_ms"), perCPUSecond: f.num("creates_per_cpu_s")}
	switch r.Fields["drained"] {
	case "true":
		b.drained = true
	case "false":
	default:
		f.errs = append(f.errs, fmt.Errorf("drained=%q, want true or false", r.Fields["drained"]))
	}
	if b.creates <= 0 || b.loadMS <= 0 {
		f.errs = append(f.errs, errors.New("burst record without creates or duration"))
	}
	return b, f.err()
}

// processCPU is the CPU one process tree used during the burst.
type processCPU struct {
	process string
	cpuMS   float64
}

func parseProcessCPU(r results.Record) (processCPU, error) {
	v, err := r.Float("cpu_ms")
	return processCPU{process: r.Fields["process"], cpuMS: v}, err
}

// startup is one service's time from exec to ready.
type startup struct {
	service string
	readyMS float64
}

func parseStartup(r results.Record) (startup, error) {
	v, err := r.Float("ready_ms")
	if err == nil && r.Fields["service"] == "" {
		err = errors.New("startup record without a service")
	}
	return startup{service: r.Fields["service"], readyMS: v}, err
}

// records returns the @loadtest records in out, in order.
func records(out string) []results.Record {
	var rs []results.Record
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if r, ok := results.Parse(sc.Text()); ok {
			rs = append(rs, r)
		}
	}
	return rs
}
