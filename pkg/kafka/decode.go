package kafka

import "github.com/order-tracking/platform/pkg/events"

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

// DecodeEvents decodes ms in order with DecodeEvent, up to the first that
// does not decode: it returns the events before that one, and its error.
// A BatchHandler handles those events and reports the error for
// ms[len(events)], as its contract asks.
func DecodeEvents(ms []Message) ([]events.Event, error) {
	es := make([]events.Event, 0, len(ms))
	for _, m := range ms {
		e, err := DecodeEvent(m)
		if err != nil {
			return es, err
		}
		es = append(es, e)
	}
	return es, nil
}
