package api

import _ "embed"

// openAPIDocument describes the whole HTTP API of tracking-service, including
// the endpoints pkg/httpserver adds; Register serves it at GET /openapi.json
// through pkg/openapi. TestOpenAPI… keep it in step with Register and with
// what the handlers answer, and `make api-fuzz` with the running service.
//
// It is OpenAPI 3.1, not 3.0 as orders-service's: the event stream's data is
// JSON inside a string, which only 3.1's contentMediaType and contentSchema
// describe.
//
//go:embed openapi.json
var openAPIDocument []byte
