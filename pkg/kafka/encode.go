package kafka

import "github.com/order-tracking/platform/pkg/events"

// EncodeEvent is DecodeEvent's counterpart: e encoded with events.Encode
// as a record for topic, keyed by order id, with the CloudEvents headers.
// source is the producing service's CloudEvents source.
func EncodeEvent(topic string, e events.Event, source string) (Message, error) {
	key, value, hs, err := events.Encode(e, source)
	if err != nil {
		return Message{}, err
	}
	return Message{Topic: topic, Key: key, Value: value, Headers: EventHeaders(hs, 0)}, nil
}

// EventHeaders converts the event contract's headers to record headers,
// with room for extra more (a traceparent, say) so that appending them
// does not copy the slice.
func EventHeaders(hs []events.Header, extra int) []Header {
	out := make([]Header, len(hs), len(hs)+extra)
	for i, h := range hs {
		out[i] = Header{Key: h.Key, Value: h.Value}
	}
	return out
}
