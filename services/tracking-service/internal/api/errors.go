package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/services/tracking-service/internal/hub"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

// responder answers a route group's errors in render's shape: the original
// system's plain text on its GET /track/{id}, problem+json on the routes it
// never had.
func responder(log *slog.Logger, render httpapi.Renderer) httpapi.Responder {
	return httpapi.Responder{
		Log: log, Render: render, Map: mapError,
		Resource: "order", IDParam: "id", RetryAfter: httpapi.DefaultRetryAfter,
	}
}

// mapError is tracking-service's part of the error table (httpapi.Describe
// holds the shared part). Only the status and detail show in the plain
// text body.
func mapError(err error) httpapi.Body {
	switch {
	case errors.Is(err, tracking.ErrNotFound):
		return &httpapi.Problem{Status: http.StatusNotFound, Detail: "order not found"}
	case errors.Is(err, tracking.ErrUnavailable), errors.Is(err, hub.ErrClosed):
		// Not a 404: the order may well exist, we cannot tell right now.
		return &httpapi.Problem{Status: http.StatusServiceUnavailable, Detail: "tracking is temporarily unavailable, retry later"}
	}
	return nil
}
