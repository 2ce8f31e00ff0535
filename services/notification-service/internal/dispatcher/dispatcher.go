// Package dispatcher is notification-service's Kafka adapter, as package
// projector is tracking-service's: it decodes each order event the
// consumer reads and hands it to the notifier, marking as kafka.Permanent
// what retrying cannot fix so that the consumer dead-letters it at once.
// The domain package notify knows nothing of Kafka.
package dispatcher

import (
	"context"
	"errors"
	"time"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/services/notification-service/internal/notify"
)

// handleTimeout bounds the handling of one message. The consumer does not
// cancel a handler's context, even on shutdown, so the bound must come from
// here: it covers a wait for another consumer's row lock and the webhook
// sender's attempts and backoff (3 x 5s by default), and stays far below
// the consumer's max.poll.interval.ms. Recording a send's result after it
// has its own bound (5s, in internal/postgres), so that a send that
// succeeds just before this deadline is still recorded.
const handleTimeout = 30 * time.Second

// Notifier handles decoded events: *notify.Notifier. Errors wrapping
// notify.ErrPermanent cannot succeed on a retry.
type Notifier interface {
	Handle(ctx context.Context, e events.Event) error
	// HandleAll handles es in order and says how many are done; see
	// notify.Notifier.HandleAll.
	HandleAll(ctxs []context.Context, es []events.Event) (done int, err error)
}

// Dispatcher is the consumer's handler of the order events.
type Dispatcher struct {
	notifier Notifier
}

// New returns a dispatcher handing events to n.
func New(n Notifier) *Dispatcher { return &Dispatcher{notifier: n} }

// Handle implements kafka.Handler. An undecodable event or one of unknown
// type comes back Permanent and is dead-lettered, where an operator sees
// it, rather than skipped.
func (d *Dispatcher) Handle(ctx context.Context, m kafka.Message) error {
	e, err := kafka.DecodeEvent(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, handleTimeout)
	defer cancel()
	return classify(d.notifier.Handle(ctx, e))
}

// HandleBatch implements kafka.BatchHandler: the records up to the first
// that does not decode are handed to the notifier at once, which delivers
// their notifications in one transaction. Each message's deadline is
// handleTimeout from now, so the whole batch is bounded by it too.
func (d *Dispatcher) HandleBatch(ctxs []context.Context, ms []kafka.Message) (int, error) {
	es, decodeErr := kafka.DecodeEvents(ms)
	if len(es) == 0 {
		return 0, decodeErr
	}
	bounded := make([]context.Context, len(es))
	for i := range es {
		var cancel context.CancelFunc
		bounded[i], cancel = context.WithTimeout(ctxs[i], handleTimeout)
		defer cancel()
	}
	done, err := d.notifier.HandleAll(bounded, es)
	if err != nil {
		return done, classify(err)
	}
	return len(es), decodeErr
}

// classify marks what retrying cannot fix as kafka.Permanent.
func classify(err error) error {
	if errors.Is(err, notify.ErrPermanent) {
		return kafka.Permanent(err)
	}
	return err
}
