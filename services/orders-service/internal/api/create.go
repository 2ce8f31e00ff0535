package api

import (
	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// createOrder is the create request common to both APIs, which differ only
// in how strictly the body is read and how the answer is written.
func createOrder(c *gin.Context, svc *orders.Service, s shape) (orders.Order, bool, error) {
	key, err := idempotencyKey(c.Request.Header)
	if err != nil {
		return orders.Order{}, false, err
	}
	n, err := decodeCreateOrder(body(c), s)
	if err != nil {
		return orders.Order{}, false, err
	}
	req := orders.CreateRequest{Order: n}
	if key != "" {
		req.IdempotencyKey = key
		req.RequestHash = requestHash(n)
	}
	return svc.Create(c.Request.Context(), req)
}

// markReplayed tells the client that a create was answered from an earlier
// request with the same Idempotency-Key, not performed again.
func markReplayed(c *gin.Context, replayed bool) {
	if replayed {
		c.Header("Idempotent-Replayed", "true")
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
