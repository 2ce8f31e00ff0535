package testinfra

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	osexec "os/exec" // the package has its own exec
	"slices"
	"strings"
	"testing"
	"time"
)

// metricsTimeout bounds the wait for the wanted metrics to appear: consumer
// lag, for one, is refreshed every few seconds after partitions are assigned.
const metricsTimeout = 60 * time.Second

// CheckMetrics waits up to 60s until base+"/metrics" exposes every metric
// family named in want (some appear only after traffic, or after a
// consumer's first lag refresh), then lints that output with `promtool check
// metrics` and fails the test on anything promtool says. It returns the
// output, in the Prometheus text format, for further checks.
//
// promtool is PROMTOOL, or promtool on PATH (Debian's prometheus package,
// which hack/devenv.sh installs). Without it the test is skipped, or fails
// when CI is set.
func CheckMetrics(t testing.TB, base string, want ...string) string {
	t.Helper()
	promtool := findPromtool(t)

	var body []byte
	Eventually(t, metricsTimeout, func() (bool, string) {
		var err error
		if body, err = scrape(base + "/metrics"); err != nil {
			return false, err.Error()
		}
		got := MetricNames(body)
		missing := slices.DeleteFunc(slices.Clone(want), func(name string) bool { return slices.Contains(got, name) })
		return len(missing) == 0, fmt.Sprintf("GET /metrics lacks %s", strings.Join(missing, ", "))
	})

	if out, err := checkMetrics(promtool, body); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics on %s/metrics: %v\n%s", base, err, out)
	}
	return string(body)
}

// checkMetrics runs `promtool check metrics` on exposition, in the Prometheus
// text format, and returns what it printed: nothing when the metrics follow
// Prometheus's conventions, one line per problem otherwise (then err is
// also set, promtool having exited non-zero).
func checkMetrics(promtool string, exposition []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := osexec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	return cmd.CombinedOutput()
}

// MetricNames lists the metric families of exposition, in the Prometheus text
// format: the names of its # TYPE lines. The registry writes one for every
// family with at least one sample, so a labelled metric never used is not
// listed.
func MetricNames(exposition []byte) []string {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(exposition))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "# TYPE "); ok {
			if name, _, ok := strings.Cut(rest, " "); ok {
				names = append(names, name)
			}
		}
	}
	return names
}

// findPromtool returns the promtool to run, or skips (fails in CI).
func findPromtool(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	p, err := osexec.LookPath("promtool")
	if err != nil {
		unavailable(t, "promtool is not installed (Debian's prometheus package; hack/devenv.sh up installs it)")
	}
	return p
}

// WaitForSamples waits up to 60s until base+"/metrics" has every one of
// samples: a series with its value as the text format writes it
// (`orders_created_total 1`, `x_total{a="b"} 0`), or a series alone, which
// matches any value. Labels are written sorted by name.
func WaitForSamples(t testing.TB, base string, samples ...string) {
	t.Helper()
	Eventually(t, metricsTimeout, func() (bool, string) {
		body, err := scrape(base + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		for _, s := range samples {
			if !hasSample(body, s) {
				return false, fmt.Sprintf("GET /metrics lacks %s:\n%s", s, body)
			}
		}
		return true, ""
	})
}

// hasSample reports whether exposition has a line that is sample, or that
// is sample followed by a value.
func hasSample(exposition []byte, sample string) bool {
	for line := range strings.Lines(string(exposition)) {
		line = strings.TrimSuffix(line, "\n")
		if line == sample || strings.HasPrefix(line, sample+" ") {
			return true
		}
	}
	return false
}

// scrape fetches url in the Prometheus text format, the one promtool reads.
func scrape(url string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s answered %s: %s", url, resp.Status, body)
	}
	return body, nil
}
