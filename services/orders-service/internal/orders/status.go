package orders

import (
	"slices"
	"strings"
)

// Status is where an order stands in its life.
type Status string

// The statuses, in the order an order moves through them.
const (
	StatusPending        Status = "PENDING"
	StatusConfirmed      Status = "CONFIRMED"
	StatusShipped        Status = "SHIPPED"
	StatusOutForDelivery Status = "OUT_FOR_DELIVERY"
	StatusDelivered      Status = "DELIVERED"
	StatusCancelled      Status = "CANCELLED"
)

// forward is the delivery path. An order moves only forward along it, and may
// skip steps: the original system's README takes a new order straight from
// PENDING to SHIPPED, and clients depend on that.
var forward = []Status{StatusPending, StatusConfirmed, StatusShipped, StatusOutForDelivery, StatusDelivered}

// Statuses lists every status, delivery path first.
func Statuses() []Status {
	return append(append([]Status(nil), forward...), StatusCancelled)
}

// ParseStatus accepts a status name in any letter case.
func ParseStatus(s string) (Status, error) {
	if up := Status(strings.ToUpper(strings.TrimSpace(s))); slices.Contains(Statuses(), up) {
		return up, nil
	}
	return "", &ValidationError{Fields: []FieldError{{
		Field:   "status",
		Message: "unknown status " + quote(s) + "; expected one of " + joinStatuses(Statuses()),
	}}}
}

func (s Status) position() int { return slices.Index(forward, s) }

// Final reports whether no transition leaves s.
func (s Status) Final() bool { return s == StatusDelivered || s == StatusCancelled }

// Next lists the statuses s may move to.
func (s Status) Next() []Status {
	if s.Final() {
		return []Status{}
	}
	var next []Status
	if p := s.position(); p >= 0 {
		next = append(next, forward[p+1:]...)
	}
	// Cancelling is only possible before the parcel leaves.
	if s == StatusPending || s == StatusConfirmed {
		next = append(next, StatusCancelled)
	}
	return next
}

// CanMoveTo reports whether s may move to next.
func (s Status) CanMoveTo(next Status) bool { return slices.Contains(s.Next(), next) }

// ChangeStatus moves o to status to. Asking for the status it already has is
// a no-op (changed=false): a retried request must not emit a second event.
func (o *Order) ChangeStatus(to Status) (changed bool, err error) {
	if o.Status == to {
		return false, nil
	}
	if !o.Status.CanMoveTo(to) {
		return false, &TransitionError{From: o.Status, To: to, Allowed: o.Status.Next()}
	}
	o.Status = to
	return true, nil
}

func joinStatuses(ss []Status) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}
