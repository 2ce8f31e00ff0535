package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
)

// requestError is a request the client must change before retrying.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

// errorBody is every error answer's JSON, in the shape pkg/httpserver uses
// for its own 404 and 405 answers.
type errorBody struct {
	Error string `json:"error"`
}

// writeError is the one place where errors become HTTP answers. An error it
// does not recognise is a 500 whose text is logged, never shown.
func writeError(c *gin.Context, log *slog.Logger, err error) {
	var request *requestError
	if errors.As(err, &request) {
		c.JSON(http.StatusBadRequest, errorBody{Error: request.msg})
		return
	}
	log.ErrorContext(c, "request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	c.JSON(http.StatusInternalServerError, errorBody{Error: "internal server error"})
}
