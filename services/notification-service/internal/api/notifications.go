package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/services/notification-service/internal/notify"
)

// handleList answers GET /notifications?orderId=N with the order's
// notifications, newest first, pending ones included (their status says
// so, and sentAt is null): an operator asking "was the customer told?"
// needs to see the attempt that is stuck too. No notifications is [].
func handleList(deliveries notify.DeliveryLog) httpapi.HandlerFunc {
	return func(c *gin.Context) error {
		orderID, err := parseOrderID(c.Query("orderId"))
		if err != nil {
			return err
		}
		list, err := deliveries.List(c, orderID)
		if err != nil {
			return err
		}
		httpapi.Encode(c, http.StatusOK, list)
		return nil
	}
}

// parseOrderID validates the orderId query parameter.
func parseOrderID(s string) (int64, error) {
	if s == "" {
		return 0, &httpapi.RequestError{Detail: "orderId is required"}
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, &httpapi.RequestError{Detail: "orderId must be a positive integer, got " + strconv.Quote(s)}
	}
	return id, nil
}
