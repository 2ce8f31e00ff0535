package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Header is one Kafka record header. It mirrors the Kafka clients' header
// type so that this package stays free of cgo (confluent-kafka-go needs it);
// the Kafka adapter converts.
type Header struct {
	// Key is the header name, e.g. "ce_type".
	Key string
	// Value is the header value; all headers written here are UTF-8 text.
	Value []byte
}

// Header names and fixed values of the CloudEvents Kafka protocol binding,
// binary content mode.
const (
	headerSpecVersion = "ce_specversion"
	headerID          = "ce_id"
	headerSource      = "ce_source"
	headerType        = "ce_type"
	headerTime        = "ce_time"
	headerSubject     = "ce_subject"
	headerContentType = "content-type"

	specVersion = "1.0"
	contentType = "application/json"
)

// ErrUnknownType is returned, wrapped, for an event whose type this version
// of the contract does not define. It is separate from *DecodeError because
// the usual cause is a newer producer, not a broken record: a consumer may
// skip such events instead of dead-lettering them.
var ErrUnknownType = errors.New("unknown event type")

// DecodeError reports a record that is not a valid order event: malformed
// JSON, a missing or wrong required field, or headers contradicting the
// payload. Retrying cannot fix it, so consumers dead-letter the record.
type DecodeError struct {
	// Field is the JSON field (dotted, e.g. "order.id") or header at fault;
	// empty when the value is not valid JSON at all.
	Field string
	// Reason says what is wrong, in words fit for a dead-letter record.
	Reason string
	// Err is the underlying error, e.g. from encoding/json; may be nil.
	Err error
}

// Error implements error.
func (e *DecodeError) Error() string {
	msg := "cannot decode order event: "
	if e.Field != "" {
		msg += e.Field + " "
	}
	msg += e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error, so errors.As can reach, say, a
// *json.SyntaxError.
func (e *DecodeError) Unwrap() error { return e.Err }

// Encode turns e into a Kafka record: key, JSON value and CloudEvents
// headers. source is the CloudEvents source of the producer, e.g.
// "/orders-service". Times are normalised as in the constructors. Encode
// refuses events that Decode would reject, so a bad event fails at the
// producer instead of in every consumer.
func Encode(e Event, source string) (key, value []byte, headers []Header, err error) {
	if source == "" {
		return nil, nil, nil, errors.New("cannot encode order event: source is empty")
	}
	if !e.Type.known() {
		return nil, nil, nil, fmt.Errorf("cannot encode order event: %w %q", ErrUnknownType, e.Type)
	}
	e = e.normalized()
	if field, reason := e.validate(); field != "" {
		return nil, nil, nil, fmt.Errorf("cannot encode order event: %s %s", field, reason)
	}
	value, err = json.Marshal(e)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cannot encode order event: %w", err)
	}
	headers = []Header{
		{Key: headerSpecVersion, Value: []byte(specVersion)},
		{Key: headerID, Value: []byte(e.ID)},
		{Key: headerSource, Value: []byte(source)},
		{Key: headerType, Value: []byte(e.Type)},
		// Same layout as the payload's occurredAt, which encoding/json
		// writes with time.RFC3339Nano.
		{Key: headerTime, Value: []byte(e.OccurredAt.Format(time.RFC3339Nano))},
		{Key: headerSubject, Value: e.Key()},
		{Key: headerContentType, Value: []byte(contentType)},
	}
	return e.Key(), value, headers, nil
}

// Decode turns a Kafka record's headers and value back into an Event. It is
// strict about what consumers rely on and returns either an error wrapping
// ErrUnknownType or a *DecodeError (see their docs for what to do with
// each). Unknown JSON fields are ignored on purpose, for forward
// compatibility: producers may add fields before consumers know them.
// Times are normalised to UTC and microseconds, as producers in other
// languages may send offsets or nanoseconds.
func Decode(headers []Header, value []byte) (Event, error) {
	hdrType, hasHdrType := lookup(headers, headerType)
	if hasHdrType {
		if hdrType == "" {
			return Event{}, &DecodeError{Field: headerType, Reason: "is empty"}
		}
		// Classify by header before parsing: the payload of an event type
		// we do not know may not parse as ours, and must still be reported
		// as unknown rather than malformed.
		if !Type(hdrType).known() {
			return Event{}, fmt.Errorf("cannot decode order event: %w %q", ErrUnknownType, hdrType)
		}
	}

	var e Event
	if err := json.Unmarshal(value, &e); err != nil {
		return Event{}, &DecodeError{Reason: "value is not valid JSON", Err: err}
	}
	if e.Type == "" {
		return Event{}, &DecodeError{Field: "eventType", Reason: "is missing"}
	}
	if hasHdrType && Type(hdrType) != e.Type {
		return Event{}, &DecodeError{
			Field:  "eventType",
			Reason: fmt.Sprintf("is %q, but header %s is %q", e.Type, headerType, hdrType),
		}
	}
	if !e.Type.known() {
		return Event{}, fmt.Errorf("cannot decode order event: %w %q", ErrUnknownType, e.Type)
	}
	e = e.normalized()
	if field, reason := e.validate(); field != "" {
		return Event{}, &DecodeError{Field: field, Reason: reason}
	}
	// The other headers are optional (a plain JSON producer may send none),
	// but when present they must describe the same event: consumers may
	// dedupe by ce_id or route by ce_subject without reading the value.
	if id, ok := lookup(headers, headerID); ok && id != e.ID {
		return Event{}, &DecodeError{Field: headerID, Reason: fmt.Sprintf("is %q, but eventId is %q", id, e.ID)}
	}
	if subject, ok := lookup(headers, headerSubject); ok && subject != strconv.FormatInt(e.OrderID, 10) {
		return Event{}, &DecodeError{Field: headerSubject, Reason: fmt.Sprintf("is %q, but orderId is %d", subject, e.OrderID)}
	}
	return e, nil
}

// lookup returns the value of the last header named key. Kafka allows
// repeated headers; the last one wins, as with the Java client's
// Headers.lastHeader.
func lookup(headers []Header, key string) (string, bool) {
	for i := len(headers) - 1; i >= 0; i-- {
		if headers[i].Key == key {
			return string(headers[i].Value), true
		}
	}
	return "", false
}
