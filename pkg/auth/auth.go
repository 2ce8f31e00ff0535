// Package auth is who is calling: OAuth 2.0 bearer tokens (OIDC JWTs)
// checked against the issuer's published keys, the permissions their scopes
// grant, and the client-credentials token a service calls another with.
//
// Tokens are verified with github.com/go-jose/go-jose/v4 rather than with
// go-oidc's verifier (which is built on it): go-oidc has no leeway on
// expiry and a fixed five minutes on nbf, refetches the key set for every
// token naming an unknown key id with no bound on how often, and formats
// its errors with %v, so that "the issuer is unreachable" (a 503) cannot be
// told from "the token is bad" (a 401). Discovery is one GET of a JSON
// document and is done here too.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// The scopes this platform grants rights by. A token carrying none of them
// is a customer's, identified by its subject.
const (
	// ScopeRead reads any order, every list, and notifications.
	ScopeRead = "orders:read"
	// ScopeWrite creates orders on behalf of any customer: a shop's backend.
	ScopeWrite = "orders:write"
	// ScopeManage changes any order's status: operations, carriers.
	ScopeManage = "orders:manage"
)

// Modes of AUTH_MODE.
const (
	// ModeJWT requires a valid bearer token wherever a right is needed.
	ModeJWT = "jwt"
	// ModeOff lets every caller do everything, as the original system did.
	ModeOff = "off"
)

// Config is how a service checks tokens.
type Config struct {
	// Mode is jwt (the default) or off.
	Mode string `env:"AUTH_MODE"`
	// IssuerURL is the OIDC issuer; its discovery document
	// ({IssuerURL}/.well-known/openid-configuration) names the key set.
	// Tokens must carry exactly this iss.
	IssuerURL string `env:"OIDC_ISSUER_URL"`
	// Audience must be among a token's aud.
	Audience string `env:"OIDC_AUDIENCE"`
}

// SetDefaults makes authentication required: a deployment that forgets to
// configure it does not start, rather than start open.
func (c *Config) SetDefaults() {
	c.Mode = ModeJWT
	c.Audience = "order-tracking"
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	switch c.Mode {
	case ModeOff:
	case ModeJWT:
		if c.IssuerURL == "" {
			errs = append(errs, errors.New("OIDC_ISSUER_URL is required when AUTH_MODE=jwt: set it to your OIDC issuer, or set AUTH_MODE=off to run without authentication"))
		} else if err := checkURL(c.IssuerURL); err != nil {
			errs = append(errs, fmt.Errorf("OIDC_ISSUER_URL: %w", err))
		}
		if c.Audience == "" {
			errs = append(errs, errors.New("OIDC_AUDIENCE must not be empty when AUTH_MODE=jwt"))
		}
	default:
		errs = append(errs, fmt.Errorf("AUTH_MODE must be jwt or off, got %q", c.Mode))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid auth config: %w", err)
	}
	return nil
}

// Enabled reports whether tokens are checked.
func (c Config) Enabled() bool { return c.Mode == ModeJWT }

// OffWarning is what a service logs once at start when auth is off, so
// that an exposed instance running open is noticed in its first log lines.
const OffWarning = "AUTH_MODE=off: authentication is disabled and every caller may read and change every order; never expose this instance"

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http(s) URL, got %q", s)
	}
	return nil
}

// Principal is who made a request: anonymous, a customer (a subject
// without any of the platform's scopes), or a client with scopes. With auth
// off every request is made by Unrestricted.
type Principal struct {
	// Subject is the token's sub; empty for anonymous and Unrestricted.
	Subject string
	// Scopes are the platform's scopes the token carries.
	Scopes []string
	// all grants every right: auth is off.
	all bool
}

// Unrestricted is the principal of every request when auth is off.
var Unrestricted = Principal{all: true}

// Anonymous reports whether p carries no identity: no token was sent.
func (p Principal) Anonymous() bool { return !p.all && p.Subject == "" }

// Unrestricted reports whether p may do everything: auth is off.
func (p Principal) Unrestricted() bool { return p.all }

// Has reports whether p was granted scope.
func (p Principal) Has(scope string) bool { return p.all || slices.Contains(p.Scopes, scope) }

// Customer reports whether p is a customer: identified, with none of the
// platform's scopes.
func (p Principal) Customer() bool { return !p.all && p.Subject != "" && len(p.Scopes) == 0 }

// parseScopes keeps the platform's scopes out of a space-separated scope
// claim; other scopes (openid, profile, ...) grant nothing here.
func parseScopes(claim string) []string {
	var out []string
	for _, s := range strings.Fields(claim) {
		if (s == ScopeRead || s == ScopeWrite || s == ScopeManage) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal of ctx's request; anonymous when none
// was recorded, so that a route someone forgot to guard grants nothing.
func FromContext(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}
