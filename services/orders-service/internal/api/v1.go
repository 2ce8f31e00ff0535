package api

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// Page sizes of GET /api/v1/orders.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// order is an order as the v1 API writes it: the legacy fields plus the
// version its ETag and If-Match refer to.
type order struct {
	ID           int64  `json:"id"`
	TrackingCode string `json:"trackingCode"`
	// Owner is the subject of the customer the order belongs to; absent
	// for orders placed with auth off.
	Owner        string        `json:"owner,omitempty"`
	CustomerName string        `json:"customerName"`
	Item         string        `json:"item"`
	Quantity     int           `json:"quantity"`
	Status       orders.Status `json:"status"`
	Version      int64         `json:"version"`
	CreatedAt    time.Time     `json:"createdAt"`
	UpdatedAt    time.Time     `json:"updatedAt"`
}

func toV1(o orders.Order) order {
	return order{
		ID: o.ID, TrackingCode: o.TrackingCode, Owner: o.Owner, CustomerName: o.CustomerName, Item: o.Item, Quantity: o.Quantity,
		Status: o.Status, Version: o.Version, CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC(),
	}
}

// orderPage is one page of GET /api/v1/orders.
type orderPage struct {
	Items []order `json:"items"`
	// NextCursor fetches the following page; it is absent on the last one.
	NextCursor string `json:"nextCursor,omitempty"`
}

// etag is the strong entity tag of o: its version, which changes with every
// write.
func etag(o orders.Order) string { return `"` + strconv.FormatInt(o.Version, 10) + `"` }

// handleCreate serves POST /api/v1/orders.
func handleCreate(svc *orders.Service) httpapi.HandlerFunc {
	return func(c *gin.Context) error {
		return createOrder(c, svc, v1Shape, func(o orders.Order) orders.Receipt {
			return jsonReceipt(http.StatusCreated, toV1(o), map[string]string{
				"Location": "/api/v1/orders/" + strconv.FormatInt(o.ID, 10),
				"ETag":     etag(o),
			})
		})
	}
}

// handleGet serves GET /api/v1/orders/:id.
func handleGet(svc *orders.Service) httpapi.HandlerFunc {
	get := getOrder(svc)
	return func(c *gin.Context) error {
		id, err := parseID(c)
		if err != nil {
			return err
		}
		o, err := get(c.Request.Context(), id)
		if err != nil {
			return err
		}
		c.Header("ETag", etag(o))
		httpapi.Encode(c, http.StatusOK, toV1(o))
		return nil
	}
}

// statusChange is one entry of GET /api/v1/orders/{id}/history, in the
// shape of tracking-service's GET /track/{id}/history.
type historyEntry struct {
	Status  orders.Status `json:"status"`
	At      time.Time     `json:"at"`
	Version int64         `json:"version"`
}

// handleHistory serves GET /api/v1/orders/:id/history: the order's status
// timeline, oldest first, from which tracking-service rebuilds its own.
func handleHistory(svc *orders.Service) httpapi.HandlerFunc {
	return func(c *gin.Context) error {
		who, err := caller(c.Request.Context())
		if err != nil {
			return err
		}
		id, err := parseID(c)
		if err != nil {
			return err
		}
		h, err := svc.History(c.Request.Context(), who, id)
		if err != nil {
			return err
		}
		out := make([]historyEntry, len(h))
		for i, e := range h {
			out[i] = historyEntry{Status: e.Status, At: e.At.UTC(), Version: e.Version}
		}
		httpapi.Encode(c, http.StatusOK, out)
		return nil
	}
}

