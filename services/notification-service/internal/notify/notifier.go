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
	// outcomeSuperseded is a notification not sent because a newer one of
	// its order and channel was sent already.
	outcomeSuperseded = "superseded"
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
		Help: "Notifications handled, by channel and outcome (sent, duplicate, failed, rejected, superseded).",
	}, []string{"channel", "outcome"})
	// Every series starts at zero, so increase() sees the first failure
	// (a series born at 1 hides it) and dashboards list them all.
	for _, ch := range []Channel{ChannelEmail, ChannelSMS} {
		for _, o := range []string{outcomeSent, outcomeDuplicate, outcomeFailed, outcomeRejected, outcomeSuperseded} {
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
	_, err := n.HandleAll([]context.Context{ctx}, []events.Event{e})
	return err
}

// HandleAll handles es in order as Handle does each, delivering their
// notifications through one DeliverAll: one transaction for all. ctxs[i]
// is es[i]'s context, under which its notification is sent; the delivery
// log's statements run under the first one's. It returns how many events,
// from the first, are done with, and when that is fewer than len(es), the
// error Handle would return for the next one.
func (n *Notifier) HandleAll(ctxs []context.Context, es []events.Event) (done int, err error) {
	var (
		notes []Notification
		of    []int // of[j] is the index in es of notes[j]'s event
		stop  = len(es)
	)
	for i, e := range es {
		note, ok, rerr := n.notification(e)
		if rerr != nil {
			// Events before it are handled first; this one is the failure.
			stop, err = i, rerr
			break
		}
		if ok {
			notes = append(notes, note)
			of = append(of, i)
		}
	}
	if len(notes) == 0 {
		return stop, err
	}
	outcomes, derr := n.deliveries.DeliverAll(ctxs[of[0]], notes, func(j int) error { return n.send(ctxs[of[j]], notes[j]) })
	for j, outcome := range outcomes {
		note := notes[j]
		switch outcome {
		case AlreadySent:
			n.sent.WithLabelValues(string(note.Channel), outcomeDuplicate).Inc()
			n.logger.InfoContext(ctxs[of[j]], "notification already sent, skipping redelivered event",
				"event_id", note.EventID, "order_id", note.OrderID, "channel", note.Channel)
			continue
		case Superseded:
			n.sent.WithLabelValues(string(note.Channel), outcomeSuperseded).Inc()
			n.logger.InfoContext(ctxs[of[j]], "notification superseded by a newer one already sent, not sending it",
				"event_id", note.EventID, "order_id", note.OrderID, "channel", note.Channel, "version", note.Version)
			continue
		}
		n.sent.WithLabelValues(string(note.Channel), outcomeSent).Inc()
	}
	if len(outcomes) == len(notes) {
		return stop, err
	}
	note := notes[len(outcomes)]
	if errors.Is(derr, ErrPermanent) {
		n.sent.WithLabelValues(string(note.Channel), outcomeRejected).Inc()
		return of[len(outcomes)], fmt.Errorf("notification for event %s refused: %w", note.EventID, derr)
	}
	n.sent.WithLabelValues(string(note.Channel), outcomeFailed).Inc()
	return of[len(outcomes)], fmt.Errorf("cannot deliver notification for event %s: %w", note.EventID, derr)
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
		Version: e.Version,
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
