// Command report reads the output files of one hack/loadtest.sh run and
// prints its figures as tables: each HTTP scenario also as a ratio to what
// the infrastructure does for the same work on the same machine, the
// freshness probe's table, the infrastructure's own figures, the whole
// system's cost of a create burst, the services' start-up and memory. It then checks the thresholds and exits 1 when one is
// missed, or when a result it expects is missing or does not parse (the
// harness's output is tested by being read).
//
//	report -dir .devenv/loadtest/<run> -conns 16,64 -rates 50,200,1000 -baselines -rss -p99-max 1s
//
// The run directory holds wrk-<scenario>-<conns>.out, pgbench-<create|update>-<clients>.out,
// redis-get.csv, openloop-<create|update>.out, freshness.out, burst.out,
// startup.out and rss.out.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() { os.Exit(run()) }

func run() int {
	var exp expectations
	dir := flag.String("dir", "", "the run's directory (required)")
	scenarios := flag.String("scenarios", "create-legacy,create-v1,update,fetch,list,track", "HTTP scenarios run, comma-separated")
	conns := flag.String("conns", "16,64", "connection counts run, comma-separated")
	rates := flag.String("rates", "50,200,1000", "freshness rates run, comma-separated; empty if the probe did not run")
	flag.BoolVar(&exp.baselines, "baselines", false, "pgbench and redis-benchmark ran")
	flag.BoolVar(&exp.rss, "rss", false, "the services' memory was recorded")
	flag.BoolVar(&exp.burst, "burst", false, "the create burst ran (burst.out)")
	flag.BoolVar(&exp.openloop, "openloop", false, "creates and updates ran at a fixed rate (openloop-create.out, openloop-update.out)")
	flag.BoolVar(&exp.startup, "startup", false, "the services' start-up was timed (startup.out)")
	flag.DurationVar(&exp.p99Max, "p99-max", 0, "an HTTP scenario's p99 must not exceed this (0: not checked)")
	flag.DurationVar(&exp.freshnessP99Max, "freshness-p99-max", 0, "a freshness p99 must not exceed this (0: not checked)")
	flag.Int64Var(&exp.maxNeverSeen, "max-never-seen", 0, "changes never seen allowed per rate, kind and way")
	title := flag.String("title", "", "a line printed above the tables")
	flag.Parse()
	var err error
	exp.scenarios = split(*scenarios)
	if exp.conns, err = ints(*conns); err == nil {
		exp.rates, err = ints(*rates)
	}
	if *dir == "" || err != nil {
		fmt.Fprintf(os.Stderr, "report: -dir is required; -conns and -rates want integers (%v)\n", err)
		return 2
	}

	rep := load(*dir, exp)
	if *title != "" {
		fmt.Println(*title)
		fmt.Println()
	}
	rep.print(os.Stdout, exp)
	failures := append(rep.problems, rep.check(exp)...)
	fmt.Println()
	if len(failures) > 0 {
		for _, f := range failures {
			fmt.Println("FAIL: " + f)
		}
		fmt.Printf("(raw output: %s)\n", *dir)
		return 1
	}
	fmt.Printf("PASS: %s\n", exp.describe())
	return 0
}

// expectations are what the run did, so what must be there, and the
// thresholds.
type expectations struct {
	scenarios       []string
	conns, rates    []int
	baselines, rss  bool
	burst, startup  bool
	openloop        bool
	p99Max          time.Duration
	freshnessP99Max time.Duration
	maxNeverSeen    int64
}

func (e expectations) describe() string {
	parts := []string{"every answer as expected", "no socket error"}
	if len(e.rates) > 0 {
		parts = append(parts, fmt.Sprintf("at most %d changes never seen per rate, kind and way", e.maxNeverSeen))
	}
	if e.p99Max > 0 {
		parts = append(parts, "HTTP p99 <= "+e.p99Max.String())
	}
	if e.freshnessP99Max > 0 {
		parts = append(parts, "freshness p99 <= "+e.freshnessP99Max.String())
	}
	return strings.Join(parts, ", ")
}

func split(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range split(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}
