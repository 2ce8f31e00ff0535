package notify

import (
	"context"
	"errors"
	"time"

	"github.com/order-tracking/platform/pkg/kafka"
)

// handleTimeout bounds the handling of one message. The consumer does not
// cancel a handler's context, even on shutdown, so the bound must come from
// here: it covers a wait for another consumer's row lock and the webhook
// sender's attempts and backoff (3 x 5s by default), and stays far below
// the consumer's max.poll.interval.ms.
const handleTimeout = 30 * time.Second

// HandleMessage is the kafka.Handler of the order-events consumer: it
// decodes the record and handles the event, marking as kafka.Permanent
// what retrying cannot fix so the consumer dead-letters it at once.
func (n *Notifier) HandleMessage(ctx context.Context, m kafka.Message) error {
	// An undecodable event or one of unknown type comes back Permanent and
	// is dead-lettered, where an operator sees it, rather than skipped.
	e, err := kafka.DecodeEvent(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, handleTimeout)
	defer cancel()
	if err := n.Handle(ctx, e); err != nil {
		if errors.Is(err, ErrPermanent) {
			return kafka.Permanent(err)
		}
		return err
	}
	return nil
}
