package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

// trackedOrder is an order as GET /track/{id} and the event stream write
// it: the original tracking entity's fields plus updatedAt and version.
type trackedOrder struct {
	OrderID      int64     `json:"orderId"`
	CustomerName string    `json:"customerName"`
	Item         string    `json:"item"`
	Quantity     int       `json:"quantity"`
	Status       string    `json:"status"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
	Version      int64     `json:"version"`
}

func toTracked(o tracking.Order) trackedOrder {
	return trackedOrder{
		OrderID: o.ID, CustomerName: o.CustomerName, Item: o.Item, Quantity: o.Quantity,
		Status: o.Status, CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC(), Version: o.Version,
	}
}

// statusChange is one entry of GET /track/{id}/history.
type statusChange struct {
	Status  string    `json:"status"`
	At      time.Time `json:"at"`
	Version int64     `json:"version"`
}

// handleTrack serves GET /track/:id.
func handleTrack(svc *tracking.Service, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := parseID(c)
		if err != nil {
			writeError(c, log, err)
			return
		}
		o, err := svc.Get(c.Request.Context(), id)
		if err != nil {
			writeError(c, log, err)
			return
		}
		encode(c, http.StatusOK, toTracked(o))
	}
}

// handleHistory serves GET /track/:id/history.
func handleHistory(svc *tracking.Service, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := parseID(c)
		if err != nil {
			writeError(c, log, err)
			return
		}
		h, err := svc.History(c.Request.Context(), id)
		if err != nil {
			writeError(c, log, err)
			return
		}
		out := make([]statusChange, len(h))
		for i, s := range h {
			out[i] = statusChange{Status: s.Status, At: s.At.UTC(), Version: s.Version}
		}
		encode(c, http.StatusOK, out)
	}
}

// parseID reads the :id path parameter: a positive integer, as order ids
// are.
func parseID(c *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, &requestError{msg: "id must be a positive integer, not " + strconv.Quote(c.Param("id"))}
	}
	return id, nil
}

// encode writes v as JSON with status.
func encode(c *gin.Context, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own response types reach here, all of which marshal; a
		// failure is a programming error, not something to tell the client.
		panic(fmt.Sprintf("cannot encode response: %v", err))
	}
	c.Header("Content-Type", "application/json; charset=utf-8")
	c.Status(status)
	_, _ = c.Writer.Write(body)
}
