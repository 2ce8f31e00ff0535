package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/services/tracking-service/internal/hub"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

// responder answers every route's errors in the Spring Boot body the
// original system's clients parse; the newer endpoints use it too, so a
// client meets one error shape.
func responder(log *slog.Logger) httpapi.Responder {
	return httpapi.Responder{
		Log: log, Render: httpapi.SpringBoot, Map: mapError,
		Resource: "order", IDParam: "id", RetryAfter: httpapi.DefaultRetryAfter,
	}
}

// mapError is tracking-service's part of the error table (httpapi.Describe
// holds the shared part). Only the status and detail show in the Spring
// Boot body.
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
