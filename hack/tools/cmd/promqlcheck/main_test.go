package main

import (
	"slices"
	"testing"
)

func TestMetricNames(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		want    []string
		wantErr bool
	}{
		{name: "plain", expr: `up`, want: []string{"up"}},
		{name: "grafana variables", expr: `sum by (uri) (rate(http_server_requests_seconds_count{namespace=~"$namespace", job=~"${job:regex}"}[$__rate_interval]))`, want: []string{"http_server_requests_seconds_count"}},
		{name: "several, sorted and unique", expr: `rate(b_total[5m]) / rate(a_total[5m]) + rate(b_total[1m])`, want: []string{"a_total", "b_total"}},
		{name: "__name__ matcher", expr: `{__name__="go_goroutines"}`, want: []string{"go_goroutines"}},
		{name: "no metric name", expr: `{job="x"}`, wantErr: true},
		{name: "syntax error", expr: `sum(rate(up[5m])`, wantErr: true},
		{name: "empty", expr: ` `, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := metricNames(tt.expr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSubstituteVars(t *testing.T) {
	tests := []struct{ in, want string }{
		{`x[$__rate_interval]`, `x[5m]`},
		{`x[${__range}]`, `x[5m]`},
		{`x{a=~"$ns",b="[[job]]"}`, `x{a=~"x",b="x"}`},
		{`$__range_s`, `300`},
	}
	for _, tt := range tests {
		if got := substituteVars(tt.in); got != tt.want {
			t.Errorf("substituteVars(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
