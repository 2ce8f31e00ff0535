// Package api is the HTTP adapter of orders-service: the original Spring Boot
// endpoints, kept byte-compatible for existing clients, and the resource API
// under /api/v1 beside them. Both call the same orders.Service, so their
// rules cannot drift apart.
package api

import (
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// Register adds every route of orders-service onto r, its handlers logging
// to log. The engine itself, with /healthz, /readyz, /metrics, request ids
// and panic recovery, belongs to pkg/httpserver; this is the one place
// listing the service's own API.
func Register(r gin.IRouter, log *slog.Logger, svc *orders.Service) {
	// The original Spring Boot API, unchanged: paths, status codes (201 on a
	// status update included) and error bodies are what its clients expect.
	// POST /orders and /orders/ are both listed so that neither depends on the
	// engine's trailing-slash redirect, which would turn a POST into a GET.
	legacy := responder(log, httpapi.SpringBoot)
	r.POST("/orders/createOrder", legacy.Handle(handleLegacyCreate(svc)))
	r.POST("/orders/", legacy.Handle(handleLegacyCreate(svc)))
	r.POST("/orders", legacy.Handle(handleLegacyCreate(svc)))
	r.GET("/orders/fetchOrder/:id", legacy.Handle(httpapi.Read(parseID, svc.Get, toLegacy)))
	r.PUT("/orders/updateOrderStatus/:id", legacy.Handle(handleLegacyUpdateStatus(svc)))
	r.GET("/orders/fetchAllOrders", legacy.Handle(handleLegacyList(svc)))

	// The resource API: problem+json errors, ETags, cursor pagination.
	v1 := responder(log, httpapi.ProblemJSON)
	r.POST("/api/v1/orders", v1.Handle(handleCreate(svc)))
	r.GET("/api/v1/orders", v1.Handle(handleList(svc)))
	r.GET("/api/v1/orders/:id", v1.Handle(handleGet(svc)))
	r.PATCH("/api/v1/orders/:id/status", v1.Handle(handleUpdateStatus(svc)))

	r.GET("/openapi.json", handleOpenAPI())
}
