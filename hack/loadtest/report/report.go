package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"
)

// redisClients is the client count of the redis-benchmark run: the track
// and fetch figures are compared with it at every connection count.
const redisClients = 16

// runKey names a run of a scenario (or pgbench script) at a client count.
type runKey struct {
	name  string
	conns int
}

// report is everything one run measured, and what could not be read.
type report struct {
	http      map[runKey]httpRun
	pgbench   map[runKey]pgbenchRun
	redis     *redisRun
	freshness []freshnessRun
	rss       []rss
	burst     *burstRun
	startup   []startup
	openloop  []openloopRun
	problems  []string
}

// load reads the files exp says the run wrote; each one missing or
// unreadable is a problem.
func load(dir string, exp expectations) *report {
	rep := &report{http: map[runKey]httpRun{}, pgbench: map[runKey]pgbenchRun{}}
	read := func(name string) (string, bool) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				err = errors.New("missing")
			}
			rep.problems = append(rep.problems, fmt.Sprintf("%s: %v", name, err))
			return "", false
		}
		return string(b), true
	}
	for _, c := range exp.conns {
		for _, s := range exp.scenarios {
			name := fmt.Sprintf("wrk-%s-%d.out", s, c)
			if out, ok := read(name); ok {
				rep.loadHTTP(name, out, runKey{s, c})
			}
		}
		for _, tx := range baselineScripts(exp) {
			name := fmt.Sprintf("pgbench-%s-%d.out", tx, c)
			out, ok := read(name)
			if !ok {
				continue
			}
			if run, err := parsePgbench(out); err != nil {
				rep.problems = append(rep.problems, fmt.Sprintf("%s: %v", name, err))
			} else {
				rep.pgbench[runKey{tx, c}] = run
			}
		}
	}
	if exp.baselines {
		if out, ok := read("redis-get.csv"); ok {
			if run, err := parseRedisCSV(out); err != nil {
				rep.problems = append(rep.problems, "redis-get.csv: "+err.Error())
			} else {
				rep.redis = &run
			}
		}
	}
	if len(exp.rates) > 0 {
		if out, ok := read("freshness.out"); ok {
			rep.loadFreshness(out, exp.rates)
		}
	}
	if exp.openloop {
		for _, sc := range []string{"create", "update"} {
			name := "openloop-" + sc + ".out"
			out, ok := read(name)
			if !ok {
				continue
			}
			found := false
			for _, r := range records(out) {
				if r.Tag != "openloop" {
					continue
				}
				run, err := parseOpenloop(r)
				if err != nil {
					rep.problems = append(rep.problems, fmt.Sprintf("%s: %v", name, err))
				} else {
					rep.openloop = append(rep.openloop, run)
				}
				found = true
			}
			if !found {
				rep.problems = append(rep.problems, name+": no @loadtest openloop record (the file has its output)")
			}
		}
	}
	if exp.burst {
		if out, ok := read("burst.out"); ok {
			rep.loadBurst(out)
		}
	}
	if exp.startup {
		if out, ok := read("startup.out"); ok {
			for _, r := range records(out) {
				if m, err := parseStartup(r); err != nil {
					rep.problems = append(rep.problems, "startup.out: "+err.Error())
				} else {
					rep.startup = append(rep.startup, m)
				}
			}
			if len(rep.startup) == 0 {
				rep.problems = append(rep.problems, "startup.out: no service's start-up was measured")
			}
		}
	}
	if exp.rss {
		if out, ok := read("rss.out"); ok {
			for _, r := range records(out) {
				if m, err := parseRSS(r); err != nil {
					rep.problems = append(rep.problems, "rss.out: "+err.Error())
				} else {
					rep.rss = append(rep.rss, m)
				}
			}
		}
	}
	return rep
}

func baselineScripts(exp expectations) []string {
	if !exp.baselines {
		return nil
	}
	return []string{"create", "update"}
}

