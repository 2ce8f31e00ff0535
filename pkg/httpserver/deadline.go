package httpserver

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"
)

// unboundKey holds, in a request's gin keys, its context before deadline
// gave it one: what Unbounded follows for the client leaving.
const unboundKey = "httpserver.unbound"

// deadline gives each request's context a deadline d from now; 0 gives
// none.
func deadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		if d <= 0 {
			c.Next()
			return
		}
		orig := c.Request.Context()
		ctx, cancel := context.WithTimeout(orig, d)
		defer cancel()
		c.Set(unboundKey, orig)
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// Unbounded lifts the request deadline from c's request, for a handler
// that answers for as long as its client listens (an event stream) or
// streams an answer whose size the client chose (every order). The
// request's context keeps its values and still ends when the client
// leaves or the server shuts down. Call the returned function when the
// handler returns:
//
//	defer httpserver.Unbounded(c)()
func Unbounded(c *gin.Context) (release func()) {
	v, ok := c.Get(unboundKey)
	orig, isCtx := v.(context.Context)
	if !ok || !isCtx {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(c.Request.Context()))
	stop := context.AfterFunc(orig, cancel)
	c.Request = c.Request.WithContext(ctx)
	return func() {
		stop()
		cancel()
	}
}
