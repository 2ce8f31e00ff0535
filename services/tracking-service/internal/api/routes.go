// Package api is the HTTP adapter of tracking-service: the original
// system's GET /track/{id}, the order's status timeline, and a Server-Sent
// Events stream of its changes.
package api

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/services/tracking-service/internal/hub"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

// Options tunes the API; the zero value is usable.
type Options struct {
	// Heartbeat is the interval of the comment lines that keep an idle
	// stream open through proxies and load balancers, which close
	// connections that stay silent (often after 60s); default 15s.
	Heartbeat time.Duration
	// Logger receives unexpected errors; default slog.Default().
	Logger *slog.Logger
}

// Register adds every route of tracking-service onto r. The engine itself,
// with /healthz, /readyz, /metrics, request ids and panic recovery, belongs
// to pkg/httpserver; this is the one place listing the service's own API.
func Register(r gin.IRouter, svc *tracking.Service, changes *hub.Hub, opts Options) {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}

	// The original Spring Boot endpoint, same path and fields.
	r.GET("/track/:id", handleTrack(svc, log))
	r.GET("/track/:id/history", handleHistory(svc, log))
	r.GET("/track/:id/events", handleEvents(svc, changes, opts.Heartbeat, log))
}
