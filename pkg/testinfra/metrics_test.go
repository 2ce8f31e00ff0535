package testinfra

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestMetricNames(t *testing.T) {
	exposition := `# HELP a_total A.
# TYPE a_total counter
a_total 1
# HELP b_seconds B.
# TYPE b_seconds histogram
b_seconds_bucket{le="+Inf"} 1
b_seconds_sum 0.1
b_seconds_count 1
`
	if got, want := MetricNames([]byte(exposition)), []string{"a_total", "b_seconds"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestHasSample(t *testing.T) {
	exposition := []byte("# TYPE a_total counter\na_total 10\nb_total{x=\"y\"} 0\n")
	tests := []struct {
		sample string
		want   bool
	}{
		{"a_total 10", true},
		{"a_total", true},
		{"a_total 1", false},
		{`b_total{x="y"} 0`, true},
		{`b_total{x="y"}`, true},
		{"b_total", false},
		{"c_total", false},
	}
	for _, tt := range tests {
		if got := hasSample(exposition, tt.sample); got != tt.want {
			t.Errorf("hasSample(%q): got %v, want %v", tt.sample, got, tt.want)
		}
	}
}

// errorsTB records what CheckMetrics reports instead of failing.
type errorsTB struct {
	testing.TB
	errors []string
}

func (r *errorsTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestCheckMetrics(t *testing.T) {
	tests := []struct {
		name      string
		metric    string
		collector prometheus.Collector
		wantError string // part of the one error reported; empty: no error
	}{
		{
			name:      "conventional",
			metric:    "things_done_total",
			collector: prometheus.NewCounter(prometheus.CounterOpts{Name: "things_done_total", Help: "Things done."}),
		},
		{
			name:      "counter without _total",
			metric:    "things_done",
			collector: prometheus.NewCounter(prometheus.CounterOpts{Name: "things_done", Help: "Things done."}),
			wantError: `"_total" suffix`,
		},
		{
			name:      "non-base unit",
			metric:    "wait_milliseconds",
			collector: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wait_milliseconds", Help: "Wait."}),
			wantError: `base unit "seconds"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(tt.collector)
			srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			defer srv.Close()

			r := &errorsTB{TB: t}
			if out := CheckMetrics(r, srv.URL, tt.metric); !strings.Contains(out, tt.metric) {
				t.Errorf("got output %q, want it to include %s", out, tt.metric)
			}
			switch {
			case tt.wantError == "" && len(r.errors) > 0:
				t.Errorf("got errors %q, want none", r.errors)
			case tt.wantError != "" && (len(r.errors) != 1 || !strings.Contains(r.errors[0], tt.wantError)):
				t.Errorf("got errors %q, want one saying %s", r.errors, tt.wantError)
			}
		})
	}
}
