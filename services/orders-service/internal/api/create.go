package api

import (
	"context"
	"encoding/json"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/auth"
	"github.com/order-tracking/platform/pkg/httpapi"

	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// createOrder is the create request common to both APIs, which differ only
// in how strictly the body is read and how the answer is written (the
// receipt). A retry with the same Idempotency-Key gets the first answer,
// byte for byte, marked Idempotent-Replayed.
func createOrder(c *gin.Context, svc *orders.Service, s shape, receipt func(orders.Order) orders.Receipt) error {
	who, err := caller(c.Request.Context())
	if err != nil {
		return err
	}
	if err := httpapi.RequireJSON(c); err != nil {
		return err
	}
	key, err := idempotencyKey(c.Request.Header)
	if err != nil {
		return err
	}
	n, err := decodeCreateOrder(body(c), s)
	if err != nil {
		return err
	}
	req := orders.CreateRequest{Order: n, Receipt: receipt}
	if key != "" {
		req.IdempotencyKey = key
		req.RequestHash = requestHash(n, s)
	}
	o, replay, err := svc.Create(c.Request.Context(), who, req)
	if err != nil {
		return err
	}
	r := replay
	if r == nil {
		first := receipt(o)
		r = &first
	} else {
		c.Header("Idempotent-Replayed", "true")
	}
	for k, v := range r.Header {
		c.Header(k, v)
	}
	c.Data(r.Status, httpapi.JSONContentType, r.Body)
	return nil
}

// jsonReceipt is the receipt of an answer with status and v as its JSON
// body, plus header.
func jsonReceipt(status int, v any, header map[string]string) orders.Receipt {
	body, err := json.Marshal(v)
	if err != nil {
		// Only this package's response types reach here, all of which
		// marshal; pkg/httpserver's recovery turns this into a logged 500.
		panic("cannot encode response: " + err.Error())
	}
	return orders.Receipt{Status: status, Header: header, Body: body}
}

// caller is who makes the request, as the domain knows callers: with auth
// off everyone may do everything; with auth on, a request without a token
// may do nothing here.
func caller(ctx context.Context) (orders.Caller, error) {
	p := auth.FromContext(ctx)
	switch {
	case p.Unrestricted():
		return orders.Anyone, nil
	case p.Anonymous():
		return orders.Caller{}, auth.Unauthenticated()
	}
	return orders.Caller{
		Subject: p.Subject, Customer: p.Customer(),
		ReadAny: p.Has(auth.ScopeRead), CreateForAny: p.Has(auth.ScopeWrite), ManageAny: p.Has(auth.ScopeManage),
	}, nil
}

// getOrder is svc.Get for the request's caller, in the shape httpapi.Read
// takes.
func getOrder(svc *orders.Service) func(context.Context, int64) (orders.Order, error) {
	return func(ctx context.Context, id int64) (orders.Order, error) {
		who, err := caller(ctx)
		if err != nil {
			return orders.Order{}, err
		}
		return svc.Get(ctx, who, id)
	}
}

// parseStatus reads a requested status; an absent one is "required" rather
// than an "unknown status """.
func parseStatus(s string) (orders.Status, error) {
	if s == "" {
		return "", &orders.ValidationError{Fields: []orders.FieldError{{Field: "status", Message: "is required"}}}
	}
	return orders.ParseStatus(s)
}
