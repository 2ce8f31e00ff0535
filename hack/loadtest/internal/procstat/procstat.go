// Package procstat reads how much CPU a process tree has used, from
// /proc, so that the load harness can count what every process of the
// system (the services, PostgreSQL, Redis, Kafka) spent on a piece of work.
package procstat

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ticksPerSecond is USER_HZ, the unit of /proc/PID/stat's times: 100 on
// every Linux architecture the harness runs on (getconf CLK_TCK).
const ticksPerSecond = 100

// stat is what the harness needs of one /proc/PID/stat line.
type stat struct {
	ppid int
	// own is utime+stime; children is cutime+cstime: what its children
	// that ended and were waited for used.
	own, children int64
}

// parseStat reads a /proc/PID/stat line. The command name, field 2, is in
// parentheses and may hold spaces and parentheses itself, so the fields
// are counted from the last ')'.
func parseStat(line string) (stat, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return stat{}, errors.New("no command name")
	}
	f := strings.Fields(line[i+1:])
	// f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17.
	if len(f) < 15 {
		return stat{}, fmt.Errorf("%d fields after the command name, want at least 15", len(f))
	}
	var n [5]int64
	for j, k := range []int{1, 11, 12, 13, 14} {
		v, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil {
			return stat{}, fmt.Errorf("field %d: %w", k+3, err)
		}
		n[j] = v
	}
	return stat{ppid: int(n[0]), own: n[1] + n[2], children: n[3] + n[4]}, nil
}

// Tree returns the CPU time used so far by process root and its
// descendants: for each live process of the tree, its own and that of its
// children already waited for. A descendant that ends between two calls
// moves, with what its own children used, into its parent's children's
// figure, so the difference between two calls is what the tree used
// between them.
func Tree(root int) (time.Duration, error) {
	return tree("/proc", root)
}

func tree(proc string, root int) (time.Duration, error) {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return 0, err
	}
	stats := map[int]stat{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(proc, e.Name(), "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		if s, err := parseStat(string(b)); err == nil {
			stats[pid] = s
		}
	}
	if _, ok := stats[root]; !ok {
		return 0, fmt.Errorf("no process %d", root)
	}
	children := map[int][]int{}
	for pid, s := range stats {
		children[s.ppid] = append(children[s.ppid], pid)
	}
	var ticks int64
	for queue := []int{root}; len(queue) > 0; queue = queue[1:] {
		s := stats[queue[0]]
		ticks += s.own + s.children
		queue = append(queue, children[queue[0]]...)
	}
	return time.Duration(ticks) * time.Second / ticksPerSecond, nil
}
