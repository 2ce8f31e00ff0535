package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/guard"
	"github.com/order-tracking/platform/pkg/httpserver"
	"github.com/order-tracking/platform/pkg/openapi/openapitest"
)

// openAPI is the embedded document, loaded and validated once for every
// test of the package; get checks every answer against it, and the stream
// helpers every event.
var openAPI = openapitest.Once(openAPIDocument)

// TestOpenAPICoversRoutes checks the document against the engine the
// service really runs on: every route, the ones pkg/httpserver adds
// included, is an operation of the document and every operation a route,
// and the built-in endpoints answer as documented.
func TestOpenAPICoversRoutes(t *testing.T) {
	srv, err := httpserver.New(httpserver.Config{}, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	Register(srv.Router(), quiet, nil, newHub(t), Options{})
	openAPI(t).CheckService(t, srv.Router())
}

// TestOpenAPIServed: the embedded document, whose security requirements
// hold only when auth is on.
func TestOpenAPIServed(t *testing.T) {
	openapitest.CheckServedPerAuth(t, func(g guard.Guards) http.Handler {
		e := gin.New()
		Register(e, quiet, nil, newHub(t), Options{Guards: g})
		return e
	})
}

// checkEvent fails t unless e is an event the document's stream allows:
// the event's fields as StateEvent says, its data as TrackedOrderView.
func checkEvent(t *testing.T, e sseEvent) {
	t.Helper()
	doc := openAPI(t)
	if err := doc.CheckSchema("StateEvent", map[string]any{"event": e.name, "id": e.id, "data": e.data}); err != nil {
		t.Errorf("got event %+v, which openapi.json does not allow: %v", e, err)
	}
	var data any
	if err := json.Unmarshal([]byte(e.data), &data); err != nil {
		t.Fatalf("got event data %q, want JSON: %v", e.data, err)
	}
	if err := doc.CheckSchema("TrackedOrderView", data); err != nil {
		t.Errorf("got event data %s, which openapi.json does not allow: %v", e.data, err)
	}
}

// TestOpenAPICheckEventRejects makes sure the check every stream test runs
// on its events can fail at all.
func TestOpenAPICheckEventRejects(t *testing.T) {
	public := `{"trackingCode":"trk_0000000000000000000000000000000b","item":"Laptop","quantity":1,"status":"PENDING",` +
		`"createdAt":"2025-03-01T12:00:00Z","updatedAt":"2025-03-01T12:00:00Z","version":1}`
	tests := []struct {
		name   string
		schema string
		v      any
	}{
		{name: "another event name", schema: "StateEvent", v: map[string]any{"event": "message", "id": "1", "data": public}},
		{name: "id not a version", schema: "StateEvent", v: map[string]any{"event": "state", "id": "v1", "data": public}},
		{name: "no id", schema: "StateEvent", v: map[string]any{"event": "state", "data": public}},
		{name: "public view naming the customer", schema: "TrackedOrderView", v: map[string]any{
			"trackingCode": "trk_0000000000000000000000000000000b", "customerName": "Alice", "item": "Laptop", "quantity": 1.0,
			"status": "PENDING", "createdAt": "2025-03-01T12:00:00Z", "updatedAt": "2025-03-01T12:00:00Z", "version": 1.0}},
		{name: "unknown status", schema: "TrackedOrderView", v: map[string]any{
			"orderId": 11.0, "customerName": "Alice", "item": "Laptop", "quantity": 1.0,
			"status": "LOST", "createdAt": "2025-03-01T12:00:00Z", "updatedAt": "2025-03-01T12:00:00Z", "version": 1.0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := openAPI(t).CheckSchema(tc.schema, tc.v); err == nil {
				t.Errorf("got no validation error, want one")
			}
		})
	}
}
