// Package projector applies the order events read from Kafka to the
// tracking view, and measures what it did.
package projector

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

// applyTimeout bounds storing one event, retries of the Redis client
// included; the consumer retries the event after it.
const applyTimeout = 10 * time.Second

// Projector is the consumer's handler: it decodes each record and applies
// the event it holds.
type Projector struct {
	svc       *tracking.Service
	applied   *prometheus.CounterVec
	freshness prometheus.Histogram
	now       func() time.Time
}

// New returns a projector applying events through svc. reg receives its
// metrics; nil means none. It fails only when reg refuses them, e.g.
// because another projector registered them there before.
func New(svc *tracking.Service, reg prometheus.Registerer) (*Projector, error) {
	p := &Projector{
		svc: svc,
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracking_events_applied_total",
			Help: "Order events processed, by result: applied (the state changed), stale (not newer than the stored state: a duplicate, replay or late event).",
		}, []string{"result"}),
		freshness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tracking_event_freshness_seconds",
			Help:    "Time from an order change (the event's occurredAt) to its state being applied here.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		now: time.Now,
	}
	// Both series start at zero, so increase() and rate() see their first event.
	p.applied.WithLabelValues("applied")
	p.applied.WithLabelValues("stale")
	if reg != nil {
		for _, c := range []prometheus.Collector{p.applied, p.freshness} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("cannot register projector metrics: %w", err)
			}
		}
	}
	return p, nil
}

// Handle implements kafka.Handler. A record that does not decode, or whose
// type is unknown, is a permanent error: the consumer dead-letters it, where
// an operator sees it, instead of it vanishing. A failure to store is
// returned as is, transient, so the consumer retries the record.
func (p *Projector) Handle(ctx context.Context, m kafka.Message) error {
	e, err := kafka.DecodeEvent(m)
	if err != nil {
		return err
	}
	// The consumer does not cancel ctx on shutdown, so that the message in
	// hand is finished; this bounds how long finishing may take.
	ctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	return p.Apply(ctx, e)
}

// HandleBatch implements kafka.BatchHandler: the records are decoded, and
// the events up to the first that does not decode are applied in one
// round trip to Redis. That round trip runs under the first record's
// context, so its span joins the first record's trace. Errors are those
// Handle would return for the record that failed.
func (p *Projector) HandleBatch(ctxs []context.Context, ms []kafka.Message) (int, error) {
	es, decodeErr := kafka.DecodeEvents(ms)
	if len(es) > 0 {
		ctx, cancel := context.WithTimeout(ctxs[0], applyTimeout)
		defer cancel()
		applied, err := p.svc.ApplyAll(ctx, es)
		for i, a := range applied {
			p.count(es[i], a)
		}
		if err != nil {
			e := es[len(applied)]
			return len(applied), applyError(e, err)
		}
	}
	return len(es), decodeErr
}

// Apply applies one decoded event.
func (p *Projector) Apply(ctx context.Context, e events.Event) error {
	applied, err := p.svc.Apply(ctx, e)
	if err != nil {
		return applyError(e, err)
	}
	p.count(e, applied)
	return nil
}

// count measures one event handled: applied, or stale.
func (p *Projector) count(e events.Event, applied bool) {
	if !applied {
		p.applied.WithLabelValues("stale").Inc()
		return
	}
	p.applied.WithLabelValues("applied").Inc()
	p.freshness.Observe(p.now().Sub(e.OccurredAt).Seconds())
}

func applyError(e events.Event, err error) error {
	return fmt.Errorf("cannot apply event %s (order %d version %d): %w", e.ID, e.OrderID, e.Version, err)
}
