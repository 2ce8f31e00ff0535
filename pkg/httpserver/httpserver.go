// Package httpserver is the HTTP bootstrap every service uses: a gin router
// with trace spans, request IDs, panic recovery, Prometheus metrics and
// access logs already wired, the /healthz, /readyz and /metrics endpoints,
// and a Run that drains in-flight requests on shutdown.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/pkg/logging"
)

// Config configures the HTTP server. Port has no default here because each
// service listens on its own; the service's setDefaults fills it in.
type Config struct {
	// Port is the TCP port Run listens on, on all interfaces.
	Port int `env:"HTTP_PORT"`
	// ShutdownTimeout bounds how long Run waits for in-flight requests
	// after its context is cancelled. Keep it below the pod's
	// terminationGracePeriodSeconds (30s by default), or the kubelet kills
	// the process mid-drain.
	ShutdownTimeout time.Duration `env:"HTTP_SHUTDOWN_TIMEOUT"`
	// ReadHeaderTimeout bounds reading request headers, so a client that
	// opens connections and trickles bytes (Slowloris) cannot hold them.
	ReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT"`
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration `env:"HTTP_READ_TIMEOUT"`
	// WriteTimeout bounds handling a request and writing its response.
	WriteTimeout time.Duration `env:"HTTP_WRITE_TIMEOUT"`
	// IdleTimeout is how long a keep-alive connection may wait for its next
	// request.
	IdleTimeout time.Duration `env:"HTTP_IDLE_TIMEOUT"`
	// RequestTimeout is the deadline of each request's context, which
	// every database and Redis call made for it inherits: a dependency
	// that is frozen or slow turns into a 503 within it, not a request
	// that hangs. Streams lift it (see Unbounded). 0 is no deadline.
	RequestTimeout time.Duration `env:"HTTP_REQUEST_TIMEOUT"`
	// PprofAddr, when set, serves net/http/pprof on this loopback
	// host:port (e.g. 127.0.0.1:6060), beside the API, with the mutex and
	// block profiles switched on; reach it with kubectl port-forward. Empty
	// (the default) serves nothing and profiles nothing.
	PprofAddr string `env:"PPROF_ADDR"`
	// TrustedProxies are the addresses (IPs or CIDRs) of the proxies in
	// front of the service whose X-Forwarded-For names the client. Empty
	// (the default) trusts none: the client is the connection's peer, so
	// that nobody can pick the address rate limits and logs charge to.
	TrustedProxies []string `env:"HTTP_TRUSTED_PROXIES" envSeparator:","`
	// CORSAllowedOrigins are the origins (scheme://host[:port]) whose web
	// pages may call the API from a browser. Empty (the default) answers no
	// cross-origin request.
	CORSAllowedOrigins []string `env:"CORS_ALLOWED_ORIGINS" envSeparator:","`
}

// SetDefaults fills the fields left at zero: 20s to drain, 5s for headers,
// 30s to read a request and to answer it, 120s idle, and 2.5s for a
// request's work, so that an answer, a 503 at worst, comes within 3s. config.Load calls it
// before reading the environment, so a variable set to 0 still means "no
// timeout" (see Validate).
func (c *Config) SetDefaults() {
	setZero(&c.ShutdownTimeout, 20*time.Second)
	setZero(&c.ReadHeaderTimeout, 5*time.Second)
	setZero(&c.ReadTimeout, 30*time.Second)
	setZero(&c.WriteTimeout, 30*time.Second)
	setZero(&c.IdleTimeout, 120*time.Second)
	setZero(&c.RequestTimeout, 2500*time.Millisecond)
}

