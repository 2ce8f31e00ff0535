// Package api is the HTTP adapter of notification-service: the read side of
// the delivery log.
package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/auth"
	"github.com/order-tracking/platform/pkg/guard"
	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/pkg/openapi"
	"github.com/order-tracking/platform/services/notification-service/internal/notify"
)

// Register adds every route of notification-service onto r, its handlers
// logging to log. The engine itself, with /healthz, /readyz, /metrics,
// request ids and panic recovery, belongs to pkg/httpserver; this is the one
// place listing the service's own API.
//
// Notifications hold what was said to whom, so reading them needs the
// scope orders:read: the log records no owner, and a customer learns the
// same from its own order's tracking.
func Register(r gin.IRouter, log *slog.Logger, deliveries notify.DeliveryLog, g guard.Guards) {
	// Errors are problem+json, as on orders-service's /api/v1: a bad
	// request is the shared table's 400, a log that cannot answer now 503.
	errs := httpapi.Responder{Log: log, Render: httpapi.ProblemJSON, Map: mapError, RetryAfter: httpapi.DefaultRetryAfter}
	guarded := append(g.For(errs), errs.Guard(auth.RequireScope(auth.ScopeRead)))

	r.GET("/notifications", append(guarded, errs.Handle(handleList(deliveries)))...)

	openapi.Register(r, openAPIDocument, g.AuthEnabled())
}

// mapError is notification-service's part of the error table.
func mapError(err error) httpapi.Body {
	if errors.Is(err, notify.ErrUnavailable) {
		return &httpapi.Problem{Status: http.StatusServiceUnavailable, Detail: "notifications are temporarily unavailable, retry later"}
	}
	return nil
}
