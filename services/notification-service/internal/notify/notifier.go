package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/order-tracking/platform/pkg/events"
)

// instrumentationName is the tracer's scope: this package.
const instrumentationName = "github.com/order-tracking/platform/services/notification-service/internal/notify"

// Outcome labels of notifications_sent_total.
const (
	outcomeSent      = "sent"
	outcomeDuplicate = "duplicate"
	outcomeFailed    = "failed"
	outcomeRejected  = "rejected"
)

// Notifier sends the notification each order event calls for, once.
type Notifier struct {
	templates  *Templates
	deliveries DeliveryLog
	sender     Sender
	logger     *slog.Logger
	sent       *prometheus.CounterVec
}

// NewNotifier builds a Notifier. cfg's templates are checked as in
// Config.Validate. reg receives notifications_sent_total; nil means none.
func NewNotifier(cfg Config, deliveries DeliveryLog, sender Sender, logger *slog.Logger, reg prometheus.Registerer) (*Notifier, error) {
	t, err := NewTemplates(cfg)
	if err != nil {
		return nil, err
	}
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "notifications_sent_total",
		Help: "Notifications handled, by channel and outcome (sent, duplicate, failed, rejected).",
	}, []string{"channel", "outcome"})
	// Every series starts at zero, so increase() sees the first failure
	// (a series born at 1 hides it) and dashboards list them all.
	for _, ch := range []Channel{ChannelEmail, ChannelSMS} {
		for _, o := range []string{outcomeSent, outcomeDuplicate, outcomeFailed, outcomeRejected} {
			sent.WithLabelValues(string(ch), o)
		}
	}
	if reg != nil {
		if err := reg.Register(sent); err != nil {
			return nil, fmt.Errorf("cannot register notification metrics: %w", err)
		}
	}
	return &Notifier{templates: t, deliveries: deliveries, sender: sender, logger: logger, sent: sent}, nil
}

// Handle sends the notification for e unless it was sent before. A nil
// error means the event is done with (sent now, sent before, or calls for
// no notification). An error wrapping ErrPermanent means retrying cannot
// help; any other error leaves the event to be retried.
func (n *Notifier) Handle(ctx context.Context, e events.Event) error {
	note, ok, err := n.notification(e)
	if err != nil || !ok {
		return err
	}
	outcome, err := n.deliveries.Deliver(ctx, note, n.send)
	switch {
	case errors.Is(err, ErrPermanent):
		n.sent.WithLabelValues(string(note.Channel), outcomeRejected).Inc()
		return fmt.Errorf("notification for event %s refused: %w", e.ID, err)
	case err != nil:
		n.sent.WithLabelValues(string(note.Channel), outcomeFailed).Inc()
		return fmt.Errorf("cannot deliver notification for event %s: %w", e.ID, err)
	case outcome == AlreadySent:
		n.sent.WithLabelValues(string(note.Channel), outcomeDuplicate).Inc()
		n.logger.InfoContext(ctx, "notification already sent, skipping redelivered event",
			"event_id", e.ID, "order_id", e.OrderID, "channel", note.Channel)
	default:
		n.sent.WithLabelValues(string(note.Channel), outcomeSent).Inc()
	}
	return nil
}

// send sends note under a span of its own, "send notification", inside
// the trace of the event that called for it.
func (n *Notifier) send(ctx context.Context, note Notification) error {
	ctx, span := otel.Tracer(instrumentationName).Start(ctx, "send notification")
	defer span.End()
	span.SetAttributes(attribute.String("notification.channel", string(note.Channel)), attribute.String("notification.event_id", note.EventID))
	err := n.sender.Send(ctx, note)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// notification builds the notification e calls for; ok is false when it
// calls for none.
func (n *Notifier) notification(e events.Event) (note Notification, ok bool, err error) {
	note = Notification{
		EventID: e.ID,
		OrderID: e.OrderID,
		// See Notification.Recipient: the name is all the event says.
		Recipient: e.Order.CustomerName,
	}
	switch e.Type {
	case events.TypeOrderCreated:
		note.Channel = ChannelEmail
		note.Text, err = n.templates.Created(e)
	case events.TypeOrderUpdated:
		// An update that left the status alone (a future change of some
		// other field) would make "status changed to X" untrue.
		if e.PreviousStatus == e.Order.Status {
			return note, false, nil
		}
		note.Channel = ChannelSMS
		note.Text, err = n.templates.Updated(e)
	default:
		// Decoding refuses unknown types, so this is a type added to the
		// contract without a notification of its own yet.
		return note, false, nil
	}
	if err != nil {
		// The templates rendered a sample at start; failing now is about
		// this event's data, and will fail the same way every time.
		return note, false, fmt.Errorf("cannot render %s for event %s: %w: %w", note.Channel, e.ID, ErrPermanent, err)
	}
	return note, true, nil
}
