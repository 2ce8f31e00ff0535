package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// Problem types of orders-service's own errors (RFC 9457), beside the
// shared httpapi.TypeInvalidRequest and httpapi.TypeBodyTooLarge. They are
// relative references: they identify the kind of problem and need not be
// dereferenced.
const (
	problemNotFound          = "/problems/not-found"
	problemInvalidTransition = "/problems/invalid-transition"
	problemVersionMismatch   = "/problems/version-mismatch"
	problemIdempotencyKey    = "/problems/idempotency-key-reused"
	problemForbidden         = "/problems/forbidden"
)

// problem is a v1 problem with the extension members that explain a 409 and
// a 412. The legacy error body is rendered from the same value, so both
// APIs report an error the same way.
type problem struct {
	httpapi.Problem
	// CurrentStatus and Allowed explain a 409. omitzero keeps an empty
	// Allowed, which says the current status is final.
	CurrentStatus orders.Status   `json:"currentStatus,omitempty"`
	Allowed       []orders.Status `json:"allowed,omitzero"`
	// CurrentVersion is the version a 412's If-Match should have named.
	CurrentVersion *int64 `json:"currentVersion,omitempty"`
}

// responder answers the errors of one of the two APIs; they differ only in
// the body's shape.
func responder(log *slog.Logger, render httpapi.Renderer) httpapi.Responder {
	return httpapi.Responder{Log: log, Render: render, Map: mapError, Resource: "order", IDParam: "id", RetryAfter: httpapi.DefaultRetryAfter}
}

// mapError is orders-service's part of the error table (httpapi.Describe
// holds the shared part): the domain's errors as statuses and problems.
func mapError(err error) httpapi.Body {
	var (
		validation *orders.ValidationError
		transition *orders.TransitionError
		version    *orders.VersionMismatchError
		forbidden  *orders.ForbiddenError
	)
	switch {
	case errors.As(err, &validation):
		return httpapi.InvalidRequest(validation.Error(), fieldErrors(validation.Fields))
	case errors.Is(err, orders.ErrUnavailable):
		// Not a 500: nothing is wrong with the request or the code, and the
		// same request may succeed in a moment. Nothing was written either:
		// see the writes' deadline guard in package postgres.
		return &httpapi.Problem{Status: http.StatusServiceUnavailable, Detail: "orders are temporarily unavailable, retry later"}
	case errors.As(err, &forbidden):
		return &httpapi.Problem{Type: problemForbidden, Title: "Forbidden", Status: http.StatusForbidden, Detail: forbidden.Reason}
	case errors.Is(err, orders.ErrNotFound):
		return &httpapi.Problem{Type: problemNotFound, Title: "Order not found", Status: http.StatusNotFound, Detail: "order not found"}
	case errors.As(err, &transition):
		return &problem{
			Problem: httpapi.Problem{
				Type: problemInvalidTransition, Title: "Status change not allowed", Status: http.StatusConflict,
				Detail: transition.Error(),
			},
			CurrentStatus: transition.From, Allowed: transition.Allowed,
		}
	case errors.As(err, &version):
		return &problem{
			Problem: httpapi.Problem{
				Type: problemVersionMismatch, Title: "Order has changed", Status: http.StatusPreconditionFailed,
				Detail: version.Error() + "; fetch it again and retry",
			},
			CurrentVersion: &version.Current,
		}
	case errors.Is(err, orders.ErrIdempotencyKeyReused):
		return &httpapi.Problem{
			Type: problemIdempotencyKey, Title: "Idempotency key reused", Status: http.StatusUnprocessableEntity,
			Detail: "the Idempotency-Key was already used with a different request body",
		}
	}
	return nil
}

// fieldErrors converts the domain's field errors to the edge's, which
// marshal alike. A nil list stays nil, so that a problem without invalid
// fields has no "errors" member.
func fieldErrors(fs []orders.FieldError) []httpapi.FieldError {
	if fs == nil {
		return nil
	}
	out := make([]httpapi.FieldError, len(fs))
	for i, f := range fs {
		out[i] = httpapi.FieldError{Field: f.Field, Message: f.Message}
	}
	return out
}
