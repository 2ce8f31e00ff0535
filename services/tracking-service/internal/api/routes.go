// Package api is the HTTP adapter of tracking-service: the original
// system's GET /track/{id}, the order's status timeline, and a Server-Sent
// Events stream of its changes.
package api

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/services/tracking-service/internal/hub"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

// DefaultHeartbeat is the heartbeat of an event stream unless
// SSE_HEARTBEAT_INTERVAL says otherwise.
const DefaultHeartbeat = 15 * time.Second

// Options tunes the API; the zero value is usable.
type Options struct {
	// Heartbeat is the interval of the comment lines that keep an idle
	// stream open through proxies and load balancers, which close
	// connections that stay silent (often after 60s); zero means
	// DefaultHeartbeat.
	Heartbeat time.Duration
}

// Register adds every route of tracking-service onto r, its handlers logging
// to log and streams fed by changes. The engine itself, with /healthz,
// /readyz, /metrics, request ids and panic recovery, belongs to
// pkg/httpserver; this is the one place listing the service's own API.
func Register(r gin.IRouter, log *slog.Logger, svc *tracking.Service, changes *hub.Hub, opts Options) {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	errs := responder(log)

	// The original Spring Boot endpoint, same path and fields.
	r.GET("/track/:id", errs.Handle(httpapi.Read(parseID, svc.Get, toTracked)))
	r.GET("/track/:id/history", errs.Handle(httpapi.Read(parseID, svc.History, history)))
	r.GET("/track/:id/events", errs.Handle(handleEvents(svc, changes, opts.Heartbeat)))
}
