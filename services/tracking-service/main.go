// Command tracking-service answers where an order is: it keeps each
// order's latest state and status timeline in Redis, up to date from the
// order events on Kafka, and serves them over HTTP, including a live
// Server-Sent Events stream per order.
//
//	tracking-service    consume order events and serve the tracking API
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"golang.org/x/sync/errgroup"

	"github.com/order-tracking/platform/pkg/auth"
	"github.com/order-tracking/platform/pkg/config"
	"github.com/order-tracking/platform/pkg/guard"
	"github.com/order-tracking/platform/pkg/httpserver"
	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/pkg/logging"
	"github.com/order-tracking/platform/pkg/ratelimit"
	"github.com/order-tracking/platform/pkg/service"
	"github.com/order-tracking/platform/pkg/tracing"
	"github.com/order-tracking/platform/services/tracking-service/internal/api"
	"github.com/order-tracking/platform/services/tracking-service/internal/hub"
	"github.com/order-tracking/platform/services/tracking-service/internal/orders"
	"github.com/order-tracking/platform/services/tracking-service/internal/projector"
	"github.com/order-tracking/platform/services/tracking-service/internal/redis"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

// name is the service's name: in its logs and traces, and the default of
// the names it gives itself elsewhere (consumer group, client ids).
const name = "tracking-service"

// Config is tracking-service's whole configuration, read from the
// environment.
type Config struct {
	// TTL is how long an order is kept after its last change. An order
	// asked for after that is read again from orders-service.
	TTL time.Duration `env:"TRACKING_TTL"`
	// OrdersServiceURL is where orders Redis has forgotten are read again.
	OrdersServiceURL string `env:"ORDERS_SERVICE_URL"`
	// OrdersServiceTimeout bounds each read from orders-service: a client
	// waits for it, and a quick 503 beats a hanging request.
	OrdersServiceTimeout time.Duration `env:"ORDERS_SERVICE_TIMEOUT"`
	// SSEHeartbeat is the interval of the comment lines that keep idle
	// event streams open through proxies.
	SSEHeartbeat time.Duration `env:"SSE_HEARTBEAT_INTERVAL"`
	// SSEMaxStreams caps the event streams open on the instance, and
	// SSEMaxStreamsPerClient those of one client; 0 is no cap.
	SSEMaxStreams          int `env:"SSE_MAX_STREAMS"`
	SSEMaxStreamsPerClient int `env:"SSE_MAX_STREAMS_PER_CLIENT"`

	Log       logging.Config
	HTTP      httpserver.Config
	Redis     redis.Config
	Kafka     kafka.ConsumerConfig
	Auth      auth.Config
	RateLimit ratelimit.Config
	// Client is the service's own identity, with which it reads orders
	// from orders-service when auth is on.
	Client auth.ClientConfig
}

// SetDefaults gives a new Config this service's defaults, its port and
// consumer group among them; config.Load calls it on the zero Config, after
// the parts' own.
func (c *Config) SetDefaults() {
	c.TTL = 24 * time.Hour
	c.OrdersServiceURL = "http://127.0.0.1:8081"
	c.OrdersServiceTimeout = 2 * time.Second
	c.SSEHeartbeat = api.DefaultHeartbeat
	c.SSEMaxStreams = 1000
	c.SSEMaxStreamsPerClient = 10
	c.HTTP.Port = 8082
	c.Kafka.GroupID = name
	c.Redis.ClientName = name
}

// Validate reports every setting that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.TTL < time.Second {
		errs = append(errs, fmt.Errorf("TRACKING_TTL must be at least 1s, got %s", c.TTL))
	}
	if _, err := orders.NewClient(c.OrdersServiceURL, c.OrdersServiceTimeout, nil); err != nil {
		errs = append(errs, fmt.Errorf("ORDERS_SERVICE_URL: %w", err))
	}
	if c.OrdersServiceTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ORDERS_SERVICE_TIMEOUT must be positive, got %s", c.OrdersServiceTimeout))
	}
	if c.SSEHeartbeat <= 0 {
		errs = append(errs, fmt.Errorf("SSE_HEARTBEAT_INTERVAL must be positive, got %s", c.SSEHeartbeat))
	}
	if c.SSEMaxStreams < 0 || c.SSEMaxStreamsPerClient < 0 {
		errs = append(errs, fmt.Errorf("SSE_MAX_STREAMS and SSE_MAX_STREAMS_PER_CLIENT must not be negative, got %d and %d", c.SSEMaxStreams, c.SSEMaxStreamsPerClient))
	}
	errs = append(errs, config.ValidateEach(c.Log, c.HTTP, c.Redis, c.Kafka, c.Auth, c.RateLimit), c.Client.ValidateFor(c.Auth))
	return errors.Join(errs...)
}

// spec is tracking-service as pkg/service runs it: from main with the process's
// signals, arguments and stderr, from the tests in-process.
var spec = service.Spec[Config]{
	Name:     name,
	Log:      func(c Config) logging.Config { return c.Log },
	Serve:    serve,
	Commands: map[string]service.Func[Config]{"rebuild": rebuild},
}

// rebuild restores the read model from orders-service, without Kafka:
// `tracking-service rebuild`, after Redis lost its data.
func rebuild(ctx context.Context, cfg Config, logger *slog.Logger) error {
	redis.LogTo(logger)
	client, err := newRedisClient(cfg.Redis)
	if err != nil {
		return err
	}
	defer client.Close()
	source, err := newSource(cfg)
	if err != nil {
		return err
	}
	store := redis.NewStore(client, redis.StoreOptions{KeyPrefix: cfg.Redis.KeyPrefix, TTL: cfg.TTL, Logger: logger})
	return rebuildSince(ctx, tracking.NewService(store, source), cfg.TTL, logger)
}

