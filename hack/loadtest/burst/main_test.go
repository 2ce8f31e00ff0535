package main

import (
	"strings"
	"testing"
)

func TestMetricSum(t *testing.T) {
	const exposition = `# HELP kafka_consumer_records_consumed_total Records consumed.
# TYPE kafka_consumer_records_consumed_total counter
kafka_consumer_records_consumed_total{partition="0",topic="order events"} 12
kafka_consumer_records_consumed_total{partition="1",topic="order-events"} 30.5
kafka_consumer_records_consumed_total_extra 1000
outbox_published_messages_total 7
outbox_published_messages_total_created 1.7e+09
`
	tests := []struct {
		metric string
		want   float64
	}{
		{"kafka_consumer_records_consumed_total", 42.5},
		{"outbox_published_messages_total", 7},
		{"absent_metric", 0},
	}
	for _, tt := range tests {
		t.Run(tt.metric, func(t *testing.T) {
			got, err := metricSum(strings.NewReader(exposition), tt.metric)
			if err != nil || got != tt.want {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := metricSum(strings.NewReader("outbox_published_messages_total many\n"), "outbox_published_messages_total"); err == nil {
		t.Error("got no error for a value that is not a number")
	}
}

func TestParseProcs(t *testing.T) {
	tests := []struct {
		in      string
		want    []proc
		wantErr bool
	}{
		{"orders-service=12,postgres=7", []proc{{"orders-service", 12}, {"postgres", 7}}, false},
		{"postgres=7 , redis=9", []proc{{"postgres", 7}, {"redis", 9}}, false},
		{"", nil, true},
		{"postgres", nil, true},
		{"postgres=", nil, true},
		{"=7", nil, true},
		{"postgres=-1", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseProcs(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestDelta(t *testing.T) {
	before := [2]float64{50, 10}
	if got := delta(before, [2]float64{90, 35}); got != 25 {
		t.Errorf("got %v, want the least progress, 25", got)
	}
}
