package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/services/tracking-service/internal/hub"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

// requestError is input the client must fix.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

// errorBody is the Spring Boot error body the original system's clients
// parse; the newer endpoints use it too, so a client meets one error shape.
type errorBody struct {
	Timestamp time.Time `json:"timestamp"`
	Status    int       `json:"status"`
	Error     string    `json:"error"`
	Message   string    `json:"message"`
	Path      string    `json:"path"`
}

// statusOf is the one place where errors become HTTP status codes and
// client-facing messages. Errors arrive wrapped, hence errors.Is/As. An
// error it does not recognise is a 500 whose text is never shown.
func statusOf(err error) (int, string) {
	var request *requestError
	switch {
	case errors.As(err, &request):
		return http.StatusBadRequest, request.msg
	case errors.Is(err, tracking.ErrNotFound):
		return http.StatusNotFound, "order not found"
	case errors.Is(err, tracking.ErrUnavailable), errors.Is(err, hub.ErrClosed):
		// Not a 404: the order may well exist, we cannot tell right now.
		return http.StatusServiceUnavailable, "tracking is temporarily unavailable, retry later"
	}
	return http.StatusInternalServerError, "internal server error"
}

// writeError answers err as JSON and logs what the client is not told.
func writeError(c *gin.Context, log *slog.Logger, err error) {
	code, msg := statusOf(err)
	if code == http.StatusNotFound {
		// The domain's ErrNotFound carries no id; the path does.
		if id, perr := strconv.ParseInt(c.Param("id"), 10, 64); perr == nil {
			msg = "order " + strconv.FormatInt(id, 10) + " not found"
		}
	}
	if code >= http.StatusInternalServerError {
		log.ErrorContext(c.Request.Context(), "request failed",
			"method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	}
	if code == http.StatusServiceUnavailable {
		// Dependencies usually come back within seconds.
		c.Header("Retry-After", "5")
	}
	encode(c, code, errorBody{
		Timestamp: time.Now().UTC(),
		Status:    code,
		Error:     http.StatusText(code),
		Message:   msg,
		Path:      c.Request.URL.Path,
	})
}
