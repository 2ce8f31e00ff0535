// Package guard is what every public route of a service passes before its
// handler: who is calling (pkg/auth) and whether it is calling too often
// (pkg/ratelimit), answered in the route group's error shape.
package guard

import (
	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/auth"
	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/pkg/ratelimit"
)

// Guards are a service's checks of its public routes. The zero value lets
// every request through as auth.Unrestricted, unlimited: what handler
// tests that are not about access want.
type Guards struct {
	// Auth identifies the caller; nil treats every request as
	// auth.Unrestricted.
	Auth *auth.Authenticator
	// Limiter charges each request to its caller; nil does not limit.
	Limiter *ratelimit.Limiter
}

// AuthEnabled reports whether callers must identify themselves, for what
// describes the API (an OpenAPI document's security requirement).
func (g Guards) AuthEnabled() bool { return g.Auth.Enabled() }

// For returns the middleware of a route group whose errors r answers:
// identify the caller, then charge it. Identification comes first so that
// an identified caller is charged by its subject wherever it connects
// from; a request whose token is refused is charged to its address, so
// that a flood of bad tokens is limited like any other.
func (g Guards) For(r httpapi.Responder) []gin.HandlerFunc {
	identify := func(c *gin.Context) error {
		c.Request = c.Request.WithContext(auth.WithPrincipal(c.Request.Context(), auth.Unrestricted))
		return nil
	}
	if g.Auth != nil {
		identify = g.Auth.Identify
	}
	return []gin.HandlerFunc{r.Guard(func(c *gin.Context) error {
		if err := identify(c); err != nil {
			if limited := g.Limiter.Guard(c); limited != nil {
				return limited
			}
			return err
		}
		return g.Limiter.Guard(c)
	})}
}
