// Package api is the HTTP adapter of orders-service: the original Spring Boot
// endpoints, kept byte-compatible for existing clients, and the resource API
// under /api/v1 beside them. Both call the same orders.Service, so their
// rules cannot drift apart.
package api

import (
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// Register adds every route of orders-service onto r. The engine itself,
// with /healthz, /readyz, /metrics, request ids and panic recovery, belongs
// to pkg/httpserver; this is the one place listing the service's own API.
func Register(r gin.IRouter, svc *orders.Service) {
	log := slog.Default()

	// The original Spring Boot API, unchanged: paths, status codes (201 on a
	// status update included) and error bodies are what its clients expect.
	// POST /orders and /orders/ are both listed so that neither depends on the
	// engine's trailing-slash redirect, which would turn a POST into a GET.
	r.POST("/orders/createOrder", handleLegacyCreate(svc, log))
	r.POST("/orders/", handleLegacyCreate(svc, log))
	r.POST("/orders", handleLegacyCreate(svc, log))
	r.GET("/orders/fetchOrder/:id", handleLegacyGet(svc, log))
	r.PUT("/orders/updateOrderStatus/:id", handleLegacyUpdateStatus(svc, log))
	r.GET("/orders/fetchAllOrders", handleLegacyList(svc, log))

	// The resource API: problem+json errors, ETags, cursor pagination.
	r.POST("/api/v1/orders", handleCreate(svc, log))
	r.GET("/api/v1/orders", handleList(svc, log))
	r.GET("/api/v1/orders/:id", handleGet(svc, log))
	r.PATCH("/api/v1/orders/:id/status", handleUpdateStatus(svc, log))

	r.GET("/openapi.json", handleOpenAPI())
}
