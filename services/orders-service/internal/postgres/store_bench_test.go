package postgres_test

import (
	"testing"

	"github.com/order-tracking/platform/services/orders-service/internal/orders"
	"github.com/order-tracking/platform/services/orders-service/internal/postgres"
	"github.com/order-tracking/platform/services/orders-service/internal/postgres/postgrestest"
)

// BenchmarkIntegrationCreate measures one accepted order end to end in the
// database: the order row, its outbox row and the notification, in one
// transaction (make bench; needs the local PostgreSQL).
func BenchmarkIntegrationCreate(b *testing.B) {
	store := postgres.NewOrderStore(postgrestest.NewPool(b), postgres.StoreOptions{})
	req := orders.CreateRequest{Order: orders.NewOrder{CustomerName: "Ada", Item: "Book", Quantity: 1}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := store.Create(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIntegrationUpdate measures one status change under the row lock,
// with its outbox row.
func BenchmarkIntegrationUpdate(b *testing.B) {
	store := postgres.NewOrderStore(postgrestest.NewPool(b), postgres.StoreOptions{})
	o, _, err := store.Create(b.Context(), orders.CreateRequest{Order: orders.NewOrder{CustomerName: "Ada", Item: "Book", Quantity: 1}})
	if err != nil {
		b.Fatal(err)
	}
	statuses := []orders.Status{orders.StatusConfirmed, orders.StatusPending}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		// Alternate between two statuses so every iteration writes: the
		// store applies what change decides, the state machine is not the
		// subject here.
		to := statuses[i%2]
		i++
		if _, err := store.Update(b.Context(), o.ID, func(cur *orders.Order) (bool, error) {
			cur.Status = to
			return true, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}
