package events

import _ "embed"

// Schema is the JSON Schema (draft 2020-12) of an event's JSON value, for
// services that publish or validate the contract. It is stricter than
// Decode in one way on purpose: it lists the statuses and the time layout
// producers must emit today, while Decode accepts new statuses and any
// RFC 3339 time so that older consumers survive a schema extension. Treat
// it as read-only.
//
//go:embed schema/order-event.schema.json
var Schema []byte
