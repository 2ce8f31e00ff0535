package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/httpapi"
)

// realm names the protection space in WWW-Authenticate challenges.
const realm = "order-tracking"

// Problem types of the refusals, beside the shared ones of httpapi.
const (
	problemUnauthorized = "/problems/unauthorized"
	problemForbidden    = "/problems/forbidden"
	problemIdPDown      = "/problems/identity-provider-unavailable"
)

// Authenticator turns a request's Authorization header into its Principal.
type Authenticator struct {
	verifier *Verifier // nil: auth is off
	log      *slog.Logger
}

// NewAuthenticator returns the Authenticator of cfg: with auth off, every
// request is Unrestricted, whatever it carries.
func NewAuthenticator(cfg Config, log *slog.Logger, opts VerifierOptions) *Authenticator {
	a := &Authenticator{log: log}
	if cfg.Enabled() {
		a.verifier = NewVerifier(cfg, opts)
	}
	return a
}

// Enabled reports whether a checks tokens (AUTH_MODE=jwt).
func (a *Authenticator) Enabled() bool { return a != nil && a.verifier != nil }

// Identify is a guard (see httpapi.Responder.Guard) recording who makes
// the request in its context, for handlers to read with FromContext. A
// request without an Authorization header is anonymous: routes decide
// whether that is enough. A header that is not a valid bearer token is
// refused with 401 at once, on every route, public ones included: a
// client sending a broken token should learn so rather than be served as
// someone else.
func (a *Authenticator) Identify(c *gin.Context) error {
	p := Unrestricted
	if a.verifier != nil {
		var err error
		if p, err = a.identify(c.Request); err != nil {
			return err
		}
	}
	c.Request = c.Request.WithContext(WithPrincipal(c.Request.Context(), p))
	return nil
}

func (a *Authenticator) identify(r *http.Request) (Principal, error) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return Principal{}, nil
	}
	scheme, raw, ok := strings.Cut(h[0], " ")
	if len(h) > 1 || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return Principal{}, unauthenticated("invalid_request", "the Authorization header must be one bearer token: Authorization: Bearer <token>")
	}
	p, err := a.verifier.Verify(r.Context(), strings.TrimSpace(raw))
	var bad *TokenError
	switch {
	case errors.As(err, &bad):
		return Principal{}, unauthenticated("invalid_token", "the bearer token is "+bad.Reason)
	case err != nil:
		a.log.ErrorContext(r.Context(), "cannot verify bearer token", "err", err)
		return Principal{}, &httpapi.StatusError{
			Status: http.StatusServiceUnavailable, Type: problemIdPDown, Title: "Identity provider unavailable",
			Detail: "the token cannot be checked now: the identity provider is out of reach; retry later",
			Header: httpapi.RetryAfter(httpapi.DefaultRetryAfter),
		}
	}
	return p, nil
}

// Require returns nil when ctx's principal was granted scope, a 401 when
// it is anonymous, and a 403 naming the scope otherwise.
func Require(ctx context.Context, scope string) error {
	p := FromContext(ctx)
	switch {
	case p.Has(scope):
		return nil
	case p.Anonymous():
		return Unauthenticated()
	}
	return &httpapi.StatusError{
		Status: http.StatusForbidden, Type: problemForbidden, Title: "Forbidden",
		Detail: "this request needs a token with the scope " + scope,
		Header: http.Header{"Www-Authenticate": {`Bearer realm="` + realm + `", error="insufficient_scope", scope="` + scope + `"`}},
	}
}

// RequireScope is a guard refusing a route to every principal without
// scope (see Require).
func RequireScope(scope string) httpapi.HandlerFunc {
	return func(c *gin.Context) error { return Require(c.Request.Context(), scope) }
}

// Unauthenticated is the 401 of a request that needs a token and sent
// none.
func Unauthenticated() error {
	return unauthenticated("", "this request needs a bearer token: Authorization: Bearer <token>")
}

// unauthenticated is a 401 whose challenge carries the RFC 6750 error
// code, when there is one (none when no token was sent at all).
func unauthenticated(code, detail string) error {
	challenge := `Bearer realm="` + realm + `"`
	if code != "" {
		challenge += `, error="` + code + `", error_description="` + strings.ReplaceAll(detail, `"`, `'`) + `"`
	}
	return &httpapi.StatusError{
		Status: http.StatusUnauthorized, Type: problemUnauthorized, Title: "Unauthorized", Detail: detail,
		Header: http.Header{"Www-Authenticate": {challenge}},
	}
}
