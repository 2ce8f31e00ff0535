package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// Problem types of the v1 API (RFC 9457). They are relative references: they
// identify the kind of problem and need not be dereferenced.
const (
	problemInvalidRequest    = "/problems/invalid-request"
	problemBodyTooLarge      = "/problems/body-too-large"
	problemNotFound          = "/problems/not-found"
	problemInvalidTransition = "/problems/invalid-transition"
	problemVersionMismatch   = "/problems/version-mismatch"
	problemIdempotencyKey    = "/problems/idempotency-key-reused"
	problemInternal          = "about:blank"
)

// problem is an RFC 9457 problem detail. The legacy error body is derived
// from the same value, so both APIs report an error the same way.
type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance,omitempty"`
	// Errors lists the invalid fields of a 400.
	Errors []orders.FieldError `json:"errors,omitzero"`
	// CurrentStatus and Allowed explain a 409. omitzero keeps an empty
	// Allowed, which says the current status is final.
	CurrentStatus orders.Status   `json:"currentStatus,omitempty"`
	Allowed       []orders.Status `json:"allowed,omitzero"`
	// CurrentVersion is the version a 412's If-Match should have named.
	CurrentVersion *int64 `json:"currentVersion,omitempty"`
}

// statusOf is the one place where errors become HTTP status codes and
// client-facing descriptions. Errors arrive wrapped, hence errors.Is/As. An
// error it does not recognise is a 500 whose text is never shown.
func statusOf(err error) (int, problem) {
	var (
		tooLarge   *http.MaxBytesError
		request    *requestError
		validation *orders.ValidationError
		transition *orders.TransitionError
		version    *orders.VersionMismatchError
	)
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, problem{
			Type: problemBodyTooLarge, Title: "Request body too large",
			Detail: fmt.Sprintf("request body must be at most %d bytes", tooLarge.Limit),
		}
	case errors.As(err, &request):
		return http.StatusBadRequest, problem{Type: problemInvalidRequest, Title: "Invalid request", Detail: request.msg}
	case errors.As(err, &validation):
		return http.StatusBadRequest, problem{
			Type: problemInvalidRequest, Title: "Invalid request",
			Detail: validation.Error(), Errors: validation.Fields,
		}
	case errors.Is(err, orders.ErrNotFound):
		return http.StatusNotFound, problem{Type: problemNotFound, Title: "Order not found", Detail: "order not found"}
	case errors.As(err, &transition):
		return http.StatusConflict, problem{
			Type: problemInvalidTransition, Title: "Status change not allowed",
			Detail: transition.Error(), CurrentStatus: transition.From, Allowed: transition.Allowed,
		}
	case errors.As(err, &version):
		return http.StatusPreconditionFailed, problem{
			Type: problemVersionMismatch, Title: "Order has changed",
			Detail: version.Error() + "; fetch it again and retry", CurrentVersion: &version.Current,
		}
	case errors.Is(err, orders.ErrIdempotencyKeyReused):
		return http.StatusUnprocessableEntity, problem{
			Type: problemIdempotencyKey, Title: "Idempotency key reused",
			Detail: "the Idempotency-Key was already used with a different request body",
		}
	}
	return http.StatusInternalServerError, problem{
		Type: problemInternal, Title: "Internal Server Error", Detail: "internal server error",
	}
}

// describe maps err for the request in c and logs what the client is not
// told. Both error writers go through it.
func describe(c *gin.Context, log *slog.Logger, err error) (int, problem) {
	code, p := statusOf(err)
	p.Status = code
	p.Instance = c.Request.URL.Path
	if code == http.StatusNotFound {
		// The domain's ErrNotFound carries no id; the path does, and the
		// original API named it ("order 7 not found").
		if id, perr := strconv.ParseInt(c.Param("id"), 10, 64); perr == nil {
			p.Detail = fmt.Sprintf("order %d not found", id)
		}
	}
	if code >= http.StatusInternalServerError {
		log.ErrorContext(c.Request.Context(), "request failed",
			"method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	}
	return code, p
}

// writeProblem answers err as application/problem+json (the v1 API).
func writeProblem(c *gin.Context, log *slog.Logger, err error) {
	code, p := describe(c, log, err)
	c.Header("Content-Type", "application/problem+json")
	encode(c, code, p)
}

// legacyError is the Spring Boot error body the original clients parse.
type legacyError struct {
	Timestamp time.Time           `json:"timestamp"`
	Status    int                 `json:"status"`
	Error     string              `json:"error"`
	Message   string              `json:"message"`
	Path      string              `json:"path"`
	Fields    []orders.FieldError `json:"fields,omitempty"`
}

// writeLegacyError answers err in the original API's error format.
func writeLegacyError(c *gin.Context, log *slog.Logger, err error) {
	code, p := describe(c, log, err)
	encode(c, code, legacyError{
		Timestamp: time.Now().UTC(),
		Status:    code,
		Error:     http.StatusText(code),
		Message:   p.Detail,
		Path:      p.Instance,
		Fields:    p.Errors,
	})
}
