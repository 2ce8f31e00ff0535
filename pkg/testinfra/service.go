package testinfra

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// serviceTimeout bounds both the wait for a started service to be ready
// and the wait for a cancelled one to exit.
const serviceTimeout = 30 * time.Second

// RunFunc is a service's in-process entry point.
type RunFunc func(ctx context.Context, args []string, stderr io.Writer) int

// FreePort returns a loopback TCP port free at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// LogWriter returns an io.Writer that sends each write to t.Log (trailing
// newline trimmed), so a service's log lines show up with the test's
// output on failure. t.Log panics once the test has ended: whoever writes
// must be stopped by then, as StartService's cleanup ensures.
func LogWriter(t testing.TB) io.Writer { return logWriter{t} }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// StartService sets HTTP_PORT to a free port (plus env, via t.Setenv),
// runs run in a goroutine owned by the test, waits up to 30s for /readyz
// to answer 200 (failing early with the exit code if run returns first),
// and on cleanup cancels it and fails the test unless it exits 0 within
// 30s. logs may be nil (then LogWriter(t)). It returns the base URL
// http://127.0.0.1:PORT.
//
// HTTP_PORT is set after env, so the returned URL is always the one the
// service listens on. AUTH_MODE is off unless env sets it: the services
// refuse to start without an issuer otherwise, and tests about access
// start them with one (see pkg/auth/authtest).
func StartService(t *testing.T, run RunFunc, env map[string]string, logs io.Writer) string {
	t.Helper()
	t.Setenv("AUTH_MODE", "off")
	for k, v := range env {
		t.Setenv(k, v)
	}
	port := FreePort(t)
	t.Setenv("HTTP_PORT", strconv.Itoa(port))
	if logs == nil {
		logs = LogWriter(t)
	}

	// Not t.Context(): it is cancelled before cleanups run, and the
	// cleanup below is what stops the service and checks how it stopped.
	ctx, cancel := context.WithCancel(context.Background())
	var code int // written by the goroutine before it closes exited
	exited := make(chan struct{})
	reported := false // an early exit was already reported by the wait
	go func() {
		defer close(exited)
		code = run(ctx, nil, logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
			if code != 0 && !reported {
				t.Errorf("got exit code %d, want 0", code)
			}
		case <-time.After(serviceTimeout):
			t.Errorf("service did not stop within %s of cancellation", serviceTimeout)
		}
	})

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: 2 * time.Second}
	Eventually(t, serviceTimeout, func() (bool, string) {
		t.Helper()
		select {
		case <-exited:
			reported = true
			t.Fatalf("service exited with code %d before it was ready", code)
		default:
		}
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, "readyz answered " + resp.Status
	})
	return base
}