func (rep *report) loadHTTP(name, out string, k runKey) {
	for _, r := range records(out) {
		if r.Tag != "wrk" {
			continue
		}
		run, err := parseHTTPRun(r)
		switch {
		case err != nil:
			rep.problems = append(rep.problems, fmt.Sprintf("%s: %v", name, err))
		case run.scenario != k.name || run.conns != k.conns:
			rep.problems = append(rep.problems, fmt.Sprintf("%s: holds %s at %d connections", name, run.scenario, run.conns))
		default:
			rep.http[k] = run
		}
		return
	}
	rep.problems = append(rep.problems, name+": no @loadtest wrk record (did wrk fail? the file has its output)")
}

func (rep *report) loadBurst(out string) {
	var run *burstRun
	var cpu []processCPU
	for _, r := range records(out) {
		switch r.Tag {
		case "burst":
			b, err := parseBurst(r)
			if err != nil {
				rep.problems = append(rep.problems, "burst.out: "+err.Error())
				continue
			}
			run = &b
		case "burst-cpu":
			c, err := parseProcessCPU(r)
			if err != nil {
				rep.problems = append(rep.problems, "burst.out: "+err.Error())
				continue
			}
			cpu = append(cpu, c)
		}
	}
	if run == nil {
		rep.problems = append(rep.problems, "burst.out: no @loadtest burst record (did burst fail? the file has its output)")
		return
	}
	run.cpu = cpu
	rep.burst = run
}

func (rep *report) loadFreshness(out string, rates []int) {
	byRate := map[int]*freshnessRun{}
	for _, r := range records(out) {
		switch r.Tag {
		case "freshness-run":
			run, err := parseFreshnessRun(r)
			if err != nil {
				rep.problems = append(rep.problems, "freshness.out: "+err.Error())
				continue
			}
			byRate[run.rate] = &run
		case "freshness":
			rate, row, err := parseFreshnessRow(r)
			run := byRate[rate]
			switch {
			case err != nil:
				rep.problems = append(rep.problems, "freshness.out: "+err.Error())
			case run == nil:
				rep.problems = append(rep.problems, fmt.Sprintf("freshness.out: a row of rate %d before its run line", rate))
			default:
				run.rows = append(run.rows, row)
			}
		}
	}
	for _, rate := range rates {
		run, ok := byRate[rate]
		if !ok || len(run.rows) == 0 {
			rep.problems = append(rep.problems, fmt.Sprintf("freshness.out: no result for %d changes/s", rate))
			continue
		}
		rep.freshness = append(rep.freshness, *run)
	}
}

// baseline returns the infrastructure's figure for the work of scenario at
// conns, and what it is, or ok false when there is none.
func (rep *report) baseline(scenario string, conns int) (perSecond float64, what string, ok bool) {
	switch scenario {
	case "create-legacy", "create-v1", "update":
		tx := scenario
		if tx != "update" {
			tx = "create"
		}
		run, found := rep.pgbench[runKey{tx, conns}]
		return run.tps, fmt.Sprintf("pgbench %s, %d clients: %.0f tps", tx, conns, run.tps), found
	case "fetch", "track":
		if rep.redis == nil {
			return 0, "", false
		}
		return rep.redis.rps, fmt.Sprintf("redis GET, %d clients: %.0f/s", redisClients, rep.redis.rps), true
	}
	return 0, "", false
}

