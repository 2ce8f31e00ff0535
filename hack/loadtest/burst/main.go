// Command burst measures what the whole system spends on orders: it runs a
// load command (wrk creating orders as fast as it can), waits until the
// event pipeline has carried every order it created to both consumers, and
// reports how long that took after the load ended, and the CPU time every
// process of the system used from the load's start until then: the three
// services and the infrastructure's process trees (PostgreSQL, Redis,
// Kafka), not the load generator.
//
//	burst -tracking URL -notification URL -ids created.ids \
//	  -procs orders-service=PID,...,postgres=PID -load-out wrk.out -- wrk ...
//
// The load command must write the id of every order it created, one per
// line, to -ids (wrk/create-legacy.lua's ids_out): those are the events the
// consumers must have taken. Run it with the pipeline idle.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/order-tracking/platform/hack/loadtest/internal/orderapi"
	"github.com/order-tracking/platform/hack/loadtest/internal/procstat"
	"github.com/order-tracking/platform/hack/loadtest/internal/results"
)

// consumedMetric says how far each consumer got. orders-service's metrics
// are not asked: its outbox backlog gauge queries the outbox on every
// scrape, and scraping it every few milliseconds would add to the load
// measured. A consumer that took an event has it from the relay anyway.
const consumedMetric = "kafka_consumer_records_consumed_total"

func main() { os.Exit(run()) }

func run() int {
	trackingURL := flag.String("tracking", "", "tracking-service base URL")
	notificationURL := flag.String("notification", "", "notification-service base URL")
	idsFile := flag.String("ids", "", "file the load command writes the created orders' ids to")
	procsFlag := flag.String("procs", "", "the system's processes, name=pid,...: each counted with its descendants")
	loadOut := flag.String("load-out", "", "file for the load command's output (default: stdout)")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up waiting for the drain after this long")
	poll := flag.Duration("poll", 50*time.Millisecond, "how often to look at the pipeline's counters while it drains")
	flag.Parse()
	procs, err := parseProcs(*procsFlag)
	if err != nil || *trackingURL == "" || *notificationURL == "" || *idsFile == "" || flag.NArg() == 0 {
		fmt.Fprintf(os.Stderr, "burst: -tracking, -notification, -ids, -procs and a load command are required (%v)\n", err)
		return 2
	}
	counters := func(ctx context.Context) ([2]float64, error) {
		var c [2]float64
		var errs [2]error
		c[0], errs[0] = scrape(ctx, *trackingURL, consumedMetric)
		c[1], errs[1] = scrape(ctx, *notificationURL, consumedMetric)
		return c, errors.Join(errs[:]...)
	}
	ctx := context.Background()

	before, err := counters(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "burst:", err)
		return 1
	}
	cpu0, err := cpuTimes(procs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "burst:", err)
		return 1
	}
	start := time.Now()
	if err := runLoad(flag.Args(), *loadOut); err != nil {
		fmt.Fprintln(os.Stderr, "burst: the load command failed:", err)
		return 1
	}
	loadEnd := time.Now()
	ids, err := orderapi.ReadIDs(*idsFile)
	created := len(ids)
	if err != nil || created == 0 {
		fmt.Fprintf(os.Stderr, "burst: no created orders in %s (%v)\n", *idsFile, err)
		return 1
	}

	// Drained: each consumer took at least one event per order created
	// (more if some came twice).
	drained := false
	var end time.Time
	for deadline := loadEnd.Add(*timeout); ; time.Sleep(*poll) {
		now, err := counters(ctx)
		end = time.Now()
		if err == nil && delta(before, now) >= float64(created) {
			drained = true
			break
		}
		if end.After(deadline) {
			fmt.Fprintf(os.Stderr, "burst: not drained within %s: consumed by tracking, by notification: %v of %d (%v)\n",
				*timeout, sub(now, before), created, err)
			break
		}
	}
	cpu1, err := cpuTimes(procs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "burst:", err)
		return 1
	}
	var total time.Duration
	for i, p := range procs {
		d := cpu1[i] - cpu0[i]
		total += d
		fmt.Println(results.Format("burst-cpu", "process", p.name, "cpu_ms", ms(d)))
	}
	perCPUSecond := 0.0
	if total > 0 {
		perCPUSecond = float64(created) / total.Seconds()
	}
	fmt.Println(results.Format("burst",
		"creates", strconv.Itoa(created),
		"load_ms", ms(loadEnd.Sub(start)),
		"drain_ms", ms(end.Sub(loadEnd)),
		"drained", strconv.FormatBool(drained),
		"cpu_ms", ms(total),
		"creates_per_cpu_s", strconv.FormatFloat(perCPUSecond, 'f', 0, 64)))
	if !drained {
		return 1
	}
	return 0
}

type proc struct {
	name string
	pid  int
}

func parseProcs(s string) ([]proc, error) {
	var ps []proc
	for _, part := range strings.Split(s, ",") {
		name, pid, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(pid)
		if !ok || name == "" || err != nil || n <= 0 {
			return nil, fmt.Errorf("-procs: %q is not name=pid", part)
		}
		ps = append(ps, proc{name, n})
	}
	return ps, nil
}

func cpuTimes(procs []proc) ([]time.Duration, error) {
	ts := make([]time.Duration, len(procs))
	for i, p := range procs {
		t, err := procstat.Tree(p.pid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		ts[i] = t
	}
	return ts, nil
}

func runLoad(args []string, out string) error {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	return cmd.Run()
}

// delta is the least progress of the counters since before.
func delta(before, now [2]float64) float64 {
	d := sub(now, before)
	return min(d[0], d[1])
}

func sub(a, b [2]float64) [2]float64 {
	return [2]float64{a[0] - b[0], a[1] - b[1]}
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
}

var client = &http.Client{Timeout: 2 * time.Second}

// scrape returns the sum of every series of metric at base's /metrics.
func scrape(ctx context.Context, base, metric string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s/metrics: %s", base, resp.Status)
	}
	return metricSum(resp.Body, metric)
}

// metricSum adds up every series of metric in a Prometheus text
// exposition; a metric that is not there sums to 0.
func metricSum(r io.Reader, metric string) (float64, error) {
	var sum float64
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// Label values may hold spaces: the value follows the closing brace.
			name = line[:i]
			j := strings.LastIndexByte(line, '}')
			if j < 0 {
				continue
			}
			rest = line[j+1:]
		}
		if name != metric {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, fmt.Errorf("%s: no value in %q", metric, line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", metric, err)
		}
		sum += v
	}
	return sum, sc.Err()
}
