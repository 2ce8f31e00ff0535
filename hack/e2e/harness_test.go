package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/testinfra"
)

// repoRoot finds the repository by walking up to go.work.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find go.work above the test's directory")
		}
		dir = parent
	}
}

// buildServices builds each service's binary from the repository, as a user
// would run it, into a temporary directory.
func buildServices(t *testing.T, names ...string) map[string]string {
	t.Helper()
	root, out := repoRoot(t), t.TempDir()
	bins := map[string]string{}
	for _, n := range names {
		bin := filepath.Join(out, n)
		cmd := exec.Command("go", "build", "-o", bin, "./services/"+n)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cannot build %s: %v\n%s", n, err, b)
		}
		bins[n] = bin
	}
	return bins
}

// service is one running service process.
type service struct {
	name string
	bin  string
	env  []string
	port int
	logs *lockedBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// newService prepares a service; env comes on top of the test process's.
func newService(t *testing.T, name, bin string, env map[string]string) *service {
	t.Helper()
	s := &service{name: name, bin: bin, port: testinfra.FreePort(t), logs: &lockedBuffer{}}
	s.env = append(os.Environ(), "HTTP_PORT="+strconv.Itoa(s.port), "LOG_FORMAT=text")
	for k, v := range env {
		s.env = append(s.env, k+"="+v)
	}
	t.Cleanup(func() {
		s.stop(t, syscall.SIGTERM)
		if t.Failed() {
			t.Logf("--- %s log (last 8 KiB) ---\n%s", name, s.logs.tail(8<<10))
		}
	})
	return s
}

func (s *service) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", s.port, path) }

// start runs the process and waits until its /readyz answers 200.
func (s *service) start(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	cmd := exec.Command(s.bin)
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		t.Fatalf("cannot start %s: %v", s.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }() // owned: stop waits on done
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
		select {
		case <-done:
			t.Fatalf("%s exited during start:\n%s", s.name, s.logs.tail(4<<10))
		default:
		}
		resp, err := http.Get(s.url("/readyz"))
		if err != nil {
			return false, s.name + ": " + err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, s.name + " /readyz: " + resp.Status
	})
}

// stop sends sig (SIGKILL for a crash) and waits for the process to end.
func (s *service) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("%s did not stop within 40s of %v", s.name, sig)
	}
}

// lockedBuffer collects a process's output; the process writes from its
// own goroutines while the test reads.
type lockedBuffer struct{ testinfra.Buffer }

// tail returns the last n bytes written.
func (b *lockedBuffer) tail(n int) string {
	s := b.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// client calls the services' HTTP APIs.
type client struct{ http *http.Client }

func newClient() *client { return &client{http: &http.Client{Timeout: 10 * time.Second}} }

// do sends a request and decodes a JSON answer into out (when not nil).
func (c *client) do(ctx context.Context, method, url, body string, header map[string]string, out any) (int, http.Header, error) {
	code, h, data, err := c.raw(ctx, method, url, body, header)
	if err != nil {
		return 0, nil, err
	}
	if out != nil && len(data) > 0 && code < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return code, h, fmt.Errorf("%s %s: body %q: %w", method, url, data, err)
		}
	}
	return code, h, nil
}

// raw sends a request and returns the answer's status, headers and body.
// A body is sent as JSON unless header names another Content-Type.
func (c *client) raw(ctx context.Context, method, url, body string, header map[string]string) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, data, nil
}
