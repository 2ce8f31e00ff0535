package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

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
