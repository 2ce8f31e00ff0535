// Package sse reads a Server-Sent Events stream as a browser's EventSource
// does (the WHATWG HTML "event stream interpretation"), so that the
// freshness probe sees tracking-service's GET /track/{id}/events exactly as
// a client would: comments skipped, multi-line data joined, the last event
// id carried over, an event without data or cut off by the end of the
// stream never dispatched.
package sse

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// maxLine bounds one line of the stream; an order's state is a few hundred
// bytes.
const maxLine = 1 << 20

// Event is one dispatched event.
type Event struct {
	// ID is the last event id the stream set, at or before this event.
	ID string
	// Name is the event type, "message" when the stream named none.
	Name string
	// Data is the event's data lines joined by newlines.
	Data string
}

// Reader reads the events of one stream.
type Reader struct {
	sc     *bufio.Scanner
	lastID string
}

// NewReader reads events from r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	sc.Split(scanLines)
	return &Reader{sc: sc}
}

// Next returns the next event. At the end of the stream it returns io.EOF,
// or the error that ended it.
func (r *Reader) Next() (Event, error) {
	var name string
	var data strings.Builder
	hasData := false
	for r.sc.Scan() {
		line := r.sc.Text()
		if line == "" {
			if !hasData {
				name = "" // nothing to dispatch; the type does not carry over
				continue
			}
			if name == "" {
				name = "message"
			}
			return Event{ID: r.lastID, Name: name, Data: strings.TrimSuffix(data.String(), "\n")}, nil
		}
		if strings.HasPrefix(line, ":") {
			continue // a comment, e.g. the heartbeat
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			name = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
			hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				r.lastID = value
			}
		}
	}
	if err := r.sc.Err(); err != nil {
		return Event{}, err
	}
	return Event{}, io.EOF
}

// scanLines splits at CRLF, LF or CR, the three line ends a stream may use.
func scanLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0:
		if atEOF && len(data) > 0 {
			// A last line without its end: returned so that Next sees it, but
			// as no blank line follows, it never completes an event.
			return len(data), data, nil
		}
		return 0, nil, nil
	case data[i] == '\n':
		return i + 1, data[:i], nil
	case i+1 < len(data):
		if data[i+1] == '\n' {
			return i + 2, data[:i], nil
		}
		return i + 1, data[:i], nil
	case atEOF:
		return i + 1, data[:i], nil
	default:
		return 0, nil, nil // a CR at the end of what was read: an LF may follow
	}
}
