// Package api is the HTTP adapter of notification-service: the read side of
// the delivery log.
package api

import (
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/services/notification-service/internal/notify"
)

// Register adds every route of notification-service onto r. The engine
// itself, with /healthz, /readyz, /metrics, request ids and panic recovery,
// belongs to pkg/httpserver; this is the one place listing the service's
// own API.
func Register(r gin.IRouter, deliveries notify.DeliveryLog) {
	log := slog.Default()

	r.GET("/notifications", handleList(deliveries, log))
}
