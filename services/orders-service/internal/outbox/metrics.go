package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/order-tracking/platform/pkg/kafka"
)

// backlogQueryTimeout bounds the backlog query of one scrape, far below
// Prometheus's default 10s scrape timeout: a slow database must cost the
// scrape these two metrics, not the whole scrape.
const backlogQueryTimeout = 2 * time.Second

// Querier runs one query returning one row; *pgxpool.Pool is one.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// backlogQuery reads the backlog in constant time, whatever its size: both
// ends of the primary key's index and the first row's created_at. A
// count(*) would scan the table, and time out exactly when the backlog is
// large. The size is therefore the span of ids waiting, an upper bound of
// the rows: ids that rolled-back transactions took, or rows published out
// of id order, count while rows on both sides of them wait. The oldest row
// is the first by id (ids are taken in commit order for one order, and
// within milliseconds of commit for all), so its age is the backlog's.
const backlogQuery = `SELECT coalesce(max(id) - min(id) + 1, 0),
	coalesce(extract(epoch FROM now() - (SELECT created_at FROM outbox ORDER BY id LIMIT 1)), 0)::float8
	FROM outbox`

// BacklogCollector reports the outbox's size and the age of its oldest row,
// read from the table at scrape time.
//
// It queries rather than exporting a gauge the relay sets, because only the
// replica holding the relay lock runs a relay: a relay-set gauge would be
// missing on the others and frozen at its last value exactly when the relay
// is stuck or gone, which is what the backlog alerts are for. Read from the
// table, every replica reports the same truth (aggregate with max, not sum),
// and the age is computed by PostgreSQL from its own clock, the one that
// wrote created_at.
type BacklogCollector struct {
	db     Querier
	logger *slog.Logger
	size   *prometheus.Desc
	age    *prometheus.Desc
}

var _ prometheus.Collector = (*BacklogCollector)(nil)

// NewBacklogCollector returns a collector querying db. Register it on the
// service's registry.
func NewBacklogCollector(db Querier, logger *slog.Logger) *BacklogCollector {
	return &BacklogCollector{
		db:     db,
		logger: logger,
		size: prometheus.NewDesc("outbox_backlog_messages",
			"Outbox rows not yet acknowledged by Kafka (the span of their ids, an upper bound), read at scrape time (the same in every replica).", nil, nil),
		age: prometheus.NewDesc("outbox_oldest_message_age_seconds",
			"Age of the oldest outbox row not yet acknowledged by Kafka, 0 when the outbox is empty, read at scrape time.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *BacklogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.size
	ch <- c.age
}

// Collect implements prometheus.Collector. When the query fails it reports
// neither metric (and logs why) instead of an error: an error would make the
// registry fail the whole scrape, hiding every other metric of the service
// just when the database is in trouble. The gap itself is visible.
func (c *BacklogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), backlogQueryTimeout)
	defer cancel()
	var size int64
	var age float64
	err := c.db.QueryRow(ctx, backlogQuery).Scan(&size, &age)
	if err != nil {
		c.logger.Warn("cannot read outbox backlog for metrics", "error", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(size))
	// Clamped: now() is this statement's start, and a clock step could put
	// it before a row's created_at.
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, max(age, 0))
}

// MeteredPublisher is a Publisher that measures the relay's publishing: one
// Publish call is one outbox batch.
type MeteredPublisher struct {
	pub       Publisher
	duration  prometheus.Histogram
	published prometheus.Counter
	failed    prometheus.Counter
}

var _ Publisher = (*MeteredPublisher)(nil)

// NewMeteredPublisher wraps pub and registers its metrics on reg. Giving it
// to NewRelay keeps the relay's code free of metrics.
func NewMeteredPublisher(pub Publisher, reg prometheus.Registerer) (*MeteredPublisher, error) {
	p := &MeteredPublisher{
		pub: pub,
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "outbox_publish_duration_seconds",
			Help: "Time the relay waited for Kafka to acknowledge or refuse one outbox batch.",
			// From a quick local acknowledgement to the producer's delivery
			// timeout (30s by default).
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_published_messages_total",
			Help: "Outbox messages Kafka acknowledged.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_publish_errors_total",
			Help: "Outbox messages Kafka did not acknowledge; the relay publishes them again.",
		}),
	}
	for _, c := range []prometheus.Collector{p.duration, p.published, p.failed} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cannot register outbox metrics: %w", err)
		}
	}
	return p, nil
}

// Send implements Publisher. A batch's duration runs from its Send to the
// broker's last answer.
func (p *MeteredPublisher) Send(ctx context.Context, msgs []kafka.Message) func() []error {
	start := time.Now()
	wait := p.pub.Send(ctx, msgs)
	return func() []error {
		errs := wait()
		// A batch cut short by shutdown is neither slow nor failed: counting
		// it would raise the error alerts on every rollout.
		stopped := ctx.Err() != nil
		if !stopped {
			p.duration.Observe(time.Since(start).Seconds())
		}
		for _, err := range errs {
			switch {
			case err == nil:
				p.published.Inc()
			case !stopped:
				p.failed.Inc()
			}
		}
		return errs
	}
}
