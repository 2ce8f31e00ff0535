package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPIDocument describes the whole HTTP API of orders-service, including
// the endpoints pkg/httpserver adds. The TestOpenAPI… tests keep it in step with
// Register and with what the handlers actually answer.
//
//go:embed openapi.json
var openAPIDocument []byte

// handleOpenAPI serves GET /openapi.json.
func handleOpenAPI() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", openAPIDocument)
	}
}
