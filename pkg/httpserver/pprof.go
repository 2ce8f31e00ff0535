package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// Sampling rates of the mutex and block profiles while profiling is on:
// one contention event in mutexFraction, one blocking event per
// blockRateNanos of blocked time. Both cost little at these rates and
// nothing when profiling is off, where they stay at Go's default (off).
const (
	mutexFraction  = 5
	blockRateNanos = 10_000
)

// validPprofAddr accepts host:port on a loopback address: the profiles show
// the process's internals and the endpoints cost CPU, so they are never
// served where anything but the pod itself (kubectl port-forward) reaches.
func validPprofAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("PPROF_ADDR must be host:port on loopback, e.g. 127.0.0.1:6060, got %q", addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("PPROF_ADDR must be on a loopback address (127.0.0.1, ::1 or localhost), got %q", addr)
	}
	return nil
}

// pprofHandler serves net/http/pprof's endpoints under /debug/pprof/.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// servePprof serves the profiling endpoints on ln until ctx ends, with
// the mutex and block profiles switched on, and closes ln. It runs beside
// the API's server rather than on it so that the API port never exposes
// them.
func servePprof(ctx context.Context, ln net.Listener, logger *slog.Logger) error {
	runtime.SetMutexProfileFraction(mutexFraction)
	runtime.SetBlockProfileRate(blockRateNanos)
	srv := &http.Server{
		Handler:           pprofHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		// No WriteTimeout: a CPU profile or trace answers after the
		// seconds it was asked to record.
	}
	logger.Info("pprof listening", "addr", ln.Addr().String())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("cannot serve pprof: %w", err)
	case <-ctx.Done():
	}
	// A profile being recorded is cut off: profiling never delays a stop.
	_ = srv.Close()
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("cannot serve pprof: %w", err)
	}
	return nil
}
