package events

import (
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Topic is the Kafka topic the events are published to and consumed from
// unless KAFKA_TOPIC says otherwise: the default of the relay and of every
// consumer, so that they cannot drift apart.
const Topic = "order-events"

// Type names the kind of an event. It travels both in the payload
// (eventType) and in the ce_type header.
type Type string

// The event types. The values are the class names of the original Spring
// Boot system, kept so that old and new consumers read the same topic.
const (
	// TypeOrderCreated is published once, when an order is placed.
	TypeOrderCreated Type = "OrderCreatedEvent"
	// TypeOrderUpdated is published for every later change of an order.
	TypeOrderUpdated Type = "OrderUpdatedEvent"
)

// known reports whether t is a type this version of the contract defines.
func (t Type) known() bool {
	return t == TypeOrderCreated || t == TypeOrderUpdated
}

// Order is the snapshot of an order as it was right after the change an
// event reports.
type Order struct {
	// ID is the order's database id.
	ID int64 `json:"id"`
	// TrackingCode is the order's private tracking link (see
	// orders-service); empty in events published before it existed.
	TrackingCode string `json:"trackingCode,omitempty"`
	// Owner is the subject of the customer the order belongs to; empty
	// when it was placed with auth off.
	Owner string `json:"owner,omitempty"`
	// CustomerName is who placed the order.
	CustomerName string `json:"customerName"`
	// Item is what was ordered.
	Item string `json:"item"`
	// Quantity is how many of Item were ordered.
	Quantity int `json:"quantity"`
	// Status is one of PENDING, CONFIRMED, SHIPPED, OUT_FOR_DELIVERY,
	// DELIVERED, CANCELLED. It is a string, not a Go enum, so that a consumer
	// built before a new status was added still decodes the event.
	Status string `json:"status"`
	// CreatedAt is when the order was placed (UTC, microseconds).
	CreatedAt time.Time `json:"createdAt"`
	// UpdatedAt is when the order last changed (UTC, microseconds).
	UpdatedAt time.Time `json:"updatedAt"`
}

// Event is one change of one order, as published on the topic.
//
// Event is comparable, so tests can check a round trip with ==.
type Event struct {
	// ID identifies the event (a UUID); consumers use it to drop
	// redeliveries. The constructors generate it; tests overwrite it to get
	// stable output.
	ID string `json:"eventId"`
	// Type says which kind of change this is.
	Type Type `json:"eventType"`
	// OrderID is the id of the order that changed; it equals Order.ID and is
	// repeated so a consumer can read it without looking into the snapshot.
	OrderID int64 `json:"orderId"`
	// Version is the order's version after the change: 1 on creation, +1 per
	// change. Consumers ignore an event whose version is not newer than the
	// one they already hold, which makes redelivery and replays harmless.
	Version int64 `json:"version"`
	// OccurredAt is when the change was committed (UTC, microseconds).
	OccurredAt time.Time `json:"occurredAt"`
	// Order is the full snapshot after the change.
	Order Order `json:"order"`
	// PreviousStatus is the order's status before the change; set on
	// updates only, so that a notifier can tell "became SHIPPED" from
	// "was already SHIPPED".
	PreviousStatus string `json:"previousStatus,omitempty"`
}

// NewOrderCreated returns the event announcing that o was placed, with a new
// random id. version is normally 1. Times are normalised to UTC and
// microseconds so the event equals what a consumer decodes.
func NewOrderCreated(o Order, version int64, at time.Time) Event {
	return Event{
		ID:         uuid.NewString(),
		Type:       TypeOrderCreated,
		OrderID:    o.ID,
		Version:    version,
		OccurredAt: at,
		Order:      o,
	}.normalized()
}

// NewOrderUpdated returns the event announcing that o changed from
// previousStatus (which may equal o.Status when something other than the
// status changed), with a new random id. Times are normalised like in
// NewOrderCreated.
func NewOrderUpdated(o Order, previousStatus string, version int64, at time.Time) Event {
	return Event{
		ID:             uuid.NewString(),
		Type:           TypeOrderUpdated,
		OrderID:        o.ID,
		Version:        version,
		OccurredAt:     at,
		Order:          o,
		PreviousStatus: previousStatus,
	}.normalized()
}

// Key returns the Kafka record key: the order id in decimal. Keying by order
// puts every event of one order in the same partition, which is what keeps
// them in order for consumers.
func (e Event) Key() []byte {
	return strconv.AppendInt(nil, e.OrderID, 10)
}

// normalized returns e with every time in UTC and truncated to microseconds.
func (e Event) normalized() Event {
	e.OccurredAt = normalizeTime(e.OccurredAt)
	e.Order.CreatedAt = normalizeTime(e.Order.CreatedAt)
	e.Order.UpdatedAt = normalizeTime(e.Order.UpdatedAt)
	return e
}

// normalizeTime truncates to PostgreSQL's precision and drops the location
// and the monotonic clock reading, so that equal instants compare equal with
// == and always print the same way.
func normalizeTime(t time.Time) time.Time {
	return t.Truncate(time.Microsecond).UTC()
}

// validate returns the first required field that is missing or wrong, and
// why; it returns empty strings for a valid event. It does not judge the
// type's name: an unknown type is a different failure (ErrUnknownType).
// Order.Status is not checked against the known statuses so that a new
// status does not make older consumers reject events.
func (e Event) validate() (field, reason string) {
	switch {
	case e.ID == "":
		return "eventId", "is missing"
	case len(e.ID) != 36 || uuid.Validate(e.ID) != nil:
		// uuid.Validate also accepts the braced and urn: forms; the schema
		// allows only the canonical one.
		return "eventId", "is not a canonical UUID"
	case e.Type == "":
		return "eventType", "is missing"
	case e.OrderID <= 0:
		return "orderId", "must be greater than 0"
	case e.Version < 1:
		return "version", "must be at least 1"
	case e.OccurredAt.IsZero():
		return "occurredAt", "is missing"
	case e.Order.ID != e.OrderID:
		return "order.id", "is " + strconv.FormatInt(e.Order.ID, 10) + ", want orderId " + strconv.FormatInt(e.OrderID, 10)
	case e.Order.Status == "":
		return "order.status", "is missing"
	case e.Type == TypeOrderUpdated && e.PreviousStatus == "":
		return "previousStatus", "is missing on " + string(TypeOrderUpdated)
	}
	return "", ""
}
