package events

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestConstructors(t *testing.T) {
	// A local offset and nanoseconds, as time.Now() or a driver may give.
	at := time.Date(2025, 3, 14, 10, 26, 53, 589793238, time.FixedZone("CET", 3600))
	wantAt := time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)
	o := Order{ID: 7, Status: "SHIPPED", CreatedAt: at, UpdatedAt: at}

	tests := []struct {
		name               string
		event              Event
		wantType           Type
		wantPreviousStatus string
	}{
		{name: "created", event: NewOrderCreated(o, 1, at), wantType: TypeOrderCreated},
		{name: "updated", event: NewOrderUpdated(o, "CONFIRMED", 1, at), wantType: TypeOrderUpdated, wantPreviousStatus: "CONFIRMED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.event
			if _, err := uuid.Parse(e.ID); err != nil {
				t.Errorf("got ID %q, want a UUID: %v", e.ID, err)
			}
			if e.Type != tt.wantType {
				t.Errorf("got Type %q, want %q", e.Type, tt.wantType)
			}
			if e.OrderID != o.ID {
				t.Errorf("got OrderID %d, want %d", e.OrderID, o.ID)
			}
			if e.PreviousStatus != tt.wantPreviousStatus {
				t.Errorf("got PreviousStatus %q, want %q", e.PreviousStatus, tt.wantPreviousStatus)
			}
			// == rather than Equal: the normalised value must be
			// identical to what Decode produces, location included.
			for name, got := range map[string]time.Time{
				"OccurredAt":      e.OccurredAt,
				"Order.CreatedAt": e.Order.CreatedAt,
				"Order.UpdatedAt": e.Order.UpdatedAt,
			} {
				if got != wantAt {
					t.Errorf("got %s %v, want %v", name, got, wantAt)
				}
			}
		})
	}
}

func TestConstructorsGenerateDistinctIDs(t *testing.T) {
	a := NewOrderCreated(Order{ID: 1}, 1, time.Now())
	b := NewOrderCreated(Order{ID: 1}, 1, time.Now())
	if a.ID == b.ID {
		t.Errorf("got the same ID %q twice, want distinct IDs", a.ID)
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		name    string
		orderID int64
		want    string
	}{
		{name: "small", orderID: 7, want: "7"},
		{name: "max int64", orderID: 9223372036854775807, want: "9223372036854775807"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Event{OrderID: tt.orderID}.Key()); got != tt.want {
				t.Errorf("got key %q, want %q", got, tt.want)
			}
		})
	}
}
