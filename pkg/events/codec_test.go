package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from the current Encode output")

const testSource = "/orders-service"

// Fixed ids and times make the golden files deterministic. The times carry
// an offset and nanoseconds to pin that they are normalised on the wire.
var (
	createdAt = time.Date(2025, 3, 14, 10, 26, 53, 589793238, time.FixedZone("CET", 3600))
	shippedAt = time.Date(2025, 3, 15, 8, 0, 0, 0, time.UTC)
)

func createdFixture() Event {
	e := NewOrderCreated(Order{
		ID:           1042,
		CustomerName: "Ada Lovelace",
		Item:         "Analytical Engine",
		Quantity:     2,
		Status:       "PENDING",
		CreatedAt:    createdAt,
		UpdatedAt:    createdAt,
	}, 1, createdAt)
	e.ID = "3f1c9a52-8d4e-4b7a-9c1e-2a6f5d8b0e41"
	return e
}

func updatedFixture() Event {
	e := NewOrderUpdated(Order{
		ID:           1042,
		CustomerName: "Ada Lovelace",
		Item:         "Analytical Engine",
		Quantity:     2,
		Status:       "SHIPPED",
		CreatedAt:    createdAt,
		UpdatedAt:    shippedAt,
	}, "CONFIRMED", 3, shippedAt)
	e.ID = "b7e2d1f0-4c3a-4e59-8a6b-0d9c8f7e6a51"
	return e
}

// renderGolden lays out one record as the golden file stores it: key,
// headers in order, and the value, pretty-printed for readable diffs.
func renderGolden(t *testing.T, key, value []byte, headers []Header) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(`{"key":`)
	b.Write(mustMarshal(t, string(key)))
	b.WriteString(`,"headers":{`)
	for i, h := range headers {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(mustMarshal(t, h.Key))
		b.WriteByte(':')
		b.Write(mustMarshal(t, string(h.Value)))
	}
	b.WriteString(`},"value":`)
	b.Write(value)
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		t.Fatalf("cannot indent golden record: %v", err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("cannot marshal %v: %v", v, err)
	}
	return b
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		t.Fatalf("cannot parse Schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	// Formats (uuid, date-time) are annotations only in 2020-12 unless
	// asserted; the contract means them.
	c.AssertFormat()
	if err := c.AddResource("order-event.schema.json", doc); err != nil {
		t.Fatalf("cannot add Schema: %v", err)
	}
	sch, err := c.Compile("order-event.schema.json")
	if err != nil {
		t.Fatalf("cannot compile Schema: %v", err)
	}
	return sch
}

func validateJSON(sch *jsonschema.Schema, value []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return err
	}
	return sch.Validate(v)
}

