package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/pkg/httpserver"
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
//
// It answers every matching order, as the original did, and streams them:
// each is written as it is read from the database, so memory stays flat
// however many orders there are. An error before the first order is
// answered like any other; after it, the status is out and the only honest
// answer left is a cut-off one (the connection is dropped, and the client
// sees a truncated array rather than a short list it would take for whole).
func handleLegacyList(svc *orders.Service, log *slog.Logger) httpapi.HandlerFunc {
	return func(c *gin.Context) error {
		who, err := caller(c.Request.Context())
		if err != nil {
			return err
		}
		f, err := legacyFilter(c)
		if err != nil {
			return err
		}
		// Every order may take longer than a request's deadline; each
		// page of them is bounded instead (see postgres.OrderStore.Each).
		defer httpserver.Unbounded(c)()
		w := arrayWriter{c: c}
		err = svc.Each(c.Request.Context(), who, f, func(o orders.Order) error { return w.add(toLegacy(o)) })
		switch {
		case err != nil && !w.started:
			return err
		case err != nil:
			log.ErrorContext(c.Request.Context(), "list cut off mid-answer", "path", c.Request.URL.Path, "err", err)
			panic(http.ErrAbortHandler)
		}
		w.close()
		return nil
	}
}

// arrayWriter writes a 200 JSON array one element at a time.
type arrayWriter struct {
	c       *gin.Context
	started bool
}

func (w *arrayWriter) add(v any) error {
	// Only this package's response types reach here, all of which marshal.
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cannot encode order: %w", err)
	}
	sep := ","
	if !w.started {
		w.c.Header("Content-Type", httpapi.JSONContentType)
		w.c.Status(http.StatusOK)
		w.started, sep = true, "["
	}
	if _, err := w.c.Writer.WriteString(sep); err != nil {
		return err
	}
	_, err = w.c.Writer.Write(b)
	return err
}

// close ends the array; an empty one is [] rather than null, as clients
// expect.
func (w *arrayWriter) close() {
	if !w.started {
		w.c.Data(http.StatusOK, httpapi.JSONContentType, []byte("[]"))
		return
	}
	_, _ = w.c.Writer.WriteString("]")
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
		if !events.ValidTrackingCode(s) {
			v.Add("trackingCode", "must be a tracking code: trk_ and 32 lowercase hex digits")
		}
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
