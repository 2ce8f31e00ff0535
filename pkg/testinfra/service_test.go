package testinfra

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	osexec "os/exec" // the package has its own exec
	"strings"
	"sync/atomic"
	"testing"
)

func TestFreePort(t *testing.T) {
	port := FreePort(t)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("got port %d that cannot be listened on: %v", port, err)
	}
	_ = l.Close()
}

// logTB records what LogWriter sends to t.Log.
type logTB struct {
	testing.TB
	lines []string
}

func (r *logTB) Log(args ...any) { r.lines = append(r.lines, fmt.Sprint(args...)) }

func TestLogWriter(t *testing.T) {
	tests := []struct {
		name  string
		write string
		want  string
	}{
		{"trailing newline trimmed", "level=INFO msg=ready\n", "level=INFO msg=ready"},
		{"no newline", "partial", "partial"},
		{"only trailing newlines trimmed", "\n a\nb\n\n", "\n a\nb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &logTB{TB: t}
			n, err := LogWriter(r).Write([]byte(tt.write))
			if n != len(tt.write) || err != nil {
				t.Errorf("got Write = %d, %v, want %d, nil", n, err, len(tt.write))
			}
			if len(r.lines) != 1 || r.lines[0] != tt.want {
				t.Errorf("got logged %q, want [%q]", r.lines, tt.want)
			}
		})
	}
}

// fakeService serves /readyz on HTTP_PORT until ctx ends, then returns 0,
// as a service's run does.
func fakeService(ctx context.Context, _ []string, stderr io.Writer) int {
	if os.Getenv("FAKE_SERVICE_EXIT") != "" {
		fmt.Fprintln(stderr, "bad config")
		return 2
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("HTTP_PORT"))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" && os.Getenv("FAKE_SERVICE_GREETING") == "hello" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	})}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	fmt.Fprintln(stderr, "listening")
	_ = srv.Serve(l)
	return 0
}

func TestStartService(t *testing.T) {
	var stopped atomic.Bool
	t.Run("started", func(t *testing.T) {
		run := func(ctx context.Context, args []string, stderr io.Writer) int {
			defer stopped.Store(true)
			return fakeService(ctx, args, stderr)
		}
		base := StartService(t, run, map[string]string{"FAKE_SERVICE_GREETING": "hello"}, nil)
		if !strings.HasPrefix(base, "http://127.0.0.1:") || strings.TrimPrefix(base, "http://127.0.0.1:") != os.Getenv("HTTP_PORT") {
			t.Errorf("got base URL %q, want http://127.0.0.1:%s", base, os.Getenv("HTTP_PORT"))
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("got readyz %s, want 200", resp.Status)
		}
		if stopped.Load() {
			t.Error("got the service stopped before the test ended, want it running")
		}
	})
	if !stopped.Load() {
		t.Error("got the service running after the test's cleanup, want it stopped")
	}
}

// TestStartServiceEarlyExit checks, in a child test process, that a
// service exiting before it is ready fails the test at once, with its
// exit code, and only once.
func TestStartServiceEarlyExit(t *testing.T) {
	if os.Getenv("TESTINFRA_EARLY_EXIT_CHILD") != "" {
		t.Setenv("FAKE_SERVICE_EXIT", "1")
		StartService(t, fakeService, nil, nil)
		t.Error("StartService returned, want it to fail the test")
		return
	}
	cmd := osexec.Command(os.Args[0], "-test.run=^TestStartServiceEarlyExit$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTINFRA_EARLY_EXIT_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("got the child test passing, want it failing; output:\n%s", out)
	}
	if !strings.Contains(string(out), "service exited with code 2 before it was ready") || strings.Contains(string(out), "got exit code") {
		t.Errorf("got output\n%s\nwant one failure naming exit code 2", out)
	}
	if !strings.Contains(string(out), "bad config") {
		t.Errorf("got output\n%s\nwant the service's log in it", out)
	}
}
