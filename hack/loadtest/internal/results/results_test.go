package results

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		want   Record
		wantOK bool
	}{
		{
			name:   "record",
			line:   "@loadtest wrk scenario=fetch conns=16 rps=5230.4",
			want:   Record{Tag: "wrk", Fields: map[string]string{"scenario": "fetch", "conns": "16", "rps": "5230.4"}},
			wantOK: true,
		},
		{
			name:   "tag only",
			line:   "@loadtest rss",
			want:   Record{Tag: "rss", Fields: map[string]string{}},
			wantOK: true,
		},
		{
			name:   "extra spaces and a value with an equals sign",
			line:   "  @loadtest   wrk  path=/a?b=c   ",
			want:   Record{Tag: "wrk", Fields: map[string]string{"path": "/a?b=c"}},
			wantOK: true,
		},
		{name: "field without a key is dropped", line: "@loadtest wrk =1 a=2", want: Record{Tag: "wrk", Fields: map[string]string{"a": "2"}}, wantOK: true},
		{name: "wrk's own output", line: "  Latency     2.10ms    1.05ms  20.00ms   90.00%", wantOK: false},
		{name: "marker alone", line: "@loadtest", wantOK: false},
		{name: "marker not first", line: "x @loadtest wrk a=1", wantOK: false},
		{name: "empty", line: "", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Parse(tt.line)
			if ok != tt.wantOK {
				t.Fatalf("got ok %v, want %v", ok, tt.wantOK)
			}
			if ok && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFormatParsesBack(t *testing.T) {
	line := Format("freshness", "rate", "50", "via", "sse", "note", "two words")
	if want := "@loadtest freshness rate=50 via=sse note=two_words"; line != want {
		t.Fatalf("got %q, want %q", line, want)
	}
	r, ok := Parse(line)
	if !ok {
		t.Fatalf("got no record from %q", line)
	}
	if n, err := r.Int("rate"); err != nil || n != 50 {
		t.Errorf("got rate %d (%v), want 50", n, err)
	}
}

func TestNumbers(t *testing.T) {
	r, _ := Parse("@loadtest wrk rps=12.5 n=3 bad=x")
	tests := []struct {
		name    string
		get     func() (float64, error)
		want    float64
		wantErr bool
	}{
		{name: "float", get: func() (float64, error) { return r.Float("rps") }, want: 12.5},
		{name: "int", get: func() (float64, error) { n, err := r.Int("n"); return float64(n), err }, want: 3},
		{name: "int refuses a fraction", get: func() (float64, error) { n, err := r.Int("rps"); return float64(n), err }, wantErr: true},
		{name: "not a number", get: func() (float64, error) { return r.Float("bad") }, wantErr: true},
		{name: "missing", get: func() (float64, error) { return r.Float("nope") }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.get()
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
