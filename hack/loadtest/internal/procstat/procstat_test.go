package procstat

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name, line string
		want       stat
		wantErr    bool
	}{
		{"plain", "42 (postgres) S 7 42 42 0 -1 4194304 100 0 0 0 150 25 3 4 20 0 1 0 100 0 0",
			stat{ppid: 7, own: 175, children: 7}, false},
		{"command with spaces and parentheses", "43 (my (odd) name) R 1 43 43 0 -1 0 0 0 0 0 10 20 30 40 20 0 1 0 5 0 0",
			stat{ppid: 1, own: 30, children: 70}, false},
		{"cut short", "44 (x) S 1 2 3", stat{}, true},
		{"no command", "45 S 1", stat{}, true},
		{"not a number", "46 (x) S 1 0 0 0 -1 0 0 0 0 0 ten 0 0 0 20 0 1 0 5 0 0", stat{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat(tt.line)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestTree sums a root, its waited-for children and its live descendants,
// and nothing outside the tree, from a /proc of its own.
func TestTree(t *testing.T) {
	proc := t.TempDir()
	write := func(pid, line string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(proc, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, pid, "stat"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const rest = " 20 0 1 0 5 0 0"
	write("10", "10 (root) S 1 0 0 0 -1 0 0 0 0 0 100 50 7 3"+rest)     // 150 own + 10 of children waited for
	write("11", "11 (child) S 10 0 0 0 -1 0 0 0 0 0 20 20 1000 0"+rest) // 40 + 1000 of its children waited for
	write("12", "12 (grandchild) S 11 0 0 0 -1 0 0 0 0 0 5 5 0 0"+rest) // 10
	write("13", "13 (stranger) S 1 0 0 0 -1 0 0 0 0 0 999 999 0 0"+rest)
	if err := os.MkdirAll(filepath.Join(proc, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := tree(proc, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := 12100 * time.Millisecond; got != want {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := tree(proc, 99); err == nil {
		t.Error("got no error for a process that does not exist")
	}
}
