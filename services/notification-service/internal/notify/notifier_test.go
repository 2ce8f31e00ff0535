package notify_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/testinfra"
	"github.com/order-tracking/platform/services/notification-service/internal/notify"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres/postgrestest"
)

// recorder is the fake Sender: the provider is the system boundary, the
// delivery log behind the Notifier is the real one. fail, when set, decides
// each call's result; calls counts every call, sent only the successful
// ones.
type recorder struct {
	mu    sync.Mutex // guards every field
	fail  func(call int) error
	calls int
	sent  []notify.Notification
}

func (r *recorder) Send(_ context.Context, n notify.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail != nil {
		if err := r.fail(r.calls); err != nil {
			return err
		}
	}
	r.sent = append(r.sent, n)
	return nil
}

func (r *recorder) Sent() []notify.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sent)
}

type fixture struct {
	notifier *notify.Notifier
	log      *postgres.DeliveryLog
	pool     *pgxpool.Pool
	reg      *prometheus.Registry
}

func newFixture(t *testing.T, sender notify.Sender) fixture {
	t.Helper()
	pool := postgrestest.NewPool(t)
	log := postgres.NewDeliveryLog(pool)
	reg := prometheus.NewRegistry()
	cfg := notify.Config{CreatedTemplate: notify.DefaultCreatedTemplate, UpdatedTemplate: notify.DefaultUpdatedTemplate}
	n, err := notify.NewNotifier(cfg, log, sender, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{notifier: n, log: log, pool: pool, reg: reg}
}

// counter reads notifications_sent_total{channel, outcome}.
func (f fixture) counter(t *testing.T, channel notify.Channel, outcome string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "notifications_sent_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["channel"] == string(channel) && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

var order = events.Order{
	ID: 7, CustomerName: "Alice", Item: "Laptop", Quantity: 1, Status: "PENDING",
	CreatedAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
}

func created() events.Event { return events.NewOrderCreated(order, 1, order.UpdatedAt) }

func shipped() events.Event {
	o := order
	o.Status = "SHIPPED"
	return events.NewOrderUpdated(o, "PENDING", 2, o.UpdatedAt.Add(time.Hour))
}

func TestIntegrationNotifierSendsOnePerEvent(t *testing.T) {
	tests := []struct {
		name  string
		event events.Event
		want  []notify.Notification // EventID filled in from event
	}{
		{"created sends the original email", created(), []notify.Notification{
			{OrderID: 7, Channel: notify.ChannelEmail, Recipient: "Alice", Text: "Hi Alice, your order for Laptop has been received.", Version: 1},
		}},
		{"updated sends the original sms", shipped(), []notify.Notification{
			{OrderID: 7, Channel: notify.ChannelSMS, Recipient: "Alice", Text: "Order 7 status changed to SHIPPED", Version: 2},
		}},
		{"update without status change sends nothing", func() events.Event {
			e := shipped()
			e.PreviousStatus = e.Order.Status
			return e
		}(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			f := newFixture(t, rec)
			if err := f.notifier.Handle(t.Context(), tt.event); err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			for i := range tt.want {
				tt.want[i].EventID = tt.event.ID
			}
			if got := rec.Sent(); !slices.Equal(got, tt.want) {
				t.Fatalf("got sent %+v, want %+v", got, tt.want)
			}

			list, err := f.log.List(t.Context(), 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != len(tt.want) {
				t.Fatalf("got %d logged deliveries, want %d", len(list), len(tt.want))
			}
			for i, d := range list {
				if d.Notification != tt.want[i] || d.Status != notify.StatusSent || d.SentAt == nil {
					t.Errorf("got logged %+v, want %+v sent with a sentAt", d, tt.want[i])
				}
			}
			for _, n := range tt.want {
				if got := f.counter(t, n.Channel, "sent"); got != 1 {
					t.Errorf("got notifications_sent_total{channel=%s,outcome=sent} %v, want 1", n.Channel, got)
				}
			}
		})
	}
}

func TestIntegrationNotifierRedeliverySendsNothingNew(t *testing.T) {
	rec := &recorder{}
	f := newFixture(t, rec)
	e := created()
	for i := range 3 {
		if err := f.notifier.Handle(t.Context(), e); err != nil {
			t.Fatalf("delivery %d: got error %v, want none", i+1, err)
		}
	}
	if got := len(rec.Sent()); got != 1 {
		t.Fatalf("got %d sends, want 1", got)
	}
	if got := f.counter(t, notify.ChannelEmail, "duplicate"); got != 2 {
		t.Errorf("got %v duplicates counted, want 2", got)
	}

	// Another event of the same order is a new notification.
	if err := f.notifier.Handle(t.Context(), shipped()); err != nil {
		t.Fatal(err)
	}
	if got := len(rec.Sent()); got != 2 {
		t.Fatalf("got %d sends after the update, want 2", got)
	}
}

func TestIntegrationNotifierSendFailureStaysRetryable(t *testing.T) {
	errDown := errors.New("provider down")
	rec := &recorder{fail: func(call int) error {
		if call == 1 {
			return errDown
		}
		return nil
	}}
	f := newFixture(t, rec)
	e := created()

	err := f.notifier.Handle(t.Context(), e)
	if !errors.Is(err, errDown) || errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("first attempt: got error %v, want a transient error wrapping %v", err, errDown)
	}
	list, err := f.log.List(t.Context(), e.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Status != notify.StatusPending || list[0].SentAt != nil {
		t.Fatalf("after the failure: got log %+v, want one pending row without sentAt", list)
	}
	var attempts int
	var lastError string
	if err := f.pool.QueryRow(t.Context(), "SELECT attempts, last_error FROM notification_deliveries").Scan(&attempts, &lastError); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 || lastError != errDown.Error() {
		t.Errorf("got attempts %d last_error %q, want 1 and %q", attempts, lastError, errDown)
	}

	// The consumer retries the event.
	if err := f.notifier.Handle(t.Context(), e); err != nil {
		t.Fatalf("retry: got error %v, want none", err)
	}
	if err := f.notifier.Handle(t.Context(), e); err != nil {
		t.Fatalf("redelivery after success: got error %v, want none", err)
	}
	if got := len(rec.Sent()); got != 1 {
		t.Fatalf("got %d successful sends, want 1", got)
	}
	list, _ = f.log.List(t.Context(), e.OrderID)
	if len(list) != 1 || list[0].Status != notify.StatusSent {
		t.Fatalf("after the retry: got log %+v, want one sent row", list)
	}
	if got := f.counter(t, notify.ChannelEmail, "failed"); got != 1 {
		t.Errorf("got %v failures counted, want 1", got)
	}
}

func TestIntegrationNotifierPermanentFailure(t *testing.T) {
	rec := &recorder{fail: func(int) error { return fmt.Errorf("400 Bad Request: %w", notify.ErrPermanent) }}
	f := newFixture(t, rec)
	err := f.notifier.Handle(t.Context(), created())
	if !errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("got error %v, want one wrapping notify.ErrPermanent", err)
	}
	if got := f.counter(t, notify.ChannelEmail, "rejected"); got != 1 {
		t.Errorf("got %v rejections counted, want 1", got)
	}
}

// TestIntegrationNotifierConcurrentHandlersSendOnce makes the race of a
// rebalance happen for sure: the first handler is held inside the send
// until the second is seen waiting on the row lock in PostgreSQL.
func TestIntegrationNotifierConcurrentHandlersSendOnce(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	rec := &recorder{}
	sender := senderFunc(func(ctx context.Context, n notify.Notification) error {
		once.Do(func() {
			close(entered)
			<-release
		})
		return rec.Send(ctx, n)
	})
	f := newFixture(t, sender)
	e := created()

	errs := make(chan error, 2)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { errs <- f.notifier.Handle(t.Context(), e) })
	<-entered
	wg.Go(func() { errs <- f.notifier.Handle(t.Context(), e) })

	testinfra.Eventually(t, 10*time.Second, func() (bool, string) {
		var waiting int
		err := f.pool.QueryRow(t.Context(),
			"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&waiting)
		if err != nil {
			return false, err.Error()
		}
		return waiting == 1, fmt.Sprintf("%d sessions waiting on a lock, want 1", waiting)
	})
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("got error %v, want none", err)
		}
	}
	if got := len(rec.Sent()); got != 1 {
		t.Fatalf("got %d sends, want 1", got)
	}
	if got := f.counter(t, notify.ChannelEmail, "duplicate"); got != 1 {
		t.Errorf("got %v duplicates counted, want 1 (the waiting handler)", got)
	}
}

// TestIntegrationNotifierManyConcurrentHandlers races handlers without
// choreography, for interleavings the test above does not force.
func TestIntegrationNotifierManyConcurrentHandlers(t *testing.T) {
	rec := &recorder{}
	f := newFixture(t, rec)
	evs := []events.Event{created(), shipped()}
	const handlers = 8
	start := make(chan struct{})
	errs := make(chan error, handlers)
	var wg sync.WaitGroup
	for i := range handlers {
		wg.Go(func() {
			<-start
			e := evs[i%len(evs)]
			errs <- f.notifier.Handle(t.Context(), e)
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("got error %v, want none", err)
		}
	}
	if got := len(rec.Sent()); got != len(evs) {
		t.Fatalf("got %d sends, want %d (one per event)", got, len(evs))
	}
}

type senderFunc func(ctx context.Context, n notify.Notification) error

func (f senderFunc) Send(ctx context.Context, n notify.Notification) error { return f(ctx, n) }