// rebuildSince restores every order changed within ttl: the ones the read
// model would still hold.
func rebuildSince(ctx context.Context, svc *tracking.Service, ttl time.Duration, logger *slog.Logger) error {
	since := time.Now().Add(-ttl)
	start := time.Now()
	n, err := svc.Rebuild(ctx, since)
	if err != nil {
		return fmt.Errorf("cannot rebuild tracking (%d orders restored): %w", n, err)
	}
	logger.Info("tracking rebuilt from orders-service", "orders", n, "since", since.UTC().Format(time.RFC3339), "took", time.Since(start))
	return nil
}

// newSource is the client of orders-service, with the service's own
// identity when auth is on.
func newSource(cfg Config) (*orders.Client, error) {
	return orders.NewClient(cfg.OrdersServiceURL, cfg.OrdersServiceTimeout,
		cfg.Client.Transport(cfg.Auth, nil, http.DefaultTransport, auth.ScopeRead))
}

func main() { service.Main(spec) }

// newRedisClient returns a client for cfg's server; its commands are spans
// only inside a trace (a request, a message): the consumer's gate,
// readiness probes and the pub/sub watch would otherwise make a root trace
// per PING. Arguments hold order data, so the statement is left out. Only
// when spans are recorded at all (see tracing.Enabled).
func newRedisClient(cfg redis.Config) (*goredis.Client, error) {
	client := redis.NewClient(cfg)
	if tracing.Enabled() {
		if err := redisotel.InstrumentTracing(client,
			redisotel.WithTracerProvider(tracing.ChildSpansOnly(otel.GetTracerProvider())),
			redisotel.WithDBStatement(false)); err != nil {
			client.Close()
			return nil, fmt.Errorf("cannot trace redis: %w", err)
		}
	}
	return client, nil
}

func serve(ctx context.Context, cfg Config, logger *slog.Logger) error {
	redis.LogTo(logger)
	// Two clients, so two connection pools: the events' writes get one of
	// their own, and readers (GET /track, streams starting, read-through
	// fills) cannot starve them. Under an overload of readers the shared
	// pool's queue held the consumer's every write for seconds, and every
	// change reached tracking that late.
	readers, err := newRedisClient(cfg.Redis)
	if err != nil {
		return err
	}
	defer readers.Close()
	writers, err := newRedisClient(cfg.Redis)
	if err != nil {
		return err
	}
	defer writers.Close()
	opts := redis.StoreOptions{KeyPrefix: cfg.Redis.KeyPrefix, TTL: cfg.TTL, Logger: logger}
	store, eventStore := redis.NewStore(readers, opts), redis.NewStore(writers, opts)
	// With auth on, reads from orders-service carry the service's own
	// client-credentials token, which may read any order.
	source, err := newSource(cfg)
	if err != nil {
		return err
	}
	svc := tracking.NewService(store, source)

	reg := httpserver.NewRegistry()
	changes, err := hub.New(hub.Options{Registerer: reg})
	if err != nil {
		return err
	}
	srv, err := httpserver.New(cfg.HTTP, logger, reg)
	if err != nil {
		return err
	}
	srv.AddReadinessCheck("redis", store.Ping)
	if !cfg.Auth.Enabled() {
		logger.Warn(auth.OffWarning)
	}
	api.Register(srv.Router(), logger, svc, changes, api.Options{
		Heartbeat: cfg.SSEHeartbeat,
		Guards: guard.Guards{
			Auth:    auth.NewAuthenticator(cfg.Auth, logger, auth.VerifierOptions{}),
			Limiter: ratelimit.New(cfg.RateLimit, ratelimit.Options{}),
		},
		MaxStreams: cfg.SSEMaxStreams, MaxStreamsPerClient: cfg.SSEMaxStreamsPerClient,
	})

	// The events never fill from orders-service: they are the source.
	proj, err := projector.New(tracking.NewService(eventStore, source), reg)
	if err != nil {
		return err
	}
	// The gate pauses consumption while Redis is down, instead of spending
	// each event's retry budget and dead-lettering events that are fine.
	// Events already fetched are applied in one pipeline.
	consumer, err := kafka.NewConsumer(cfg.Kafka, proj.Handle, logger,
		kafka.ConsumerOptions{Gate: eventStore.CheckWrite, Batch: proj.HandleBatch, Registerer: reg})
	if err != nil {
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	// A Redis that holds no order at all lost its data (or this is a first
	// start): the read model is restored from orders-service in the
	// background, beside the events, rather than order by order as clients
	// ask. A failure is logged, not fatal: reads still fill what they miss.
	if empty, err := eventStore.Empty(ctx); err == nil && empty {
		g.Go(func() error {
			if err := rebuildSince(gctx, tracking.NewService(eventStore, source), cfg.TTL, logger); err != nil && gctx.Err() == nil {
				logger.Warn("cannot rebuild tracking at start", "error", err)
			}
			return nil
		})
	}
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return consumer.Run(gctx) })
	// Every (re)subscription resets the hub: changes published while the
	// subscription was down are lost, so streams restart from the current
	// state.
	g.Go(func() error { return store.Watch(gctx, changes.Publish, changes.Reset) })
	// Open streams end when the service stops, or the HTTP server's drain
	// would wait for them until its shutdown timeout.
	g.Go(func() error {
		<-gctx.Done()
		changes.Close()
		return nil
	})
	return g.Wait()
}
