// Command startup measures how soon a service is ready: it starts the
// command given, asks its readiness URL every millisecond, and reports the
// time from the start to the first 200. Then it stops the service (SIGTERM,
// SIGKILL after -stop-timeout).
//
//	startup -name orders-service -url http://127.0.0.1:18081/readyz -log orders.log -- env HTTP_PORT=18081 ... bin/orders-service
//
// Run it on a database the service has already migrated, as a restart in a
// cluster finds it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/order-tracking/platform/hack/loadtest/internal/results"
)

func main() { os.Exit(run()) }

func run() int {
	name := flag.String("name", "", "the service's name, for the record")
	url := flag.String("url", "", "its readiness URL")
	logFile := flag.String("log", "", "file for its output (default: discarded)")
	timeout := flag.Duration("timeout", 30*time.Second, "give up if it is not ready after this long")
	stopTimeout := flag.Duration("stop-timeout", 15*time.Second, "time it gets to stop after SIGTERM")
	flag.Parse()
	if *name == "" || *url == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "startup: -name, -url and a command are required")
		return 2
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "startup:", err)
			return 1
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	exited := make(chan error, 1)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "startup:", err)
		return 1
	}
	go func() { exited <- cmd.Wait() }()
	ready, err := waitReady(*url, *timeout, exited)
	elapsed := time.Since(start)
	if stopErr := stop(cmd, exited, *stopTimeout); stopErr != nil {
		fmt.Fprintf(os.Stderr, "startup: %s: %v\n", *name, stopErr)
	}
	if !ready {
		fmt.Fprintf(os.Stderr, "startup: %s not ready: %v\n", *name, err)
		return 1
	}
	fmt.Println(results.Format("startup", "service", *name,
		"ready_ms", strconv.FormatFloat(float64(elapsed)/float64(time.Millisecond), 'f', 1, 64)))
	return 0
}

// waitReady asks url every millisecond until it answers 200, the process
// exits or timeout passes.
func waitReady(url string, timeout time.Duration, exited <-chan error) (bool, error) {
	client := &http.Client{Timeout: 100 * time.Millisecond}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-exited:
			return false, fmt.Errorf("exited before it was ready: %v", err)
		default:
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			cancel()
			return false, err
		}
		resp, err := client.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true, nil
			}
		}
		if time.Now().After(deadline) {
			return false, errors.New("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

func stop(cmd *exec.Cmd, exited <-chan error, timeout time.Duration) error {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return nil // already gone
	}
	select {
	case <-exited:
		return nil
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("did not stop within %s of SIGTERM; killed", timeout)
	}
}
