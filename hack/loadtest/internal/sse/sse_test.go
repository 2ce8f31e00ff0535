package sse

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReader(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   []Event
	}{
		{
			name:   "tracking-service's state event",
			stream: "id: 3\nevent: state\ndata: {\"orderId\":7,\"version\":3}\n\n",
			want:   []Event{{ID: "3", Name: "state", Data: `{"orderId":7,"version":3}`}},
		},
		{
			name:   "heartbeat comments are skipped",
			stream: ": heartbeat\n\nid: 1\nevent: state\ndata: a\n\n: heartbeat\n\nid: 2\nevent: state\ndata: b\n\n",
			want:   []Event{{ID: "1", Name: "state", Data: "a"}, {ID: "2", Name: "state", Data: "b"}},
		},
		{
			name:   "data lines are joined by newlines",
			stream: "data: one\ndata: two\ndata\n\n",
			want:   []Event{{Name: "message", Data: "one\ntwo\n"}},
		},
		{
			name:   "no space after the colon, and only one space removed",
			stream: "event:state\ndata:  x\n\n",
			want:   []Event{{Name: "state", Data: " x"}},
		},
		{
			name:   "the id carries over to later events",
			stream: "id: 5\ndata: a\n\ndata: b\n\n",
			want:   []Event{{ID: "5", Name: "message", Data: "a"}, {ID: "5", Name: "message", Data: "b"}},
		},
		{
			name:   "an id with NUL is ignored",
			stream: "id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n",
			want:   []Event{{ID: "1", Name: "message", Data: "a"}, {ID: "1", Name: "message", Data: "b"}},
		},
		{
			name:   "an event without data is not dispatched and its type does not carry over",
			stream: "id: 9\nevent: state\n\ndata: x\n\n",
			want:   []Event{{ID: "9", Name: "message", Data: "x"}},
		},
		{
			name:   "CRLF line ends",
			stream: "id: 4\r\nevent: state\r\ndata: x\r\n\r\n",
			want:   []Event{{ID: "4", Name: "state", Data: "x"}},
		},
		{
			name:   "CR line ends",
			stream: "id: 4\revent: state\rdata: x\r\r",
			want:   []Event{{ID: "4", Name: "state", Data: "x"}},
		},
		{
			name:   "unknown fields are ignored",
			stream: "retry: 1000\nfoo: bar\ndata: x\n\n",
			want:   []Event{{Name: "message", Data: "x"}},
		},
		{
			name:   "an event cut off by the end of the stream is dropped",
			stream: "data: whole\n\nid: 2\ndata: cut",
			want:   []Event{{Name: "message", Data: "whole"}},
		},
		{name: "empty stream", stream: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte per read: line ends split across reads must not matter.
			got := readAll(t, NewReader(iotest.OneByteReader(strings.NewReader(tt.stream))))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func readAll(t *testing.T, r *Reader) []Event {
	t.Helper()
	var out []Event
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("got error %v, want events then io.EOF", err)
		}
		out = append(out, e)
	}
}

func TestReaderReportsTheStreamError(t *testing.T) {
	boom := errors.New("connection reset")
	r := NewReader(io.MultiReader(strings.NewReader("data: a\n\n"), iotest.ErrReader(boom)))
	if _, err := r.Next(); err != nil {
		t.Fatalf("first event: got error %v, want none", err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Errorf("got %v, want %v", err, boom)
	}
}
