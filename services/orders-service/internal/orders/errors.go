package orders

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNotFound means no order has the requested id.
var ErrNotFound = errors.New("order not found")

// ErrUnavailable is wrapped by the errors of a store that cannot serve the
// request now (its database down, frozen, restarting, read-only, or the
// request's deadline passed): the request may succeed if retried soon,
// unlike every other error here.
var ErrUnavailable = errors.New("order store unavailable")

// ErrIdempotencyKeyReused means an Idempotency-Key came back with a different
// request than the one it was first used with.
var ErrIdempotencyKeyReused = errors.New("idempotency key was already used with a different request")

// FieldError is one problem with one input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError collects every problem with a request.
type ValidationError struct {
	Fields []FieldError
}

// Add records a problem with field.
func (v *ValidationError) Add(field, message string) {
	v.Fields = append(v.Fields, FieldError{Field: field, Message: message})
}

// OrNil returns v as an error when it holds problems, nil otherwise.
func (v *ValidationError) OrNil() error {
	if len(v.Fields) == 0 {
		return nil
	}
	return v
}

func (v *ValidationError) Error() string {
	parts := make([]string, len(v.Fields))
	for i, f := range v.Fields {
		parts[i] = f.Field + " " + f.Message
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// TransitionError is a status change the state machine does not allow.
type TransitionError struct {
	From, To Status
	Allowed  []Status
}

func (e *TransitionError) Error() string {
	allowed := "none: " + string(e.From) + " is final"
	if len(e.Allowed) > 0 {
		allowed = joinStatuses(e.Allowed)
	}
	return fmt.Sprintf("cannot move order from %s to %s; allowed next statuses: %s", e.From, e.To, allowed)
}

// VersionMismatchError is a conditional change (If-Match) whose expected
// version is no longer the order's current one.
type VersionMismatchError struct {
	Expected, Current int64
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("order is at version %d, not %d", e.Current, e.Expected)
}

func quote(s string) string { return strconv.Quote(s) }
