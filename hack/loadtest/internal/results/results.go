// Package results is the one line format in which every part of the load
// harness reports: the wrk scripts (wrk/loadtest.lua writes it too), the
// freshness probe and hack/loadtest.sh itself. The report reads these lines
// back from the run's output files, so a tool's own chatter may surround them.
//
// A record is one line: the marker, a tag naming the kind of record, then
// key=value fields separated by spaces; values never contain spaces.
//
//	@loadtest wrk scenario=fetch conns=16 rps=5230.4 p50_ms=2.1 ...
package results

import (
	"fmt"
	"strconv"
	"strings"
)

// Marker starts every record, telling it apart from other output.
const Marker = "@loadtest"

// Record is one parsed line.
type Record struct {
	// Tag says what the record reports: "wrk", "freshness", "rss", ...
	Tag string
	// Fields are the key=value pairs, by key.
	Fields map[string]string
}

// Format writes a record: tag, then kv as key, value pairs. A value with
// a space in it would not read back, so spaces become underscores.
func Format(tag string, kv ...string) string {
	var b strings.Builder
	b.WriteString(Marker + " " + tag)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %s=%s", kv[i], strings.ReplaceAll(kv[i+1], " ", "_"))
	}
	return b.String()
}

// Parse reads line as a record; ok is false when line is not one.
func Parse(line string) (r Record, ok bool) {
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != Marker {
		return Record{}, false
	}
	r = Record{Tag: f[1], Fields: make(map[string]string, len(f)-2)}
	for _, kv := range f[2:] {
		if k, v, found := strings.Cut(kv, "="); found && k != "" {
			r.Fields[k] = v
		}
	}
	return r, true
}

// Float returns the field key as a number.
func (r Record) Float(key string) (float64, error) {
	v, ok := r.Fields[key]
	if !ok {
		return 0, fmt.Errorf("%s record has no field %q", r.Tag, key)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("%s record: field %s=%q is not a number", r.Tag, key, v)
	}
	return f, nil
}

// Int returns the field key as an integer.
func (r Record) Int(key string) (int64, error) {
	v, ok := r.Fields[key]
	if !ok {
		return 0, fmt.Errorf("%s record has no field %q", r.Tag, key)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s record: field %s=%q is not an integer", r.Tag, key, v)
	}
	return n, nil
}
