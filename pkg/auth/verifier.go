package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// algorithms are the signatures accepted. Parsing refuses every other
// alg before any key is looked at: "none", and HS256 (whose "secret" an
// attacker would take from the public key set).
var algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// Defaults of VerifierOptions.
const (
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultMinRefresh is the least time between two fetches of the key
	// set. A token naming an unknown key id triggers a fetch (the issuer
	// may have rotated its keys); this bound stops a flood of made-up key
	// ids from turning into a flood of requests to the issuer.
	DefaultMinRefresh = 10 * time.Second
	// DefaultMaxKeyAge is how long fetched keys are used before they are
	// fetched again, so that a key the issuer withdrew stops being trusted.
	DefaultMaxKeyAge = time.Hour
	// fetchTimeout bounds each request to the issuer: a token is checked
	// while its client waits.
	fetchTimeout = 5 * time.Second
	// maxDocumentBytes caps what is read of a discovery document or key set.
	maxDocumentBytes = 1 << 20
)

// ErrUnavailable is wrapped by the errors of an issuer that cannot be
// reached or answers nonsense: the token may be fine, nobody can tell now.
var ErrUnavailable = errors.New("identity provider unavailable")

// TokenError is a token refused: malformed, badly signed, expired, not
// yet valid, or issued by or for someone else. Reason is safe to show.
type TokenError struct {
	Reason string
}

func (e *TokenError) Error() string { return "invalid token: " + e.Reason }

// VerifierOptions tunes a Verifier; the zero value is usable.
type VerifierOptions struct {
	// HTTPClient fetches the discovery document and key set; default a
	// client with a 5s timeout.
	HTTPClient *http.Client
	// Leeway is the clock skew tolerated; default DefaultLeeway.
	Leeway time.Duration
	// MinRefresh is the least time between key set fetches; default
	// DefaultMinRefresh. Negative means no bound (tests).
	MinRefresh time.Duration
	// MaxKeyAge is how long fetched keys are trusted; default
	// DefaultMaxKeyAge.
	MaxKeyAge time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Verifier checks bearer tokens against one issuer and audience. The
// issuer's discovery document and key set are fetched on first use, not at
// start, so that a service comes up (and answers 503 for tokens) while the
// issuer is unreachable, and the key set is fetched again when a token
// names a key it does not hold. Safe for concurrent use.
type Verifier struct {
	issuer, audience string
	client           *http.Client
	leeway           time.Duration
	minRefresh       time.Duration
	maxKeyAge        time.Duration
	now              func() time.Time

	// fetchMu serialises fetches: concurrent requests that all miss a key
	// wait for one fetch instead of each making their own.
	fetchMu sync.Mutex
	// mu guards the fields below.
	mu        sync.Mutex
	discovery *discovery
	keys      []jose.JSONWebKey
	fetchedAt time.Time // of keys
	triedAt   time.Time // last fetch attempt, failed or not
	lastErr   error     // of that attempt
}

// discovery is the part of an OIDC discovery document the platform uses.
type discovery struct {
	Issuer        string `json:"issuer"`
	JWKSURI       string `json:"jwks_uri"`
	TokenEndpoint string `json:"token_endpoint"`
}

// NewVerifier returns a Verifier of cfg's issuer and audience.
func NewVerifier(cfg Config, opts VerifierOptions) *Verifier {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: fetchTimeout}
	}
	if opts.Leeway == 0 {
		opts.Leeway = DefaultLeeway
	}
	if opts.MinRefresh == 0 {
		opts.MinRefresh = DefaultMinRefresh
	}
	if opts.MaxKeyAge == 0 {
		opts.MaxKeyAge = DefaultMaxKeyAge
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Verifier{
		issuer: cfg.IssuerURL, audience: cfg.Audience, client: opts.HTTPClient,
		leeway: opts.Leeway, minRefresh: opts.MinRefresh, maxKeyAge: opts.MaxKeyAge, now: opts.Now,
	}
}

// claims are the claims read beyond the registered ones.
type claims struct {
	// Scope is the space-separated scope claim of RFC 8693 / RFC 9068.
	Scope string `json:"scope"`
}

// Verify checks raw and returns who it identifies. Its errors are a
// *TokenError or wrap ErrUnavailable.
func (v *Verifier) Verify(ctx context.Context, raw string) (Principal, error) {
	tok, err := jwt.ParseSigned(raw, algorithms)
	if err != nil {
		return Principal{}, &TokenError{Reason: "not a JWT signed with RS256 or ES256"}
	}
	if len(tok.Headers) != 1 {
		return Principal{}, &TokenError{Reason: "must carry exactly one signature"}
	}
	h := tok.Headers[0]
	keys, err := v.keysFor(ctx, h.KeyID, h.Algorithm)
	if err != nil {
		return Principal{}, err
	}
	var std jwt.Claims
	var extra claims
	verified := false
	for _, k := range keys {
		if err := tok.Claims(k.Key, &std, &extra); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return Principal{}, &TokenError{Reason: "signature does not verify with the issuer's keys"}
	}
	if std.Expiry == nil {
		return Principal{}, &TokenError{Reason: "has no expiry (exp)"}
	}
	err = std.ValidateWithLeeway(jwt.Expected{
		Issuer: v.issuer, AnyAudience: jwt.Audience{v.audience}, Time: v.now(),
	}, v.leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return Principal{}, &TokenError{Reason: "expired"}
	case errors.Is(err, jwt.ErrNotValidYet):
		return Principal{}, &TokenError{Reason: "not valid yet (nbf)"}
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return Principal{}, &TokenError{Reason: "issued in the future (iat)"}
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return Principal{}, &TokenError{Reason: "issued by another issuer"}
	case errors.Is(err, jwt.ErrInvalidAudience):
		return Principal{}, &TokenError{Reason: "issued for another audience"}
	case err != nil:
		return Principal{}, &TokenError{Reason: "claims are invalid"}
	}
	if std.Subject == "" {
		return Principal{}, &TokenError{Reason: "has no subject (sub)"}
	}
	return Principal{Subject: std.Subject, Scopes: parseScopes(extra.Scope)}, nil
}

