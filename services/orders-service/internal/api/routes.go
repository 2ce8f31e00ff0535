// Package api is the HTTP adapter of orders-service: the original Spring Boot
// endpoints, kept byte-compatible for existing clients, and the resource API
// under /api/v1 beside them. Both call the same orders.Service, so their
// rules cannot drift apart.
package api

import (
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/guard"
	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/pkg/openapi"
	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// Register adds every route of orders-service onto r, its handlers logging
// to log. The engine itself, with /healthz, /readyz, /metrics, request ids
// and panic recovery, belongs to pkg/httpserver; this is the one place
// listing the service's own API.
//
// Every API route passes g first: the caller is identified and charged
// before its handler runs, and the handler asks the domain with that
// caller (see caller), where the rules of who may do what live.
func Register(r gin.IRouter, log *slog.Logger, svc *orders.Service, g guard.Guards) {
	// The original Spring Boot API, unchanged: paths, status codes (201 on a
	// status update included) and error bodies (plain text, its 404 a
	// sentence of its own) are what its clients expect.
	// POST /orders and /orders/ are both listed so that neither depends on the
	// engine's trailing-slash redirect, which would turn a POST into a GET.
	legacy := responder(log, httpapi.PlainText)
	legacy.NotFound = httpapi.OriginalNotFound
	lg := r.Group("", g.For(legacy)...)
	lg.POST("/orders/createOrder", legacy.Handle(handleLegacyCreate(svc)))
	lg.POST("/orders/", legacy.Handle(handleLegacyCreate(svc)))
	lg.POST("/orders", legacy.Handle(handleLegacyCreate(svc)))
	lg.GET("/orders/fetchOrder/:id", legacy.Handle(httpapi.Read(parseID, getOrder(svc), toLegacy)))
	lg.PUT("/orders/updateOrderStatus/:id", legacy.Handle(handleLegacyUpdateStatus(svc)))
	lg.GET("/orders/fetchAllOrders", legacy.Handle(handleLegacyList(svc, log)))

	// The resource API: problem+json errors, ETags, cursor pagination.
	v1 := responder(log, httpapi.ProblemJSON)
	vg := r.Group("", g.For(v1)...)
	vg.POST("/api/v1/orders", v1.Handle(handleCreate(svc)))
	vg.GET("/api/v1/orders", v1.Handle(handleList(svc)))
	vg.GET("/api/v1/orders/:id", v1.Handle(handleGet(svc)))
	vg.GET("/api/v1/orders/:id/history", v1.Handle(handleHistory(svc)))
	vg.PATCH("/api/v1/orders/:id/status", v1.Handle(handleUpdateStatus(svc)))

	openapi.Register(r, openAPIDocument, g.AuthEnabled())
}
