package api

import _ "embed"

// openAPIDocument describes the whole HTTP API of notification-service,
// including the endpoints pkg/httpserver adds; Register serves it at GET
// /openapi.json through pkg/openapi. TestOpenAPI… keep it in step with
// Register and with what the handler answers, and `make api-fuzz` with the
// running service. It is OpenAPI 3.1, as tracking-service's.
//
//go:embed openapi.json
var openAPIDocument []byte