func (rep *report) print(w io.Writer, exp expectations) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "HTTP load (wrk; ratio = req/s divided by the infrastructure's figure for the same work)")
	// The last column is outside the tabwriter's cells: left-aligned.
	fmt.Fprintln(tw, "scenario\tconns\treq/s\tp50 ms\tp99 ms\tmax ms\tunexpected\tsocket errors\tratio\t  infrastructure")
	for _, c := range exp.conns {
		for _, s := range exp.scenarios {
			run, ok := rep.http[runKey{s, c}]
			if !ok {
				fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t-\t-\t-\t-\t  (no result)\n", s, c)
				continue
			}
			ratio, what := "-", "-"
			if base, desc, ok := rep.baseline(s, c); ok && base > 0 {
				ratio, what = fmt.Sprintf("%.2f", run.rps/base), desc
			}
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%s\t  %s\n",
				s, c, run.rps, run.p50, run.p99, run.max, run.unexpected, run.socketErrors, ratio, what)
		}
	}
	tw.Flush()

	if len(rep.freshness) > 0 {
		fmt.Fprintf(w, "\nFreshness (open loop; ms from a change's 2xx until tracking-service shows it; never = not within %dms)\n",
			rep.freshness[0].withinMS)
		fmt.Fprintln(tw, "rate/s\tsent/s\t2xx\terrors\tdropped\tstreams\tGETs\tkind\tvia\tchanges\tp50 ms\tp99 ms\tmax ms\tnever\t")
		for _, run := range rep.freshness {
			for i, row := range run.rows {
				head := "\t\t\t\t\t\t"
				if i == 0 {
					head = fmt.Sprintf("%d\t%.1f\t%d\t%d\t%d\t%d\t%d", run.rate, run.achieved, run.ok, run.errs, run.dropped, run.streams, run.polls)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.1f\t%.1f\t%.1f\t%d\t\n",
					head, row.kind, row.via, row.changes, row.p50, row.p99, row.max, row.never)
			}
		}
		tw.Flush()
	}

	if len(rep.pgbench) > 0 || rep.redis != nil {
		fmt.Fprintln(w, "\nInfrastructure alone (same machine, same run)")
		fmt.Fprintln(tw, "tool\twork\tclients\tper second\tlatency ms\t")
		for _, c := range exp.conns {
			for _, tx := range baselineScripts(exp) {
				if run, ok := rep.pgbench[runKey{tx, c}]; ok {
					fmt.Fprintf(tw, "pgbench\t%s transaction\t%d\t%.0f\tavg %.2f\t\n", tx, c, run.tps, run.latencyMS)
				}
			}
		}
		if rep.redis != nil {
			fmt.Fprintf(tw, "redis-benchmark\tGET\t%d\t%.0f\tp50 %.2f, p99 %.2f\t\n", redisClients, rep.redis.rps, rep.redis.p50, rep.redis.p99)
		}
		tw.Flush()
	}

	if len(rep.openloop) > 0 {
		fmt.Fprintln(w, "\nFixed rate (open loop, half the rate wrk reached at the largest connection count; ms from when each request was due)")
		fmt.Fprintln(tw, "scenario\trate/s\tdue\tanswered\terrors\tdropped\tp50 ms\tp99 ms\tmax ms\t")
		for _, r := range rep.openloop {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t\n", r.scenario, r.rate, r.due, r.ok, r.errs, r.dropped, r.p50, r.p99, r.max)
		}
		tw.Flush()
	}

	if b := rep.burst; b != nil {
		fmt.Fprintln(w, "\nWhole system: a saturated create burst, then the drain (CPU of every process but the load generator, from the burst's start until both consumers took every event)")
		fmt.Fprintln(tw, "creates	burst s	creates/s	drain s	CPU s	creates per CPU-second	")
		fmt.Fprintf(tw, "%d	%.1f	%.0f	%s	%.1f	%.0f	\n", b.creates, b.loadMS/1000, float64(b.creates)/(b.loadMS/1000),
			drainText(b), b.cpuMS/1000, b.perCPUSecond)
		tw.Flush()
		fmt.Fprintln(tw, "process	CPU s	share	")
		for _, c := range b.cpu {
			share := 0.0
			if b.cpuMS > 0 {
				share = c.cpuMS / b.cpuMS * 100
			}
			fmt.Fprintf(tw, "%s	%.1f	%.0f%%	\n", c.process, c.cpuMS/1000, share)
		}
		tw.Flush()
	}

	if len(rep.startup) > 0 {
		fmt.Fprintln(w, "\nStart-up (each service started again after the run, its schema already migrated): ms from exec to /readyz 200")
		fmt.Fprintln(tw, "service	ready ms	")
		for _, m := range rep.startup {
			fmt.Fprintf(tw, "%s	%.1f	\n", m.service, m.readyMS)
		}
		tw.Flush()
	}

	if len(rep.rss) > 0 {
		fmt.Fprintln(w, "\nMemory of the services at the end (from /proc/PID/status)")
		fmt.Fprintln(tw, "service\tpeak (VmHWM) MiB\tnow (VmRSS) MiB\t")
		for _, m := range rep.rss {
			fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t\n", m.service, float64(m.hwmKB)/1024, float64(m.rssKB)/1024)
		}
		tw.Flush()
	}
}

