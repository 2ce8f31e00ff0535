package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/auth"
	"github.com/order-tracking/platform/pkg/events"
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

// publicOrder is an order as the holder of its tracking code sees it:
// what a carrier's tracking page shows, and nothing that names or
// identifies the customer (no name, no order id).
type publicOrder struct {
	TrackingCode string    `json:"trackingCode"`
	Item         string    `json:"item"`
	Quantity     int       `json:"quantity"`
	Status       string    `json:"status"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
	Version      int64     `json:"version"`
}

func toPublic(o tracking.Order) publicOrder {
	return publicOrder{
		TrackingCode: o.TrackingCode, Item: o.Item, Quantity: o.Quantity, Status: o.Status,
		CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC(), Version: o.Version,
	}
}

// target is the order a request names, and which view of it the caller
// may have.
type target struct {
	id     int64
	public bool
}

// view is the answer's shape of o for t's caller.
func (t target) view(o tracking.Order) any {
	if t.public {
		return toPublic(o)
	}
	return toTracked(o)
}

// resolve reads the :id path parameter. A tracking code (it starts with
// events.TrackingCodePrefix) names its order for anyone; a code that names no
// order is a 404 like an unknown order. Anything else is an order id,
// which only a caller allowed to read every order may use: ids are
// sequential, so allowing them to anyone would let anyone read every
// customer's order.
func resolve(c *gin.Context, svc *tracking.Service) (target, error) {
	ctx := c.Request.Context()
	if p := c.Param("id"); strings.HasPrefix(p, events.TrackingCodePrefix) {
		id, err := svc.ByCode(ctx, p)
		return target{id: id, public: true}, err
	}
	if err := auth.Require(ctx, auth.ScopeRead); err != nil {
		return target{}, err
	}
	id, err := parseID(c)
	return target{id: id}, err
}

// handleRead serves a read of the order the path names (see resolve):
// load reads it, view is the answer for the caller. GET /track/:id answers
// the view its caller may have; GET /track/:id/history the same timeline
// to both, as a timeline holds no customer data.
func handleRead[T any](svc *tracking.Service, load func(context.Context, int64) (T, error), view func(target, T) any) httpapi.HandlerFunc {
	return func(c *gin.Context) error {
		t, err := resolve(c, svc)
		if err != nil {
			return err
		}
		v, err := load(c.Request.Context(), t.id)
		if err != nil {
			return err
		}
		httpapi.Encode(c, http.StatusOK, view(t, v))
		return nil
	}
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
