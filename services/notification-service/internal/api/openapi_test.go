package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/guard"
	"github.com/order-tracking/platform/pkg/openapi/openapitest"
	"github.com/order-tracking/platform/services/notification-service/internal/api"
)

// openAPI is the embedded document, loaded and validated once for every
// test of the package; get checks every answer against it.
var openAPI = openapitest.Once(api.OpenAPIDocument)

// TestOpenAPICoversRoutes checks the document against the engine the
// service really runs on (newHandler's): every route, the ones
// pkg/httpserver adds included, is an operation of the document and every
// operation a route, and the built-in endpoints answer as documented.
func TestOpenAPICoversRoutes(t *testing.T) {
	// The handler is only listed, so no database is needed.
	h := newHandler(t, unreachable{}, io.Discard)
	openAPI(t).CheckService(t, h.(*gin.Engine))
}

// TestOpenAPIServed: the embedded document, whose security requirement
// holds only when auth is on.
func TestOpenAPIServed(t *testing.T) {
	openapitest.CheckServedPerAuth(t, func(g guard.Guards) http.Handler {
		e := gin.New()
		api.Register(e, slog.New(slog.DiscardHandler), unreachable{}, g)
		return e
	})
}