// check returns every threshold the run missed.
func (rep *report) check(exp expectations) []string {
	var out []string
	for _, c := range exp.conns {
		for _, s := range exp.scenarios {
			run, ok := rep.http[runKey{s, c}]
			if !ok {
				continue // already a problem
			}
			at := fmt.Sprintf("%s at %d connections", s, c)
			if run.requests == 0 {
				out = append(out, at+": no request completed")
			}
			if run.unexpected > 0 {
				out = append(out, fmt.Sprintf("%s: %d answers with another status than expected (status:count %s)", at, run.unexpected, run.codes))
			}
			if run.socketErrors > 0 {
				out = append(out, fmt.Sprintf("%s: %d socket errors or timeouts", at, run.socketErrors))
			}
			if run.exhausted > 0 {
				out = append(out, at+": ran out of PENDING orders to move (raise SEED_ORDERS)")
			}
			if lim := ms(exp.p99Max); lim > 0 && run.p99 > lim {
				out = append(out, fmt.Sprintf("%s: p99 %.1fms over the limit %s", at, run.p99, exp.p99Max))
			}
		}
		for _, tx := range baselineScripts(exp) {
			if run, ok := rep.pgbench[runKey{tx, c}]; ok && run.failed > 0 {
				out = append(out, fmt.Sprintf("pgbench %s at %d clients: %d failed transactions", tx, c, run.failed))
			}
		}
	}
	for _, r := range rep.openloop {
		if r.errs > 0 {
			out = append(out, fmt.Sprintf("open loop %s at %d/s: %d requests failed", r.scenario, r.rate, r.errs))
		}
		if r.starved > 0 {
			out = append(out, fmt.Sprintf("open loop %s at %d/s: %d moves found no order ready (seed more)", r.scenario, r.rate, r.starved))
		}
	}
	if b := rep.burst; b != nil && !b.drained {
		out = append(out, fmt.Sprintf("burst: the consumers had not taken every one of the %d creates' events %.1fs after the burst", b.creates, b.drainMS/1000))
	}
	for _, run := range rep.freshness {
		at := strconv.Itoa(run.rate) + " changes/s"
		if run.ok == 0 {
			out = append(out, at+": no change answered 2xx")
		}
		if run.errs > 0 {
			out = append(out, fmt.Sprintf("%s: %d changes answered otherwise than 2xx or not at all", at, run.errs))
		}
		for _, row := range run.rows {
			what := fmt.Sprintf("%s: %s seen by %s", at, row.kind, row.via)
			if row.never > exp.maxNeverSeen {
				out = append(out, fmt.Sprintf("%s: %d of %d changes never seen (allowed: %d)", what, row.never, row.changes, exp.maxNeverSeen))
			}
			if lim := ms(exp.freshnessP99Max); lim > 0 && row.p99 > lim {
				out = append(out, fmt.Sprintf("%s: p99 %.1fms over the limit %s", what, row.p99, exp.freshnessP99Max))
			}
		}
	}
	return out
}

func drainText(b *burstRun) string {
	if !b.drained {
		return fmt.Sprintf("> %.1f", b.drainMS/1000)
	}
	return fmt.Sprintf("%.1f", b.drainMS/1000)
}

// ms is d in milliseconds, the unit of the figures.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