func setZero(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("HTTP_PORT must be between 1 and 65535, got %d", c.Port))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("HTTP_SHUTDOWN_TIMEOUT must be positive, got %s", c.ShutdownTimeout))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"HTTP_READ_HEADER_TIMEOUT", c.ReadHeaderTimeout},
		{"HTTP_READ_TIMEOUT", c.ReadTimeout},
		{"HTTP_WRITE_TIMEOUT", c.WriteTimeout},
		{"HTTP_IDLE_TIMEOUT", c.IdleTimeout},
		{"HTTP_REQUEST_TIMEOUT", c.RequestTimeout},
	} {
		// Zero is allowed: net/http reads it as "no timeout".
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %s", d.name, d.v))
		}
	}
	if c.PprofAddr != "" {
		if err := validPprofAddr(c.PprofAddr); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range c.TrustedProxies {
		if !validProxy(p) {
			errs = append(errs, fmt.Errorf("HTTP_TRUSTED_PROXIES: %q is not an IP address or CIDR", p))
		}
	}
	for _, o := range c.CORSAllowedOrigins {
		if !validOrigin(o) {
			errs = append(errs, fmt.Errorf("CORS_ALLOWED_ORIGINS: %q is not an origin such as https://shop.example.com", o))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid http server config: %w", err)
	}
	return nil
}

// The original system's operational endpoints (Spring Boot Actuator).
const (
	ActuatorHealthPath     = "/actuator/health"
	ActuatorPrometheusPath = "/actuator/prometheus"
)

// readinessTimeout bounds each readiness check. It stays below the
// kubelet's default probe timeout so that /readyz answers 503 naming the
// slow dependency instead of the probe timing out without a reason.
const readinessTimeout = 2 * time.Second

// Server is a gin router with the project's middleware and built-in
// endpoints. Build it with New, register routes on Router, then Run it.
type Server struct {
	cfg    Config
	logger *slog.Logger
	engine *gin.Engine

	// mu guards checks: services may add checks while /readyz is served.
	mu     sync.Mutex
	checks []readinessCheck
}

type readinessCheck struct {
	name  string
	check func(context.Context) error
}

// New builds a Server. reg receives the request metrics and is served on
// /metrics; pass NewRegistry() (nil means a fresh one). A nil logger means
// slog.Default(). Log lines written while serving a request carry its
// request_id. It fails only when reg already holds a different metric of
// the request histogram's name.
func New(cfg Config, logger *slog.Logger, reg *prometheus.Registry) (*Server, error) {
	if reg == nil {
		reg = NewRegistry()
	}
	if logger == nil {
		logger = slog.Default()
	}
	requests, err := newRequestMetrics(reg)
	if err != nil {
		return nil, err
	}
	// Request IDs in the access and panic logs come from the context, so
	// make sure the handler reads them there whatever logger we were given.
	logger = slog.New(logging.NewContextHandler(logger.Handler()))

	// Release mode stops gin printing every route and a debug warning to
	// stdout at startup; it is process-wide, and every service wants it.
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	// nil trusts no proxy; gin's default trusts every one, which would let
	// any client choose its own address by sending X-Forwarded-For.
	if err := engine.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("invalid trusted proxies: %w", err)
	}
	engine.HandleMethodNotAllowed = true
	// Lets handlers pass *gin.Context as a context.Context and still see
	// the request's cancellation and request ID.
	engine.ContextWithFallback = true

	s := &Server{cfg: cfg, logger: logger, engine: engine}

	// Order matters. The span comes first, so that it covers the whole
	// request and every later log line carries its trace_id. The request ID
	// comes next so every later step can log it. Metrics and the access log
	// wrap recovery, not the other way round, so that a panic is counted
	// and logged as the 500 the client got: outside recovery they would see
	// the panic unwind past them.
	engine.Use(
		traceRequests(),
		requestID(),
		observe(requests, logger),
		recovery(logger),
		cors(cfg.CORSAllowedOrigins),
		deadline(cfg.RequestTimeout),
	)
	engine.NoRoute(func(c *gin.Context) {
		httpapi.Encode(c, http.StatusNotFound, gin.H{"error": "not found", "path": c.Request.URL.Path})
	})
	engine.NoMethod(func(c *gin.Context) {
		httpapi.Encode(c, http.StatusMethodNotAllowed, gin.H{"error": "method not allowed", "method": c.Request.Method, "path": c.Request.URL.Path})
	})

	engine.GET("/healthz", func(c *gin.Context) {
		httpapi.Encode(c, http.StatusOK, gin.H{"status": "ok"})
	})
	engine.GET("/readyz", s.readyz)
	metrics := gin.WrapH(metricsHandler(reg))
	engine.GET("/metrics", metrics)
	// The original Spring Boot system's paths for the same two answers, so
	// that its prometheus.yml and health checks work unchanged.
	engine.GET(ActuatorHealthPath, s.actuatorHealth)
	engine.GET(ActuatorPrometheusPath, metrics)
	return s, nil
}

// Router returns the gin engine for the service to register its routes on.
func (s *Server) Router() *gin.Engine { return s.engine }

// Handler returns the server's http.Handler, for httptest.
func (s *Server) Handler() http.Handler { return s.engine }

// AddReadinessCheck registers a check that /readyz runs on every probe,
// e.g. a database ping. check gets a context with a 2s deadline and must
// return when it expires; a non-nil error makes /readyz answer 503 with the
// error text under name.
func (s *Server) AddReadinessCheck(name string, check func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, readinessCheck{name: name, check: check})
}

// Run listens on the configured port and serves until ctx is cancelled,
// then shuts down gracefully (see Serve). With PprofAddr set it serves the
// profiling endpoints there too, for as long; either failing stops both.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", ":"+strconv.Itoa(s.cfg.Port))
	if err != nil {
		return fmt.Errorf("cannot listen on port %d: %w", s.cfg.Port, err)
	}
	if s.cfg.PprofAddr == "" {
		return s.Serve(ctx, ln)
	}
	pln, err := lc.Listen(ctx, "tcp", s.cfg.PprofAddr)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("cannot listen for pprof on %s: %w", s.cfg.PprofAddr, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return servePprof(gctx, pln, s.logger) })
	g.Go(func() error { return s.Serve(gctx, ln) })
	return g.Wait()
}

// Serve serves on ln until ctx is cancelled, then stops accepting
// connections and waits up to ShutdownTimeout for in-flight requests to
// finish. It returns nil after a clean shutdown, and an error if serving
// failed or requests were still running at the deadline (those are cut
// off). Serve closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		// Request contexts deliberately do not derive from ctx: cancelling
		// ctx starts the drain, and in-flight requests must be allowed to
		// finish rather than be cancelled with it.
	}

	s.logger.Info("http server listening", "addr", ln.Addr().String())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("cannot serve http: %w", err)
	case <-ctx.Done():
	}

	s.logger.Info("http server shutting down", "timeout", s.cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(shutdownCtx)
	if shutdownErr != nil {
		// Cut off what did not finish, so the serving goroutine ends too.
		_ = srv.Close()
	}
	// Serve returns ErrServerClosed as soon as Shutdown starts; waiting for
	// it here means no goroutine of ours outlives this call.
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("cannot serve http: %w", err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("cannot drain in-flight requests within %s: %w", s.cfg.ShutdownTimeout, shutdownErr)
	}
	s.logger.Info("http server stopped")
	return nil
}