// handleList serves GET /api/v1/orders, paginated by id: the cursor is the
// last id of the previous page, so pages stay stable while orders are added.
func handleList(svc *orders.Service) httpapi.HandlerFunc {
	return func(c *gin.Context) error {
		who, err := caller(c.Request.Context())
		if err != nil {
			return err
		}
		f, err := commonFilter(c)
		if err != nil {
			return err
		}
		limit, err := parseLimit(c.Query("limit"))
		if err != nil {
			return err
		}
		if f.After, err = parseCursor(c.Query("cursor")); err != nil {
			return err
		}
		if s := c.Query("updatedSince"); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return &orders.ValidationError{Fields: []orders.FieldError{{
					Field: "updatedSince", Message: "must be an RFC 3339 time such as 2026-01-02T15:04:05Z",
				}}}
			}
			f.UpdatedSince = &t
		}
		// One extra row tells whether another page follows without a count.
		f.Limit = limit + 1
		os, err := svc.List(c.Request.Context(), who, f)
		if err != nil {
			return err
		}
		page := orderPage{Items: make([]order, 0, min(len(os), limit))}
		if len(os) > limit {
			os = os[:limit]
			page.NextCursor = encodeCursor(os[limit-1].ID)
		}
		for _, o := range os {
			page.Items = append(page.Items, toV1(o))
		}
		httpapi.Encode(c, http.StatusOK, page)
		return nil
	}
}

// statusChange is the body of PATCH /api/v1/orders/:id/status.
type statusChange struct {
	Status *string `json:"status"`
}

// handleUpdateStatus serves PATCH /api/v1/orders/:id/status. With If-Match
// the change happens only if the order is still at that version (412
// otherwise), so two clients cannot overwrite each other unknowingly.
func handleUpdateStatus(svc *orders.Service) httpapi.HandlerFunc {
	return func(c *gin.Context) error {
		who, err := caller(c.Request.Context())
		if err != nil {
			return err
		}
		id, err := parseID(c)
		if err != nil {
			return err
		}
		ifVersion, err := parseIfMatch(c.Request.Header)
		if err != nil {
			return err
		}
		if err := httpapi.RequireJSON(c); err != nil {
			return err
		}
		var req statusChange
		if err := decode(c, &req, true); err != nil {
			return err
		}
		var to orders.Status
		if req.Status == nil {
			to, err = parseStatus("")
		} else {
			to, err = orders.ParseStatus(*req.Status)
		}
		if err != nil {
			return err
		}
		o, _, err := svc.UpdateStatus(c.Request.Context(), who, id, to, ifVersion)
		if err != nil {
			return err
		}
		c.Header("ETag", etag(o))
		httpapi.Encode(c, http.StatusOK, toV1(o))
		return nil
	}
}

// parseIfMatch returns the version an If-Match header requires, nil when
// there is no header or it is "*" (any current version). Our ETags are single
// strong tags of a version, as etag writes them, so anything else (weak tags,
// lists, signs, leading zeros) was not issued by us and is refused as
// malformed rather than silently ignored. A version has at most
// maxVersionDigits digits: openapi.json says so, and it holds every version
// an order can reach (one per change) while any such number fits an int64.
func parseIfMatch(h http.Header) (*int64, error) {
	vals := h.Values("If-Match")
	if len(vals) == 0 {
		return nil, nil
	}
	v := strings.TrimSpace(vals[0])
	if len(vals) == 1 && v == "*" {
		return nil, nil
	}
	if len(vals) == 1 && len(v) >= 3 && v[0] == '"' && v[len(v)-1] == '"' {
		if digits := v[1 : len(v)-1]; len(digits) <= maxVersionDigits && digits[0] != '0' && allDigits(digits) {
			n, _ := strconv.ParseInt(digits, 10, 64) // at most 18 digits: it fits
			return &n, nil
		}
	}
	return nil, &orders.ValidationError{Fields: []orders.FieldError{{
		Field: "If-Match", Message: `must be an ETag of this API such as "3", or *`,
	}}}
}

// maxVersionDigits bounds the digits of a version in an If-Match.
const maxVersionDigits = 18

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseLimit(s string) (int, error) {
	if s == "" {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, &orders.ValidationError{Fields: []orders.FieldError{{
			Field: "limit", Message: "must be an integer from 1 to " + strconv.Itoa(maxPageSize),
		}}}
	}
	return n, nil
}

// Cursors are opaque to clients so that the keyset behind them can change;
// today one is the last id of the previous page.
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

func parseCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		var id int64
		if id, err = strconv.ParseInt(string(raw), 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, &orders.ValidationError{Fields: []orders.FieldError{{
		Field: "cursor", Message: "is not a cursor returned by this API",
	}}}
}
