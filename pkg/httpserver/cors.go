package httpserver

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// CORS answers (Fetch standard): what a page from an allowed origin may send
// and read. Authorization, not cookies, carries identity here, so
// credentials are never allowed.
const (
	corsAllowMethods  = "GET, POST, PUT, PATCH, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, Idempotency-Key, If-Match, Last-Event-ID, X-Request-ID"
	corsExposeHeaders = "ETag, Location, Idempotent-Replayed, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-Request-ID"
	corsMaxAge        = "600"
)

// cors lets pages from origins call the API from a browser, and no others:
// without origins it does nothing, and a browser keeps every cross-origin
// page from reading an answer or sending a preflighted request (any JSON
// body, any Authorization header).
func cors(origins []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if len(origins) == 0 || origin == "" {
			c.Next()
			return
		}
		h := c.Writer.Header()
		h.Add("Vary", "Origin")
		if !slices.Contains(origins, origin) && !slices.Contains(origins, "*") {
			c.Next()
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		c.Next()
	}
}

// validOrigin accepts "*" and scheme://host[:port] with nothing after it.
func validOrigin(o string) bool {
	if o == "*" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.User == nil && !strings.HasSuffix(o, "/")
}

func validProxy(p string) bool {
	if net.ParseIP(p) != nil {
		return true
	}
	_, _, err := net.ParseCIDR(p)
	return err == nil
}
