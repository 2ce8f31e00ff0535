package api

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/httpapi"
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

// history is GET /track/{id}/history's answer: the timeline, oldest first.
func history(h []tracking.StatusChange) []statusChange {
	out := make([]statusChange, len(h))
	for i, s := range h {
		out[i] = statusChange{Status: s.Status, At: s.At.UTC(), Version: s.Version}
	}
	return out
}

// parseID reads the :id path parameter: a positive integer, as order ids
// are.
func parseID(c *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, &httpapi.RequestError{Detail: "id must be a positive integer, not " + strconv.Quote(c.Param("id"))}
	}
	return id, nil
}
