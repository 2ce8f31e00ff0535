package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// at is t0 plus ms milliseconds.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func TestMark(t *testing.T) {
	tests := []struct {
		name     string
		marks    []int64 // versions shown by the stream, at t0+10ms each
		wantSeen []bool  // per version 1..3
	}{
		{name: "nothing shown", marks: nil, wantSeen: []bool{false, false, false}},
		{name: "one version", marks: []int64{1}, wantSeen: []bool{true, false, false}},
		{name: "a later state covers the versions before it", marks: []int64{3}, wantSeen: []bool{true, true, true}},
		{name: "an older state after a newer one changes nothing", marks: []int64{2, 1}, wantSeen: []bool{true, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &order{id: 1}
			for v := int64(1); v <= 3; v++ {
				o.changes = append(o.changes, &change{kind: "update", version: v, ok: t0})
			}
			for i, v := range tt.marks {
				o.mark(viaSSE, v, at(10*(i+1)))
			}
			for i, c := range o.changes {
				if got := !c.seen[viaSSE].IsZero(); got != tt.wantSeen[i] {
					t.Errorf("version %d: got seen %v, want %v", c.version, got, tt.wantSeen[i])
				}
				if !c.seen[viaGet].IsZero() {
					t.Errorf("version %d: got seen by GET, want only the stream", c.version)
				}
			}
			if tt.marks != nil && o.changes[0].seen[viaSSE] != at(10) {
				t.Errorf("got version 1 seen at %v, want the first mark's time %v", o.changes[0].seen[viaSSE], at(10))
			}
		})
	}
}

func TestWaiting(t *testing.T) {
	within := time.Second
	tests := []struct {
		name string
		c    change
		now  time.Time
		want bool
	}{
		{name: "answered, unseen, in time", c: change{ok: t0}, now: at(500), want: true},
		{name: "answered, unseen, past its deadline", c: change{ok: t0}, now: at(1000), want: false},
		{name: "seen", c: change{ok: t0, seen: [ways]time.Time{viaGet: at(5)}}, now: at(10), want: false},
		{name: "still in flight", c: change{}, now: at(10), want: false},
		{name: "failed", c: change{failed: true}, now: at(10), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &order{changes: []*change{&tt.c}}
			if got := o.waiting(viaGet, tt.now, within); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPollDelay(t *testing.T) {
	poll := 20 * time.Millisecond
	tests := []struct {
		age, want time.Duration
	}{
		{age: 0, want: poll},
		{age: 79 * time.Millisecond, want: poll},
		{age: 200 * time.Millisecond, want: 50 * time.Millisecond},
		{age: 2 * time.Second, want: 500 * time.Millisecond},
		{age: 10 * time.Second, want: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.age.String(), func(t *testing.T) {
			if got := pollDelay(tt.age, poll); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	within := time.Second
	seen := func(sse, get time.Time) [ways]time.Time { return [ways]time.Time{viaSSE: sse, viaGet: get} }
	orders := []*order{
		{id: 1, changes: []*change{
			{kind: "create", version: 1, ok: t0, seen: seen(at(30), at(10))},
			{kind: "update", version: 2, ok: at(100), seen: seen(at(150), at(120))},
			// Seen by the stream before its answer arrived: zero, not negative.
			{kind: "update", version: 3, ok: at(200), seen: seen(at(190), at(220))},
			// Seen by GET too late, never by the stream.
			{kind: "update", version: 4, ok: at(300), seen: seen(time.Time{}, at(1400))},
		}},
		{id: 2, changes: []*change{
			{kind: "create", version: 1, ok: t0, seen: seen(at(50), at(20))},
			// Failed and in-flight changes are not measured.
			{kind: "update", version: 2, failed: true},
			{kind: "update", version: 3},
		}},
	}
	rows := summarize(orders, within)
	var got []string
	for _, r := range rows {
		got = append(got, strings.Join([]string{
			r.kind, r.way.String(), itoa(int64(r.changes)), itoa(int64(r.never)),
			r.latency.P50.String(), r.latency.Max.String(),
		}, " "))
	}
	want := []string{
		"create sse 2 0 30ms 50ms",
		"create get 2 0 10ms 20ms",
		"update sse 3 1 0s 50ms",
		"update get 3 1 20ms 20ms",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseRates(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "50,200,1000", want: "[50 200 1000]"},
		{in: " 20 ", want: "[20]"},
		{in: "50,,200", wantErr: true},
		{in: "0", wantErr: true},
		{in: "fast", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseRates(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && fmt.Sprint(got) != tt.want {
				t.Errorf("got %v, want %s", got, tt.want)
			}
		})
	}
}
