// Package api is the HTTP adapter of tracking-service: the original
// system's GET /track/{id}, the order's status timeline, and a Server-Sent
// Events stream of its changes.
package api

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/guard"
	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/pkg/openapi"
	"github.com/order-tracking/platform/services/tracking-service/internal/hub"
	"github.com/order-tracking/platform/services/tracking-service/internal/page"
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
	// Guards identify and charge the caller of every route; the zero value
	// lets everyone do everything.
	Guards guard.Guards
	// MaxStreams caps the event streams open on this instance, and
	// MaxStreamsPerClient those of one client (its token's subject, or its
	// address); zero means no cap. Each stream holds a connection and a
	// goroutine for as long as the client likes, so without caps a few
	// clients could hold them all.
	MaxStreams, MaxStreamsPerClient int
}

// Register adds every route of tracking-service onto r, its handlers logging
// to log and streams fed by changes. The engine itself, with /healthz,
// /readyz, /metrics, request ids and panic recovery, belongs to
// pkg/httpserver; this is the one place listing the service's own API.
func Register(r gin.IRouter, log *slog.Logger, svc *tracking.Service, changes *hub.Hub, opts Options) {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	// The original's GET /track/{id} answers its errors in plain text, with
	// its 404 sentence; the routes it never had speak problem+json.
	original := responder(log, httpapi.PlainText)
	original.NotFound = httpapi.OriginalNotFound
	errs := responder(log, httpapi.ProblemJSON)

	// {id} is an order id or a tracking code (see resolve). By id: the
	// original Spring Boot endpoint, same path and fields, for callers
	// allowed to read any order. By code: the public tracking page's data,
	// for anyone holding the code, without the customer's name.
	r.Group("", opts.Guards.For(original)...).GET("/track/:id", original.Handle(handleRead(svc, svc.Get, target.view)))
	g := r.Group("", opts.Guards.For(errs)...)
	g.GET("/track/:id/history", errs.Handle(handleRead(svc, svc.History,
		func(_ target, h []tracking.StatusChange) any { return history(h) })))
	g.GET("/track/:id/events", errs.Handle(handleEvents(svc, changes, opts.Heartbeat,
		newStreamCaps(opts.MaxStreams, opts.MaxStreamsPerClient))))

	page.Register(r, log, svc, opts.Guards.For(errs)...)
	openapi.Register(r, openAPIDocument, opts.Guards.AuthEnabled())
}
