// Command notification-service tells customers about their orders: it
// consumes the order events and sends an email when an order is placed and
// an SMS when its status changes, each exactly once per event as far as the
// delivery log can tell (see internal/notify), and lists what was sent.
//
//	notification-service           consume events and serve the API
//	notification-service migrate   bring the database schema up to date and exit
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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
	"github.com/order-tracking/platform/services/notification-service/internal/api"
	"github.com/order-tracking/platform/services/notification-service/internal/dispatcher"
	"github.com/order-tracking/platform/services/notification-service/internal/notify"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres"
	"github.com/order-tracking/platform/services/notification-service/internal/webhook"
)

// The values of NOTIFY_SENDER.
const (
	senderLog     = "log"
	senderWebhook = "webhook"
)

// name is the service's name: in its logs and traces, and the default of
// the names it gives itself elsewhere (consumer group, client ids).
const name = "notification-service"

// Config is notification-service's whole configuration, read from the
// environment.
type Config struct {
	// Sender selects how notifications leave: "log" writes each one to the
	// log (the original system's mock), "webhook" POSTs it to
	// NOTIFY_WEBHOOK_URL.
	Sender string `env:"NOTIFY_SENDER"`

	Postgres  pg.Config
	Log       logging.Config
	HTTP      httpserver.Config
	Kafka     kafka.ConsumerConfig
	Notify    notify.Config
	Webhook   webhook.Config
	Auth      auth.Config
	RateLimit ratelimit.Config
}

// SetDefaults gives a new Config this service's defaults, its port and
// consumer group among them; config.Load calls it on the zero Config, after
// the parts' own.
func (c *Config) SetDefaults() {
	c.Sender = senderLog
	c.HTTP.Port = 8083
	c.Kafka.GroupID = name
}

// Validate reports every setting that cannot work.
func (c *Config) Validate() error {
	var errs []error
	checks := []config.Validator{c.Postgres, c.Log, c.HTTP, c.Kafka, c.Notify, c.Auth, c.RateLimit}
	switch c.Sender {
	case senderLog:
	case senderWebhook:
		checks = append(checks, c.Webhook)
	default:
		errs = append(errs, fmt.Errorf("NOTIFY_SENDER must be %s or %s, got %q", senderLog, senderWebhook, c.Sender))
	}
	errs = append(errs, config.ValidateEach(checks...))
	return errors.Join(errs...)
}

// spec is notification-service as pkg/service runs it: from main with the process's
// signals, arguments and stderr, from the tests in-process.
var spec = service.Spec[Config]{
	Name:     name,
	Log:      func(c Config) logging.Config { return c.Log },
	Serve:    serve,
	Commands: map[string]service.Func[Config]{"migrate": migrate},
}

func main() { service.Main(spec) }

func serve(ctx context.Context, cfg Config, logger *slog.Logger) error {
	pool, err := pg.Connect(ctx, cfg.Postgres, postgres.Migrate)
	if err != nil {
		return err
	}
	defer pool.Close()
	deliveries := postgres.NewDeliveryLog(pool)

	var sender notify.Sender = notify.NewLogSender(logger)
	if cfg.Sender == senderWebhook {
		if sender, err = webhook.NewSender(cfg.Webhook, logger); err != nil {
			return err
		}
	}

	reg := httpserver.NewRegistry()
	notifier, err := notify.NewNotifier(cfg.Notify, deliveries, sender, logger, reg)
	if err != nil {
		return err
	}
	d := dispatcher.New(notifier)
	consumer, err := kafka.NewConsumer(cfg.Kafka, d.Handle, logger, kafka.ConsumerOptions{
		// Without the delivery log nothing can be sent safely: consumption
		// pauses while PostgreSQL is down or refuses writes.
		Gate: deliveries.CheckWrite,
		// Events already fetched share one delivery-log transaction.
		Batch:      d.HandleBatch,
		Registerer: reg,
	})
	if err != nil {
		return err
	}

	srv, err := httpserver.New(cfg.HTTP, logger, reg)
	if err != nil {
		return err
	}
	// Kafka is deliberately not a readiness check: the API reads only
	// PostgreSQL and keeps answering while the broker is away, and the
	// consumer catches up by itself once it is back.
	srv.AddReadinessCheck("postgres", pool.Ping)
	if !cfg.Auth.Enabled() {
		logger.Warn(auth.OffWarning)
	}
	api.Register(srv.Router(), logger, deliveries, guard.Guards{
		Auth:    auth.NewAuthenticator(cfg.Auth, logger, auth.VerifierOptions{}),
		Limiter: ratelimit.New(cfg.RateLimit, ratelimit.Options{}),
	})

	// Either one failing stops the other; both stop when ctx ends. The pool
	// closes after both returned.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return consumer.Run(gctx) })
	return g.Wait()
}

// migrate brings the database schema up to date: `notification-service migrate`.
func migrate(ctx context.Context, cfg Config, _ *slog.Logger) error {
	return postgres.Migrate(ctx, cfg.Postgres.ConnString())
}
