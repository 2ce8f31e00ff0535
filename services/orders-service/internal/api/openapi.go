package api

import _ "embed"

// openAPIDocument describes the whole HTTP API of orders-service, including
// the endpoints pkg/httpserver adds; Register serves it at GET /openapi.json
// through pkg/openapi. The TestOpenAPI… tests keep it in step with Register
// and with what the handlers actually answer, and `make api-fuzz` with the
// running service.
//
//go:embed openapi.json
var openAPIDocument []byte