func TestGolden(t *testing.T) {
	sch := compileSchema(t)
	tests := []struct {
		name  string
		event Event
		file  string
	}{
		{name: "created", event: createdFixture(), file: "order_created.golden.json"},
		{name: "updated", event: updatedFixture(), file: "order_updated.golden.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, value, headers, err := Encode(tt.event, testSource)
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			got := renderGolden(t, key, value, headers)
			path := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatalf("cannot update %s: %v", path, err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("cannot read %s (run go test ./events -update to create it): %v", path, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Encode output differs from %s (run go test ./events -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
			}

			// The golden file is pretty-printed; the wire value must be
			// exactly its compact form, not merely equivalent JSON.
			var golden struct {
				Value json.RawMessage `json:"value"`
			}
			if err := json.Unmarshal(want, &golden); err != nil {
				t.Fatalf("cannot parse %s: %v", path, err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, golden.Value); err != nil {
				t.Fatalf("cannot compact golden value: %v", err)
			}
			if !bytes.Equal(value, compact.Bytes()) {
				t.Errorf("got value %s, want %s", value, compact.Bytes())
			}

			if err := validateJSON(sch, golden.Value); err != nil {
				t.Errorf("got schema error for golden value: %v, want none", err)
			}

			decoded, err := Decode(headers, value)
			if err != nil {
				t.Fatalf("got Decode error %v, want nil", err)
			}
			if decoded != tt.event {
				t.Errorf("got round trip %+v, want %+v", decoded, tt.event)
			}
		})
	}
}

// TestSchemaRejects pins that the schema is not vacuous: each case breaks
// one rule of a valid payload.
func TestSchemaRejects(t *testing.T) {
	sch := compileSchema(t)
	tests := []struct {
		name   string
		event  Event
		mutate func(m map[string]any)
	}{
		{name: "unknown status", event: createdFixture(), mutate: func(m map[string]any) { order(m)["status"] = "LOST" }},
		{name: "unknown event type", event: createdFixture(), mutate: func(m map[string]any) { m["eventType"] = "OrderDeletedEvent" }},
		{name: "missing order", event: createdFixture(), mutate: func(m map[string]any) { delete(m, "order") }},
		{name: "missing customer name", event: createdFixture(), mutate: func(m map[string]any) { delete(order(m), "customerName") }},
		{name: "orderId zero", event: createdFixture(), mutate: func(m map[string]any) { m["orderId"] = 0 }},
		{name: "version zero", event: createdFixture(), mutate: func(m map[string]any) { m["version"] = 0 }},
		{name: "eventId not a UUID", event: createdFixture(), mutate: func(m map[string]any) { m["eventId"] = "42" }},
		{name: "time not UTC", event: createdFixture(), mutate: func(m map[string]any) { m["occurredAt"] = "2025-03-14T10:26:53+01:00" }},
		{name: "time with nanoseconds", event: createdFixture(), mutate: func(m map[string]any) { m["occurredAt"] = "2025-03-14T09:26:53.589793238Z" }},
		{name: "update without previousStatus", event: updatedFixture(), mutate: func(m map[string]any) { delete(m, "previousStatus") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			value := mutatePayload(t, tt.event, tt.mutate)
			if err := validateJSON(sch, value); err == nil {
				t.Errorf("got no schema error for %s, want one", value)
			}
		})
	}
}

func order(m map[string]any) map[string]any { return m["order"].(map[string]any) }

// mutatePayload encodes e, applies mutate to the payload as a generic map
// and returns the resulting JSON.
func mutatePayload(t *testing.T, e Event, mutate func(m map[string]any)) []byte {
	t.Helper()
	_, value, _, err := Encode(e, testSource)
	if err != nil {
		t.Fatalf("cannot encode fixture: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(value, &m); err != nil {
		t.Fatalf("cannot parse fixture: %v", err)
	}
	mutate(m)
	return mustMarshal(t, m)
}

// setHeader returns a copy of headers with key set to value, or removed
// when value is nil.
func setHeader(headers []Header, key string, value []byte) []Header {
	var out []Header
	for _, h := range headers {
		if h.Key != key {
			out = append(out, h)
		}
	}
	if value != nil {
		out = append(out, Header{Key: key, Value: value})
	}
	return out
}

func TestDecode(t *testing.T) {
	created := createdFixture()
	_, createdValue, createdHeaders, err := Encode(created, testSource)
	if err != nil {
		t.Fatalf("cannot encode fixture: %v", err)
	}
	updated := updatedFixture()
	_, updatedValue, updatedHeaders, err := Encode(updated, testSource)
	if err != nil {
		t.Fatalf("cannot encode fixture: %v", err)
	}
	withoutType := setHeader(createdHeaders, "ce_type", nil)
	payload := func(mutate func(m map[string]any)) []byte { return mutatePayload(t, created, mutate) }

	const (
		ok = iota
		unknownType
		decodeError
	)
	tests := []struct {
		name      string
		headers   []Header
		value     []byte
		want      int
		wantField string // DecodeError.Field, for want == decodeError
		wantEvent Event  // for want == ok
	}{
		{name: "created", headers: createdHeaders, value: createdValue, want: ok, wantEvent: created},
		{name: "updated", headers: updatedHeaders, value: updatedValue, want: ok, wantEvent: updated},
		{name: "no headers", value: createdValue, want: ok, wantEvent: created},
		{name: "unknown fields tolerated", headers: createdHeaders, value: payload(func(m map[string]any) {
			m["channel"] = "web"
			order(m)["giftWrap"] = true
		}), want: ok, wantEvent: created},
		{name: "offset time normalised", headers: createdHeaders, value: payload(func(m map[string]any) {
			m["occurredAt"] = "2025-03-14T10:26:53.589793999+01:00"
		}), want: ok, wantEvent: created},
		{name: "last repeated header wins", headers: append(setHeader(createdHeaders, "ce_type", []byte("Bogus")), Header{Key: "ce_type", Value: []byte(TypeOrderCreated)}), value: createdValue, want: ok, wantEvent: created},

		{name: "bad JSON", headers: createdHeaders, value: []byte(`{"eventId":`), want: decodeError},
		{name: "empty value", headers: createdHeaders, value: nil, want: decodeError},
		{name: "not an object", headers: createdHeaders, value: []byte(`[]`), want: decodeError},
		{name: "wrong field type", headers: createdHeaders, value: payload(func(m map[string]any) { m["orderId"] = "1042" }), want: decodeError},

		{name: "unknown type in header", headers: setHeader(createdHeaders, "ce_type", []byte("OrderDeletedEvent")), value: createdValue, want: unknownType},
		{name: "unknown type in header, unparseable value", headers: setHeader(createdHeaders, "ce_type", []byte("OrderDeletedEvent")), value: []byte(`<xml/>`), want: unknownType},
		{name: "unknown type in payload", headers: withoutType, value: payload(func(m map[string]any) { m["eventType"] = "OrderDeletedEvent" }), want: unknownType},
		{name: "header and payload type mismatch", headers: setHeader(createdHeaders, "ce_type", []byte(TypeOrderUpdated)), value: createdValue, want: decodeError, wantField: "eventType"},
		{name: "header known, payload type unknown", headers: createdHeaders, value: payload(func(m map[string]any) { m["eventType"] = "OrderDeletedEvent" }), want: decodeError, wantField: "eventType"},
		{name: "empty type header", headers: setHeader(createdHeaders, "ce_type", []byte{}), value: createdValue, want: decodeError, wantField: "ce_type"},

		{name: "missing eventId", headers: withoutType, value: payload(func(m map[string]any) { delete(m, "eventId") }), want: decodeError, wantField: "eventId"},
		{name: "eventId not a UUID", headers: withoutType, value: payload(func(m map[string]any) { m["eventId"] = "{3f1c9a52-8d4e-4b7a-9c1e-2a6f5d8b0e41}" }), want: decodeError, wantField: "eventId"},
		{name: "missing eventType", headers: withoutType, value: payload(func(m map[string]any) { delete(m, "eventType") }), want: decodeError, wantField: "eventType"},
		{name: "missing eventType with header", headers: createdHeaders, value: payload(func(m map[string]any) { delete(m, "eventType") }), want: decodeError, wantField: "eventType"},
		{name: "missing orderId", headers: withoutType, value: payload(func(m map[string]any) { delete(m, "orderId") }), want: decodeError, wantField: "orderId"},
		{name: "negative orderId", headers: withoutType, value: payload(func(m map[string]any) { m["orderId"] = -1 }), want: decodeError, wantField: "orderId"},
		{name: "missing version", headers: withoutType, value: payload(func(m map[string]any) { delete(m, "version") }), want: decodeError, wantField: "version"},
		{name: "missing occurredAt", headers: withoutType, value: payload(func(m map[string]any) { delete(m, "occurredAt") }), want: decodeError, wantField: "occurredAt"},
		{name: "missing order", headers: withoutType, value: payload(func(m map[string]any) { delete(m, "order") }), want: decodeError, wantField: "order.id"},
		{name: "mismatched order id", headers: withoutType, value: payload(func(m map[string]any) { order(m)["id"] = 1043 }), want: decodeError, wantField: "order.id"},
		{name: "missing order status", headers: withoutType, value: payload(func(m map[string]any) { delete(order(m), "status") }), want: decodeError, wantField: "order.status"},
		{name: "update without previousStatus", headers: updatedHeaders, value: mutatePayload(t, updated, func(m map[string]any) { delete(m, "previousStatus") }), want: decodeError, wantField: "previousStatus"},
		{name: "ce_id mismatch", headers: setHeader(createdHeaders, "ce_id", []byte("b7e2d1f0-4c3a-4e59-8a6b-0d9c8f7e6a51")), value: createdValue, want: decodeError, wantField: "ce_id"},
		{name: "ce_subject mismatch", headers: setHeader(createdHeaders, "ce_subject", []byte("1043")), value: createdValue, want: decodeError, wantField: "ce_subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.headers, tt.value)
			var de *DecodeError
			isDecode := errors.As(err, &de)
			isUnknown := errors.Is(err, ErrUnknownType)
			switch tt.want {
			case ok:
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				if got != tt.wantEvent {
					t.Errorf("got event %+v, want %+v", got, tt.wantEvent)
				}
			case unknownType:
				if !isUnknown || isDecode {
					t.Errorf("got error %v (ErrUnknownType %t, *DecodeError %t), want ErrUnknownType only", err, isUnknown, isDecode)
				}
			case decodeError:
				if !isDecode || isUnknown {
					t.Fatalf("got error %v (ErrUnknownType %t, *DecodeError %t), want *DecodeError only", err, isUnknown, isDecode)
				}
				if de.Field != tt.wantField {
					t.Errorf("got Field %q, want %q (error %v)", de.Field, tt.wantField, err)
				}
			}
			if err != nil && got != (Event{}) {
				t.Errorf("got event %+v with error, want zero Event", got)
			}
		})
	}
}

func TestDecodeErrorUnwrapsJSONError(t *testing.T) {
	_, err := Decode(nil, []byte(`{"eventId":`))
	var syntaxErr *json.SyntaxError
	if !errors.As(err, &syntaxErr) {
		t.Errorf("got %v, want it to wrap *json.SyntaxError", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "cannot decode order event: ") {
		t.Errorf("got message %q, want prefix %q", msg, "cannot decode order event: ")
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name        string
		event       Event
		source      string
		wantUnknown bool
	}{
		{name: "empty source", event: createdFixture(), source: ""},
		{name: "unknown type", event: func() Event { e := createdFixture(); e.Type = "OrderDeletedEvent"; return e }(), source: testSource, wantUnknown: true},
		{name: "missing id", event: func() Event { e := createdFixture(); e.ID = ""; return e }(), source: testSource},
		{name: "mismatched order id", event: func() Event { e := createdFixture(); e.Order.ID = 1; return e }(), source: testSource},
		{name: "version zero", event: func() Event { e := createdFixture(); e.Version = 0; return e }(), source: testSource},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, value, headers, err := Encode(tt.event, tt.source)
			if err == nil {
				t.Fatalf("got no error, want one")
			}
			if key != nil || value != nil || headers != nil {
				t.Errorf("got key %q, value %q, headers %v with error, want nil", key, value, headers)
			}
			if got := errors.Is(err, ErrUnknownType); got != tt.wantUnknown {
				t.Errorf("got errors.Is(err, ErrUnknownType) %t, want %t (error %v)", got, tt.wantUnknown, err)
			}
		})
	}
}
