package postgres_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/order-tracking/platform/services/notification-service/internal/notify"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres"
	"github.com/order-tracking/platform/services/notification-service/internal/postgres/postgrestest"
)

// BenchmarkIntegrationDeliver measures one delivery in the normal case: the
// first delivery of an event, whose send succeeds at once. What it costs
// is the delivery log's round trips and commits (make bench; needs the
// local PostgreSQL).
func BenchmarkIntegrationDeliver(b *testing.B) {
	log := postgres.NewDeliveryLog(postgrestest.NewPool(b))
	send := func(context.Context, notify.Notification) error { return nil }
	n := notify.Notification{OrderID: 7, Channel: notify.ChannelSMS, Recipient: "Ada", Text: "Order 7 status changed to SHIPPED"}
	b.ReportAllocs()
	for b.Loop() {
		n.EventID = uuid.NewString()
		if outcome, err := log.Deliver(b.Context(), n, send); err != nil || outcome != notify.Sent {
			b.Fatalf("got outcome %v, error %v, want Sent", outcome, err)
		}
	}
}
