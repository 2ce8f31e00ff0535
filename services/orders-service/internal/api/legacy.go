package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// legacyOrder is an order as the original API wrote it.
type legacyOrder struct {
	ID int64 `json:"id"`
	// TrackingCode is new: the order's private tracking link.
	TrackingCode string        `json:"trackingCode"`
	CustomerName string        `json:"customerName"`
	Item         string        `json:"item"`
	Quantity     int           `json:"quantity"`
	Status       orders.Status `json:"status"`
	CreatedAt    time.Time     `json:"createdAt"`
}

func toLegacy(o orders.Order) legacyOrder {
	return legacyOrder{
		ID: o.ID, TrackingCode: o.TrackingCode, CustomerName: o.CustomerName, Item: o.Item, Quantity: o.Quantity,
		Status: o.Status, CreatedAt: o.CreatedAt.UTC(),
	}
}

// handleLegacyCreate serves POST /orders/createOrder, /orders/ and /orders.
func handleLegacyCreate(svc *orders.Service) httpapi.HandlerFunc {
	return func(c *gin.Context) error {
		return createOrder(c, svc, legacyShape, func(o orders.Order) orders.Receipt {
			return jsonReceipt(http.StatusCreated, toLegacy(o), nil)
		})
	}
}

// handleLegacyUpdateStatus serves PUT /orders/updateOrderStatus/:id?status=.
// A change answers 201, as the original did; asking for the status the order
// already has answers 200 and changes nothing.
func handleLegacyUpdateStatus(svc *orders.Service) httpapi.HandlerFunc {
	return func(c *gin.Context) error {
		who, err := caller(c.Request.Context())
		if err != nil {
			return err
		}
		id, err := parseID(c)
		if err != nil {
			return err
		}
		to, err := parseStatus(c.Query("status"))
		if err != nil {
			return err
		}
		o, changed, err := svc.UpdateStatus(c.Request.Context(), who, id, to, nil)
		if err != nil {
			return err
		}
		code := http.StatusOK
		if changed {
			code = http.StatusCreated
		}
		httpapi.Encode(c, code, toLegacy(o))
		return nil
	}
}

// handleLegacyList serves GET /orders/fetchAllOrders with optional exact-match
// filters id, customerName, item and status. An empty parameter is no filter,
// as Spring's optional @RequestParam binding treated it.
func handleLegacyList(svc *orders.Service) httpapi.HandlerFunc {
	return func(c *gin.Context) error {
		who, err := caller(c.Request.Context())
		if err != nil {
			return err
		}
		f, err := legacyFilter(c)
		if err != nil {
			return err
		}
		os, err := svc.List(c.Request.Context(), who, f)
		if err != nil {
			return err
		}
		// make, not a nil slice: clients expect [] rather than null.
		out := make([]legacyOrder, 0, len(os))
		for _, o := range os {
			out = append(out, toLegacy(o))
		}
		httpapi.Encode(c, http.StatusOK, out)
		return nil
	}
}

func legacyFilter(c *gin.Context) (orders.Filter, error) {
	f, err := commonFilter(c)
	if err != nil {
		return orders.Filter{}, err
	}
	if s := c.Query("id"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return orders.Filter{}, &orders.ValidationError{Fields: []orders.FieldError{{
				Field: "id", Message: "must be an integer, not " + strconv.Quote(s),
			}}}
		}
		f.ID = &id
	}
	return f, nil
}

// commonFilter reads the filters both list endpoints share.
func commonFilter(c *gin.Context) (orders.Filter, error) {
	var f orders.Filter
	var v orders.ValidationError
	if s := c.Query("customerName"); s != "" {
		checkStorable(&v, "customerName", s)
		f.CustomerName = &s
	}
	if s := c.Query("item"); s != "" {
		checkStorable(&v, "item", s)
		f.Item = &s
	}
	if s := c.Query("trackingCode"); s != "" {
		checkStorable(&v, "trackingCode", s)
		f.TrackingCode = &s
	}
	if err := v.OrNil(); err != nil {
		return orders.Filter{}, err
	}
	if s := c.Query("status"); s != "" {
		st, err := orders.ParseStatus(s)
		if err != nil {
			return orders.Filter{}, err
		}
		f.Status = &st
	}
	return f, nil
}
