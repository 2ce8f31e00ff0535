package orders

import (
	"errors"
	"slices"
	"testing"
)

// allowed is the state machine written out by hand, independently of the
// code's derivation from the delivery path, so a mistake in either shows.
var allowed = map[Status][]Status{
	StatusPending:        {StatusConfirmed, StatusShipped, StatusOutForDelivery, StatusDelivered, StatusCancelled},
	StatusConfirmed:      {StatusShipped, StatusOutForDelivery, StatusDelivered, StatusCancelled},
	StatusShipped:        {StatusOutForDelivery, StatusDelivered},
	StatusOutForDelivery: {StatusDelivered},
	StatusDelivered:      {},
	StatusCancelled:      {},
}

func TestChangeStatusEveryPair(t *testing.T) {
	for _, from := range Statuses() {
		for _, to := range Statuses() {
			t.Run(string(from)+"->"+string(to), func(t *testing.T) {
				o := &Order{Status: from}
				changed, err := o.ChangeStatus(to)
				want := slices.Contains(allowed[from], to)
				switch {
				case from == to:
					if changed || err != nil {
						t.Fatalf("same status: got changed=%v err=%v, want a no-op", changed, err)
					}
				case want:
					if !changed || err != nil || o.Status != to {
						t.Fatalf("got changed=%v err=%v status=%s, want a move to %s", changed, err, o.Status, to)
					}
				default:
					var te *TransitionError
					if !errors.As(err, &te) {
						t.Fatalf("got err=%v, want *TransitionError", err)
					}
					if changed || o.Status != from {
						t.Fatalf("got changed=%v status=%s, want the order left at %s", changed, o.Status, from)
					}
					if te.From != from || te.To != to || !sameSet(te.Allowed, allowed[from]) {
						t.Fatalf("got %+v, want from %s to %s allowed %v", te, from, to, allowed[from])
					}
				}
			})
		}
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		in      string
		want    Status
		wantErr bool
	}{
		{"SHIPPED", StatusShipped, false},
		{"shipped", StatusShipped, false},
		{" out_for_delivery ", StatusOutForDelivery, false},
		{"LOST", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseStatus(tt.in)
			var ve *ValidationError
			if tt.wantErr != errors.As(err, &ve) {
				t.Fatalf("got err %v, want error=%v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewOrderValidate(t *testing.T) {
	long := string(make([]rune, 201))
	tests := []struct {
		name       string
		in         NewOrder
		wantFields []string
	}{
		{"valid", NewOrder{CustomerName: "Ann", Item: "Book", Quantity: 1}, nil},
		{"max quantity", NewOrder{CustomerName: "Ann", Item: "Book", Quantity: 10000}, nil},
		{"everything missing", NewOrder{}, []string{"customerName", "item", "quantity"}},
		{"too long", NewOrder{CustomerName: long, Item: long, Quantity: 3}, []string{"customerName", "item"}},
		{"quantity too big", NewOrder{CustomerName: "Ann", Item: "Book", Quantity: 10001}, []string{"quantity"}},
		{"negative quantity", NewOrder{CustomerName: "Ann", Item: "Book", Quantity: -1}, []string{"quantity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			var got []string
			var ve *ValidationError
			if errors.As(err, &ve) {
				for _, f := range ve.Fields {
					got = append(got, f.Field)
				}
			} else if err != nil {
				t.Fatalf("got %T %v, want *ValidationError", err, err)
			}
			if !slices.Equal(got, tt.wantFields) {
				t.Fatalf("got fields %v, want %v", got, tt.wantFields)
			}
		})
	}
}

func sameSet(a, b []Status) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
