// Package events is the contract between orders-service, which publishes
// order events to the Kafka topic "order-events", and the services that
// consume them (tracking-service, notification-service).
//
// # Events
//
// Two event types exist, named as in the original Spring Boot system so that
// both can share the topic during a migration: OrderCreatedEvent and
// OrderUpdatedEvent. Every event carries a full snapshot of the order, so a
// consumer never needs an earlier event to act on a later one, and the order's
// version (1 on creation, +1 per change), so a consumer can drop stale or
// duplicate events by comparing versions instead of trusting delivery order.
//
// # Wire format
//
// A Kafka record carries one event:
//
//   - key: the order id in decimal, so that all events of one order land in
//     one partition and are consumed in order;
//   - value: the event as JSON, described by the JSON Schema in Schema
//     (schema/order-event.schema.json, draft 2020-12);
//   - headers: the CloudEvents attributes in the Kafka protocol binding's
//     binary content mode: ce_specversion ("1.0"), ce_id, ce_type, ce_source,
//     ce_time, ce_subject (the order id) and content-type
//     ("application/json"). Consumers can route or count by ce_type without
//     parsing the value.
//
// All times are UTC, RFC 3339, truncated to microseconds: PostgreSQL keeps no
// more, and a value read back from the database must equal the one published.
//
// # Compatibility
//
// Decode ignores JSON fields it does not know, so producers may add fields
// without a coordinated release of every consumer. Removing or renaming a
// field, or changing its meaning, needs a new event type. Decode classifies
// failures so a consumer can decide what to do with a record it cannot use:
// ErrUnknownType (a newer producer; skip or park it) and *DecodeError (a
// broken record; dead-letter it).
package events
