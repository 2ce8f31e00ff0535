// Package service is the shared body of every service's main: read and
// validate the configuration, build the logger, dispatch a subcommand or
// serve, and turn the outcome into an exit code. Run never touches signals,
// so tests run whole services in-process by cancelling a context; Main,
// which only a main function calls, adds them.
package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/order-tracking/platform/pkg/config"
	"github.com/order-tracking/platform/pkg/logging"
	"github.com/order-tracking/platform/pkg/tracing"
)

// Exit codes: 2 for a usage or configuration error a person must fix, 1 for
// a failure while running.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// traceFlushTimeout bounds the flush of buffered spans at exit, so that an
// unreachable collector cannot hold up a stopping pod.
const traceFlushTimeout = 5 * time.Second

// Func is the work of a service or one of its commands.
type Func[T any] func(ctx context.Context, cfg T, logger *slog.Logger) error

// Spec describes one service to Run.
type Spec[T any] struct {
	// Name labels every log line and error message, and is the traces'
	// service.name.
	Name string
	// Log picks the logging settings out of the configuration.
	Log func(cfg T) logging.Config
	// Serve runs the service until ctx ends; it returns nil on a clean stop.
	Serve Func[T]
	// Commands are one-shot subcommands by name, such as "migrate".
	Commands map[string]Func[T]
}

// Main runs spec as the process: with its arguments and stderr, until
// SIGINT or SIGTERM starts a graceful stop, then exits with Run's code. A
// service's main is this one call.
func Main[T any](spec Spec[T]) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stderr, spec)
	stop()
	os.Exit(code)
}

// Run loads T from the environment and runs spec with args, writing logs to
// stderr; it returns the process's exit code. Tracing is set up from the
// OTEL_* environment variables (see tracing.Setup) around the work, and
// spans still buffered are flushed once it returns.
func Run[T any](ctx context.Context, args []string, stderr io.Writer, spec Spec[T]) int {
	cfg, err := config.Load[T]()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", spec.Name, err)
		return ExitUsage
	}
	logger := logging.New(spec.Log(cfg), stderr).With("service", spec.Name)
	// Code without a logger of its own (OpenTelemetry's error handler, the
	// Redis client's) logs through the default one: give it the service's.
	slog.SetDefault(logger)

	work, what := spec.Serve, "serve"
	if len(args) > 0 {
		cmd, ok := spec.Commands[args[0]]
		if !ok || len(args) > 1 {
			fmt.Fprintf(stderr, "%s: unknown command %q (commands: %s)\n", spec.Name, strings.Join(args, " "), commandList(spec.Commands))
			return ExitUsage
		}
		work, what = cmd, args[0]
	}
	shutdown, err := tracing.Setup(ctx, spec.Name, version(stamp))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", spec.Name, err)
		return ExitUsage
	}
	defer func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), traceFlushTimeout)
		defer cancel()
		if err := shutdown(fctx); err != nil {
			logger.Warn("cannot flush traces", "error", err)
		}
	}()
	if err := work(ctx, cfg, logger); err != nil {
		logger.Error(spec.Name+" "+what+" failed", "error", err)
		return ExitFailed
	}
	if what != "serve" {
		logger.Info(spec.Name + " " + what + " done")
	}
	return ExitOK
}

// stamp is the build's version, the traces' service.version. hack/build.sh
// (and so the images) sets it with
// -ldflags "-X github.com/order-tracking/platform/pkg/service.stamp=...";
// a plain go build leaves it empty.
var stamp string

// version is v, or else the main module's version as Go recorded it, or
// "dev" for a build from a work tree.
func version(v string) string {
	if v != "" {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func commandList[T any](cmds map[string]Func[T]) string {
	if len(cmds) == 0 {
		return "none"
	}
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
