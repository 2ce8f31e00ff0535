// Command orders-service is the write side of the platform: the orders REST
// API over PostgreSQL, and the outbox relay that publishes every change to
// Kafka.
//
//	orders-service           serve the API and relay the outbox
//	orders-service migrate   bring the database schema up to date and exit
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/order-tracking/platform/pkg/auth"
	"github.com/order-tracking/platform/pkg/config"
	"github.com/order-tracking/platform/pkg/guard"
	"github.com/order-tracking/platform/pkg/httpserver"
	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/pkg/logging"
	pg "github.com/order-tracking/platform/pkg/postgres"
	"github.com/order-tracking/platform/pkg/ratelimit"
	"github.com/order-tracking/platform/pkg/service"
	"github.com/order-tracking/platform/services/orders-service/internal/api"
	"github.com/order-tracking/platform/services/orders-service/internal/metrics"
	"github.com/order-tracking/platform/services/orders-service/internal/orders"
	"github.com/order-tracking/platform/services/orders-service/internal/outbox"
	"github.com/order-tracking/platform/services/orders-service/internal/postgres"
)

// name is the service's name: in its logs and traces, and the default of
// the names it gives itself elsewhere (consumer group, client ids).
const name = "orders-service"

// Config is orders-service's whole configuration, read from the environment.
type Config struct {
	// TopicPartitions is used when the service creates the events topic.
	TopicPartitions int `env:"KAFKA_TOPIC_PARTITIONS"`
	// CreateTopic makes the service create the events topic at start when it
	// is missing (off where a Strimzi KafkaTopic owns it).
	CreateTopic bool `env:"KAFKA_CREATE_TOPIC"`
	// IdempotencyKeyTTL is how long an Idempotency-Key is remembered.
	IdempotencyKeyTTL time.Duration `env:"IDEMPOTENCY_KEY_TTL"`

	Auth      auth.Config
	RateLimit ratelimit.Config

	Postgres pg.Config
	Log      logging.Config
	HTTP     httpserver.Config
	Kafka    kafka.ProducerConfig
	Outbox   outbox.Config
}

// SetDefaults gives a new Config this service's defaults, its port among
// them; config.Load calls it on the zero Config, after the parts' own.
func (c *Config) SetDefaults() {
	c.TopicPartitions = 6
	c.CreateTopic = true
	c.IdempotencyKeyTTL = postgres.DefaultKeyTTL
	c.HTTP.Port = 8081
}

// Validate reports every setting that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.TopicPartitions < 1 {
		errs = append(errs, errors.New("KAFKA_TOPIC_PARTITIONS must be at least 1"))
	}
	if c.IdempotencyKeyTTL < time.Minute {
		errs = append(errs, fmt.Errorf("IDEMPOTENCY_KEY_TTL must be at least 1m, got %s", c.IdempotencyKeyTTL))
	}
	errs = append(errs, config.ValidateEach(c.Postgres, c.Log, c.HTTP, c.Kafka, c.Outbox, c.Auth, c.RateLimit))
	return errors.Join(errs...)
}

// spec is orders-service as pkg/service runs it: from main with the process's
// signals, arguments and stderr, from the tests in-process.
var spec = service.Spec[Config]{
	Name:     name,
	Log:      func(c Config) logging.Config { return c.Log },
	Serve:    serve,
	Commands: map[string]service.Func[Config]{"migrate": migrate},
}

func main() { service.Main(spec) }

// keySweepInterval is how often expired idempotency keys are deleted.
const keySweepInterval = 10 * time.Minute

func serve(ctx context.Context, cfg Config, logger *slog.Logger) error {
	pool, err := pg.Connect(ctx, cfg.Postgres, postgres.Migrate)
	if err != nil {
		return err
	}
	defer pool.Close()

	cfg.Kafka.ClientID = name
	producer, err := kafka.NewProducer(cfg.Kafka, logger)
	if err != nil {
		return err
	}
	defer producer.Close(10 * time.Second)
	if cfg.CreateTopic {
		// Not fatal: with the broker down, orders are still accepted and the
		// relay publishes once it is back (auto-creation or a later start
		// creates the topic).
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := producer.EnsureTopic(tctx, cfg.Outbox.Topic, cfg.TopicPartitions); err != nil {
			logger.Warn("cannot ensure events topic", "topic", cfg.Outbox.Topic, "error", err)
		}
		cancel()
	}

	reg := httpserver.NewRegistry()
	orderMetrics, err := metrics.NewOrders(reg)
	if err != nil {
		return err
	}
	if err := reg.Register(outbox.NewBacklogCollector(pool, logger)); err != nil {
		return fmt.Errorf("cannot register outbox backlog metrics: %w", err)
	}
	publisher, err := outbox.NewMeteredPublisher(producer, reg)
	if err != nil {
		return err
	}
	srv, err := httpserver.New(cfg.HTTP, logger, reg)
	if err != nil {
		return err
	}
	srv.AddReadinessCheck("postgres", pool.Ping)
	// A producer that failed for good relays nothing: the replica says so
	// on /readyz rather than look healthy.
	srv.AddReadinessCheck("kafka-producer", producer.Healthy)
	// The store and the relay of this process share a Wakeup: while this
	// relay is the active one, writes wake it without a NOTIFY each.
	wakeup := outbox.NewWakeup()
	store := postgres.NewOrderStore(pool, postgres.StoreOptions{Wakeup: wakeup, KeyTTL: cfg.IdempotencyKeyTTL})
	if !cfg.Auth.Enabled() {
		logger.Warn(auth.OffWarning)
	}
	api.Register(srv.Router(), logger, orders.NewService(store, orderMetrics), guard.Guards{
		Auth:    auth.NewAuthenticator(cfg.Auth, logger, auth.VerifierOptions{}),
		Limiter: ratelimit.New(cfg.RateLimit, ratelimit.Options{}),
	})

	relay, err := outbox.NewRelay(cfg.Outbox, pool, publisher, logger, wakeup)
	if err != nil {
		return err
	}

	// The relay stops with the HTTP server: no new changes are accepted, and
	// what was committed stays in the outbox for the next start.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return relay.Run(gctx) })
	g.Go(func() error { return store.SweepKeysEvery(gctx, keySweepInterval, logger) })
	return g.Wait()
}

// migrate brings the database schema up to date: `orders-service migrate`.
func migrate(ctx context.Context, cfg Config, _ *slog.Logger) error {
	return postgres.Migrate(ctx, cfg.Postgres.ConnString())
}
