package dispatcher_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/services/notification-service/internal/dispatcher"
	"github.com/order-tracking/platform/services/notification-service/internal/notify"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres/postgrestest"
)

var order = events.Order{
	ID: 4242, CustomerName: "Alice", Item: "Laptop", Quantity: 1, Status: "PENDING",
	CreatedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
}

func created() events.Event { return events.NewOrderCreated(order, 1, order.UpdatedAt) }

func shipped() events.Event {
	o := order
	o.Status = "SHIPPED"
	return events.NewOrderUpdated(o, "PENDING", 2, o.UpdatedAt.Add(time.Hour))
}

func message(t *testing.T, e events.Event) kafka.Message {
	t.Helper()
	m, err := kafka.EncodeEvent("order-events", e, "/orders-service")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// recorder is a sender that keeps what it sent, or refuses everything, or
// the notifications of one event.
type recorder struct {
	mu      sync.Mutex // guards sent
	refuse  bool
	refused string // an event id
	sent    int
}

func (r *recorder) Send(_ context.Context, n notify.Notification) error {
	if r.refuse || n.EventID == r.refused {
		return fmt.Errorf("422: %w", notify.ErrPermanent)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent++
	return nil
}

func TestIntegrationHandle(t *testing.T) {
	unknown := message(t, created())
	for i, h := range unknown.Headers {
		if h.Key == "ce_type" {
			unknown.Headers[i].Value = []byte("OrderArchivedEvent")
		}
	}
	tests := []struct {
		name          string
		msg           kafka.Message
		refuse        bool // the provider refuses every notification
		wantErr       bool
		wantPermanent bool
		wantSent      int
	}{
		{"created event", message(t, created()), false, false, false, 1},
		{"updated event", message(t, shipped()), false, false, false, 1},
		{"not json is dead-lettered", kafka.Message{Value: []byte("{not json")}, false, true, true, 0},
		{"unknown type is dead-lettered", unknown, false, true, true, 0},
		{"refused by the provider is dead-lettered", message(t, created()), true, true, true, 0},
	}
	// Each case runs through Handle and through HandleBatch with the
	// message alone, which must answer alike.
	for _, tt := range tests {
		for _, batched := range []bool{false, true} {
			name := tt.name + "/Handle"
			if batched {
				name = tt.name + "/HandleBatch"
			}
			t.Run(name, func(t *testing.T) {
				rec := &recorder{refuse: tt.refuse}
				d := newDispatcher(t, rec)
				var err error
				if batched {
					var done int
					done, err = d.HandleBatch([]context.Context{t.Context()}, []kafka.Message{tt.msg})
					if want := map[bool]int{false: 1, true: 0}[tt.wantErr]; done != want {
						t.Errorf("got %d done, want %d", done, want)
					}
				} else {
					err = d.Handle(t.Context(), tt.msg)
				}
				if (err != nil) != tt.wantErr || kafka.IsPermanent(err) != tt.wantPermanent {
					t.Fatalf("got error %v (permanent %v), want error %v permanent %v", err, kafka.IsPermanent(err), tt.wantErr, tt.wantPermanent)
				}
				if rec.sent != tt.wantSent {
					t.Errorf("got %d sent, want %d", rec.sent, tt.wantSent)
				}
			})
		}
	}
}

// TestIntegrationHandleBatch: a batch is handled up to the first record
// that fails, which is reported with its error; the notifications after
// it are left as if never claimed; and the consumer's next call with the
// rest, and a redelivery, send nothing twice.
func TestIntegrationHandleBatch(t *testing.T) {
	second := order
	second.ID = 4243
	refusedEvent := events.NewOrderCreated(second, 1, second.UpdatedAt)
	c, s := created(), shipped()
	tests := []struct {
		name     string
		msgs     []kafka.Message
		wantDone int
		wantErr  bool
		wantSent int // by the first call
		wantLog  []notify.Status
	}{
		{"all sent, a duplicate in the batch sent once", []kafka.Message{message(t, c), message(t, s), message(t, c)}, 3, false, 2,
			[]notify.Status{notify.StatusSent, notify.StatusSent}},
		{"stops at a record that does not decode", []kafka.Message{message(t, c), {Value: []byte("{")}, message(t, s)}, 1, true, 1,
			[]notify.Status{notify.StatusSent}},
		// The shipped notification, claimed and not attempted, leaves no row.
		{"stops at a refused notification", []kafka.Message{message(t, c), message(t, refusedEvent), message(t, s)}, 1, true, 1,
			[]notify.Status{notify.StatusSent, notify.StatusPending}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{refused: refusedEvent.ID}
			d, log := newDispatcherWithLog(t, rec)
			ctxs := make([]context.Context, len(tt.msgs))
			for i := range ctxs {
				ctxs[i] = t.Context()
			}
			done, err := d.HandleBatch(ctxs, tt.msgs)
			if done != tt.wantDone || (err != nil) != tt.wantErr || kafka.IsPermanent(err) != tt.wantErr {
				t.Fatalf("got %d done, error %v, want %d done, a permanent error: %v", done, err, tt.wantDone, tt.wantErr)
			}
			if rec.sent != tt.wantSent {
				t.Errorf("got %d sent, want %d", rec.sent, tt.wantSent)
			}
			var got []notify.Status
			for _, id := range []int64{order.ID, second.ID} {
				list, err := log.List(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				for _, dl := range list {
					got = append(got, dl.Status)
				}
			}
			if !slices.Equal(got, tt.wantLog) {
				t.Errorf("delivery log after the batch: got %v, want %v", got, tt.wantLog)
			}
			// The consumer dead-letters the failed record and hands over
			// the rest, each of which sends its notification; a redelivery
			// of the whole batch then sends nothing.
			wantSent := tt.wantSent
			if rest := tt.msgs[min(done+1, len(tt.msgs)):]; len(rest) > 0 {
				if n, err := d.HandleBatch(ctxs[:len(rest)], rest); err != nil || n != len(rest) {
					t.Fatalf("the rest: got %d done, %v, want %d, nil", n, err, len(rest))
				}
				wantSent += len(rest)
			}
			rec.refused = ""
			if _, err := d.HandleBatch(ctxs[:1], tt.msgs[:1]); err != nil {
				t.Fatal(err)
			}
			if rec.sent != wantSent {
				t.Errorf("after the rest and a redelivery of the first: got %d sent, want %d", rec.sent, wantSent)
			}
		})
	}
}

func newDispatcher(t *testing.T, rec *recorder) *dispatcher.Dispatcher {
	d, _ := newDispatcherWithLog(t, rec)
	return d
}

func newDispatcherWithLog(t *testing.T, rec *recorder) (*dispatcher.Dispatcher, *postgres.DeliveryLog) {
	t.Helper()
	cfg := notify.Config{}
	cfg.SetDefaults()
	log := postgres.NewDeliveryLog(postgrestest.NewPool(t))
	n, err := notify.NewNotifier(cfg, log, rec, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return dispatcher.New(n), log
}
