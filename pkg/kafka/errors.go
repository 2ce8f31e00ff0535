package kafka

import (
	"errors"

	"github.com/order-tracking/platform/pkg/events"
)

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }

// Unwrap keeps errors.Is and errors.As working through the mark, so a
// handler can still ask, say, errors.Is(err, events.ErrUnknownType).
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: a Consumer sends the message to
// the dead-letter topic at once instead of spending its retry budget. Use it
// for records that can never be handled (undecodable, unknown type, a
// reference to something that cannot exist), not for dependencies that are
// down. Permanent(nil) is nil, so `return Permanent(err)` is safe.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or any error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// DecodeEvent decodes m as an order event with events.Decode. Its errors
// (an *events.DecodeError, or one wrapping events.ErrUnknownType) come back
// marked Permanent, because a record that does not decode now never will:
// returning the error from a Handler dead-letters the record at once. A
// handler that prefers to skip events of types it does not know (a newer
// producer) checks errors.Is(err, events.ErrUnknownType) and returns nil.
func DecodeEvent(m Message) (events.Event, error) {
	hs := make([]events.Header, len(m.Headers))
	for i, h := range m.Headers {
		hs[i] = events.Header{Key: h.Key, Value: h.Value}
	}
	e, err := events.Decode(hs, m.Value)
	if err != nil {
		return events.Event{}, Permanent(err)
	}
	return e, nil
}