// keysFor returns the keys a token with key id kid and algorithm alg may
// be signed with, fetching the key set first when none is held, when it is
// old, or when kid names no key held (the issuer may have rotated). A
// token without kid may be signed by any key of its algorithm.
func (v *Verifier) keysFor(ctx context.Context, kid, alg string) ([]jose.JSONWebKey, error) {
	v.mu.Lock()
	keys, fetchedAt := v.keys, v.fetchedAt
	v.mu.Unlock()
	found := matching(keys, kid, alg)
	if len(found) > 0 && v.now().Sub(fetchedAt) < v.maxKeyAge {
		return found, nil
	}
	err := v.refresh(ctx)
	v.mu.Lock()
	keys = v.keys
	v.mu.Unlock()
	if found = matching(keys, kid, alg); len(found) > 0 {
		// Old keys stay in use while the issuer cannot be reached: a
		// service should not fail every request because its issuer is
		// briefly away.
		return found, nil
	}
	if err != nil && len(keys) == 0 {
		return nil, err
	}
	return nil, &TokenError{Reason: "signed with a key the issuer does not publish (kid " + quote(kid) + ")"}
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// refresh fetches the key set (and the discovery document, the first
// time), at most once per MinRefresh: a caller that comes sooner gets the
// outcome of the last fetch, and finds the keys it fetched.
func (v *Verifier) refresh(ctx context.Context) error {
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	v.mu.Lock()
	tried, lastErr := v.triedAt, v.lastErr
	v.mu.Unlock()
	if !tried.IsZero() && v.minRefresh > 0 && v.now().Sub(tried) < v.minRefresh {
		return lastErr
	}
	keys, err := v.fetch(ctx)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.triedAt, v.lastErr = v.now(), err
	if err == nil {
		v.keys, v.fetchedAt = keys, v.now()
	}
	return err
}

func (v *Verifier) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	d, err := v.discover(ctx)
	if err != nil {
		return nil, err
	}
	return v.fetchKeys(ctx, d.JWKSURI)
}

// discover returns the issuer's discovery document, fetched once. Its
// issuer must be the configured one exactly (OIDC Discovery §4.3), or a
// document served elsewhere could name keys of its choosing.
func (v *Verifier) discover(ctx context.Context) (*discovery, error) {
	v.mu.Lock()
	d := v.discovery
	v.mu.Unlock()
	if d != nil {
		return d, nil
	}
	u := strings.TrimSuffix(v.issuer, "/") + "/.well-known/openid-configuration"
	d = &discovery{}
	if err := v.getJSON(ctx, u, d); err != nil {
		return nil, err
	}
	if d.Issuer != v.issuer {
		return nil, fmt.Errorf("%w: discovery document at %s names issuer %q, not %q", ErrUnavailable, u, d.Issuer, v.issuer)
	}
	if checkURL(d.JWKSURI) != nil {
		return nil, fmt.Errorf("%w: discovery document at %s has no valid jwks_uri", ErrUnavailable, u)
	}
	v.mu.Lock()
	v.discovery = d
	v.mu.Unlock()
	return d, nil
}

// fetchKeys reads a JWK set, keeping the public RSA and P-256 signing keys
// and skipping the rest (a key of a type this package cannot read does not
// make the whole set unusable).
func (v *Verifier) fetchKeys(ctx context.Context, u string) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := v.getJSON(ctx, u, &set); err != nil {
		return nil, err
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil || !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		switch pk := k.Key.(type) {
		case *rsa.PublicKey:
		case *ecdsa.PublicKey:
			if pk.Curve != elliptic.P256() {
				continue
			}
		default:
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: key set at %s holds no RSA or P-256 signing key", ErrUnavailable, u)
	}
	return keys, nil
}

func (v *Verifier) getJSON(ctx context.Context, u string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: cannot build request for %s: %w", ErrUnavailable, u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: cannot fetch %s: %w", ErrUnavailable, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered %s", ErrUnavailable, u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes))
	if err != nil {
		return fmt.Errorf("%w: cannot read %s: %w", ErrUnavailable, u, err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%w: %s is not JSON: %w", ErrUnavailable, u, err)
	}
	return nil
}

// matching returns the keys that may have signed a token with key id kid
// and algorithm alg.
func matching(keys []jose.JSONWebKey, kid, alg string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != alg {
			continue
		}
		switch k.Key.(type) {
		case *rsa.PublicKey:
			if alg != string(jose.RS256) {
				continue
			}
		case *ecdsa.PublicKey:
			if alg != string(jose.ES256) {
				continue
			}
		}
		out = append(out, k)
	}
	return out
}
