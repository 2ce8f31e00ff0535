package api

import (
	_ "embed"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPIDocument describes the whole HTTP API of orders-service, including
// the endpoints pkg/httpserver adds. The TestOpenAPI… tests keep it in step with
// Register and with what the handlers actually answer.
//
//go:embed openapi.json
var openAPIDocument []byte

// handleOpenAPI serves GET /openapi.json. With auth off the document
// drops its security requirement, so that it describes what the running
// service does: no token needed.
func handleOpenAPI(authEnabled bool) gin.HandlerFunc {
	doc := openAPIDocument
	if !authEnabled {
		doc = withoutSecurity(openAPIDocument)
	}
	return func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", doc)
	}
}

// withoutSecurity is doc without its top-level security requirement.
func withoutSecurity(doc []byte) []byte {
	var d map[string]json.RawMessage
	if err := json.Unmarshal(doc, &d); err != nil {
		panic("openapi.json is not a JSON object: " + err.Error()) // embedded, and tested
	}
	delete(d, "security")
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		panic("cannot encode openapi.json: " + err.Error())
	}
	return out
}
