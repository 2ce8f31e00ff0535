package kafka

import "errors"

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
