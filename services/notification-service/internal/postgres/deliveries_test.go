package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/order-tracking/platform/pkg/testinfra"

	"github.com/order-tracking/platform/services/notification-service/internal/notify"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres/postgrestest"
)

func newNotification() notify.Notification {
	return notify.Notification{EventID: uuid.NewString(), OrderID: 7, Channel: notify.ChannelSMS, Recipient: "Ada", Text: "Order 7 status changed to SHIPPED"}
}

// TestIntegrationDeliverRecordsASendAtTheDeadline: a provider that accepts
// the notification just as the handler's deadline passes must still see
// it recorded as sent, or the redelivered event would send it again.
func TestIntegrationDeliverRecordsASendAtTheDeadline(t *testing.T) {
	log := postgres.NewDeliveryLog(postgrestest.NewPool(t))
	n := newNotification()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	outcome, err := log.Deliver(ctx, n, func(ctx context.Context, _ notify.Notification) error {
		<-ctx.Done()
		return nil // accepted all the same
	})
	if err != nil || outcome != notify.Sent {
		t.Fatalf("got outcome %v, error %v, want Sent", outcome, err)
	}
	list, err := log.List(t.Context(), n.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Status != notify.StatusSent || list[0].SentAt == nil {
		t.Fatalf("got log %+v, want one sent row", list)
	}
}

// TestIntegrationDeliverCrashAfterSendSendsOnceMore pins the documented
// window: a handler that dies after the provider accepted the notification
// and before the commit (a panic here) leaves nothing in the log, and the
// redelivered event sends it once more, then never again.
func TestIntegrationDeliverCrashAfterSendSendsOnceMore(t *testing.T) {
	log := postgres.NewDeliveryLog(postgrestest.NewPool(t))
	n := newNotification()
	sends := 0
	crash := errors.New("process died")
	func() {
		defer func() {
			if r := recover(); r != crash {
				t.Fatalf("got panic %v, want %v", r, crash)
			}
		}()
		_, _ = log.Deliver(t.Context(), n, func(context.Context, notify.Notification) error {
			sends++
			panic(crash)
		})
	}()
	list, err := log.List(t.Context(), n.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("after the crash: got log %+v, want nothing (rolled back)", list)
	}

	send := func(context.Context, notify.Notification) error { sends++; return nil }
	want := []notify.Outcome{notify.Sent, notify.AlreadySent}
	for i, w := range want {
		if got, err := log.Deliver(t.Context(), n, send); err != nil || got != w {
			t.Fatalf("redelivery %d: got outcome %v, error %v, want %v", i+1, got, err, w)
		}
	}
	if sends != 2 {
		t.Errorf("got %d sends, want 2 (one duplicate for the crash)", sends)
	}
}

// TestIntegrationDeliverNothingOutOfDate: a notification of an order's
// version older than the newest sent on its channel is not sent (a replayed
// dead letter, say), is recorded as superseded, and stays so on
// redelivery; another channel is counted apart.
func TestIntegrationDeliverNothingOutOfDate(t *testing.T) {
	log := postgres.NewDeliveryLog(postgrestest.NewPool(t))
	at := func(v int64, ch notify.Channel) notify.Notification {
		n := newNotification()
		n.Version, n.Channel = v, ch
		return n
	}
	v2, v3, v4, email1 := at(2, notify.ChannelSMS), at(3, notify.ChannelSMS), at(4, notify.ChannelSMS), at(1, notify.ChannelEmail)
	var sent []int64
	deliver := func(ns ...notify.Notification) []notify.Outcome {
		t.Helper()
		outcomes, err := log.DeliverAll(t.Context(), ns, func(i int) error {
			sent = append(sent, ns[i].Version)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return outcomes
	}
	steps := []struct {
		name     string
		batch    []notify.Notification
		want     []notify.Outcome
		wantSent []int64
	}{
		{"the newest first", []notify.Notification{v3}, []notify.Outcome{notify.Sent}, []int64{3}},
		{"an older one later", []notify.Notification{v2}, []notify.Outcome{notify.Superseded}, nil},
		{"the older one again", []notify.Notification{v2}, []notify.Outcome{notify.AlreadySent}, nil},
		{"another channel, older version", []notify.Notification{email1}, []notify.Outcome{notify.Sent}, []int64{1}},
		{"out of order within a batch", []notify.Notification{at(6, notify.ChannelSMS), at(5, notify.ChannelSMS)},
			[]notify.Outcome{notify.Sent, notify.Superseded}, []int64{6}},
		{"older than the batch's newest", []notify.Notification{v4}, []notify.Outcome{notify.Superseded}, nil},
	}
	for _, s := range steps {
		sent = nil
		got := deliver(s.batch...)
		if !slices.Equal(got, s.want) || !slices.Equal(sent, s.wantSent) {
			t.Errorf("%s: got outcomes %v sending %v, want %v sending %v", s.name, got, sent, s.want, s.wantSent)
		}
	}
	list, err := log.List(t.Context(), 7)
	if err != nil {
		t.Fatal(err)
	}
	superseded := 0
	for _, d := range list {
		if d.Status == notify.StatusSuperseded {
			superseded++
			if d.SentAt != nil {
				t.Errorf("superseded %+v has a send time", d)
			}
		}
	}
	if superseded != 3 {
		t.Errorf("got %d superseded rows in %+v, want 3", superseded, list)
	}
}

// TestIntegrationCheckWrite: the consumer's gate passes while the log
// accepts writes, and fails on a database that answers but is read-only,
// which a ping passes.
func TestIntegrationCheckWrite(t *testing.T) {
	url := testinfra.NewDatabase(t)
	if err := postgres.Migrate(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	open := func(url string) *pgxpool.Pool {
		pool, err := pgxpool.New(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool
	}
	if err := postgres.NewDeliveryLog(open(url)).CheckWrite(t.Context()); err != nil {
		t.Fatalf("writable: got %v, want nil", err)
	}
	// Every session read-only, as on a standby or after an operator's
	// ALTER SYSTEM SET default_transaction_read_only.
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	readOnly := open(url + sep + "default_transaction_read_only=on")
	if err := readOnly.Ping(t.Context()); err != nil {
		t.Fatalf("read-only: ping got %v, want it to pass (which is why the gate writes)", err)
	}
	if err := postgres.NewDeliveryLog(readOnly).CheckWrite(t.Context()); err == nil {
		t.Fatal("read-only: got nil, want the gate to fail")
	}
}
