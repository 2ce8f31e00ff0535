package kafka

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// lagInterval is how often the lag gauges are refreshed.
const lagInterval = 5 * time.Second

// consumerMetrics are the consumer's Prometheus metrics. Labels are the
// topic, a fixed reason and partition numbers only, so the series count is
// bounded by the topics' partition counts, whatever the records contain.
type consumerMetrics struct {
	consumed     *prometheus.CounterVec   // topic
	handled      *prometheus.CounterVec   // topic
	failed       *prometheus.CounterVec   // topic, reason (permanent|transient)
	retried      *prometheus.CounterVec   // topic
	deadLettered *prometheus.CounterVec   // topic, reason (permanent|panicked)
	duration     *prometheus.HistogramVec // topic
	lag          *prometheus.GaugeVec     // topic, partition
}

// newConsumerMetrics builds the metrics of a consumer of topic and
// registers them on reg, if any. A second consumer on the same registry (two
// consumers in one service) shares the first one's collectors instead of
// failing.
func newConsumerMetrics(reg prometheus.Registerer, topic string) (*consumerMetrics, error) {
	m := &consumerMetrics{
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			// The Spring Kafka name, so the old dashboards keep working.
			Name: "kafka_consumer_records_consumed_total",
			Help: "Records taken from the topic for handling (a redelivered record counts again).",
		}, []string{"topic"}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kafka_consumer_messages_handled_total",
			Help: "Messages whose handler succeeded.",
		}, []string{"topic"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kafka_consumer_messages_failed_total",
			Help: "Handler calls that returned an error, by kind (permanent or transient).",
		}, []string{"topic", "reason"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kafka_consumer_messages_retried_total",
			Help: "Handler calls that retried a message after a transient error.",
		}, []string{"topic"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kafka_consumer_messages_dead_lettered_total",
			Help: "Messages sent to the dead-letter topic, by reason (a permanent error, or the handler panicking on it repeatedly).",
		}, []string{"topic", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kafka_consumer_handle_duration_seconds",
			Help:    "Duration of handler calls, failed ones included.",
			Buckets: prometheus.DefBuckets,
		}, []string{"topic"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kafka_consumer_lag",
			Help: "Records between this consumer's position and the partition's high watermark, per assigned partition.",
		}, []string{"topic", "partition"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.consumed, err = register(reg, m.consumed); err != nil {
		return nil, err
	}
	if m.handled, err = register(reg, m.handled); err != nil {
		return nil, err
	}
	if m.failed, err = register(reg, m.failed); err != nil {
		return nil, err
	}
	if m.retried, err = register(reg, m.retried); err != nil {
		return nil, err
	}
	if m.deadLettered, err = register(reg, m.deadLettered); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.lag, err = register(reg, m.lag); err != nil {
		return nil, err
	}
	m.initialize(topic)
	return m, nil
}

// initialize creates the topic's counter series at zero. A series that
// first appears at 1 hides that increment from increase() and rate(), so an
// alert on the first dead-lettered message would never fire; and a
// dashboard lists the series before anything happened.
func (m *consumerMetrics) initialize(topic string) {
	m.consumed.WithLabelValues(topic)
	m.handled.WithLabelValues(topic)
	m.retried.WithLabelValues(topic)
	m.failed.WithLabelValues(topic, "permanent")
	m.failed.WithLabelValues(topic, "transient")
	m.deadLettered.WithLabelValues(topic, reasonPermanent)
	m.deadLettered.WithLabelValues(topic, reasonPanicked)
}

// register registers c on reg, or returns the identical collector already
// registered there.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("cannot register kafka consumer metrics: %w", err)
	}
	return c, nil
}

func partitionLabel(p int32) string { return strconv.FormatInt(int64(p), 10) }

// refreshLag sets the lag gauges of the assigned partitions, at most every
// lagInterval. It uses the high watermarks that fetch responses bring, so
// it costs no broker round trip.
func (c *Consumer) refreshLag() {
	if time.Now().Before(c.lagDue) {
		return
	}
	c.lagDue = time.Now().Add(lagInterval)
	parts, err := c.kc.Assignment()
	if err != nil || len(parts) == 0 {
		return
	}
	pos, err := c.kc.Position(parts)
	if err != nil {
		return
	}
	for _, tp := range pos {
		if tp.Offset < 0 || tp.Topic == nil {
			continue // nothing consumed yet: no position to measure from
		}
		_, high, err := c.kc.GetWatermarkOffsets(*tp.Topic, tp.Partition)
		if err != nil || high < 0 {
			continue
		}
		c.metrics.lag.WithLabelValues(c.cfg.Topic, partitionLabel(tp.Partition)).Set(float64(max(high-int64(tp.Offset), 0)))
	}
}
