package auth_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/auth"
	"github.com/order-tracking/platform/pkg/auth/authtest"
	"github.com/order-tracking/platform/pkg/httpapi"
)

// clock is a settable offset from the real time, so that a test can move
// a verifier past its refresh bound without sleeping.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// newHandler serves GET /who, which answers the request's principal, and
// GET /read, which needs orders:read, behind a's Identify guard.
func newHandler(a *auth.Authenticator) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	resp := httpapi.Responder{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Render: httpapi.ProblemJSON}
	g := r.Group("", resp.Guard(a.Identify))
	g.GET("/who", func(c *gin.Context) {
		p := auth.FromContext(c.Request.Context())
		httpapi.Encode(c, http.StatusOK, map[string]any{
			"sub": p.Subject, "scopes": p.Scopes, "anonymous": p.Anonymous(), "customer": p.Customer(), "all": p.Unrestricted(),
		})
	})
	g.GET("/read", resp.Guard(auth.RequireScope(auth.ScopeRead)), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	return r
}

func call(t *testing.T, h http.Handler, path, authorization string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func newAuthenticator(iss *authtest.Issuer, c *clock) *auth.Authenticator {
	cfg := auth.Config{Mode: auth.ModeJWT, IssuerURL: iss.URL, Audience: authtest.Audience}
	return auth.NewAuthenticator(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), auth.VerifierOptions{Now: c.now})
}

func TestTokens(t *testing.T) {
	iss := authtest.New(t)
	h := newHandler(newAuthenticator(iss, &clock{}))
	hour := time.Hour
	tests := []struct {
		name          string
		authorization string
		path          string
		wantStatus    int
		// wantChallenge is a part of WWW-Authenticate; wantBody of the body.
		wantChallenge, wantBody string
	}{
		{name: "RS256 customer", authorization: "Bearer " + iss.Token("alice"), path: "/who",
			wantStatus: 200, wantBody: `"customer":true,"scopes":null,"sub":"alice"`},
		{name: "ES256 with scopes", path: "/who", wantStatus: 200, wantBody: `"customer":false,"scopes":["orders:read","orders:manage"],"sub":"ops"`,
			authorization: "Bearer " + iss.Sign(t, authtest.Claims{Subject: "ops", Scope: "openid orders:read profile orders:manage"}, authtest.SignOptions{ES256: true})},
		{name: "scheme is case-insensitive", authorization: "bearer " + iss.Token("alice"), path: "/who", wantStatus: 200, wantBody: `"sub":"alice"`},
		{name: "no token is anonymous", path: "/who", wantStatus: 200, wantBody: `"anonymous":true`},
		{name: "anonymous needs a token", path: "/read", wantStatus: 401, wantChallenge: `Bearer realm="order-tracking"`},
		{name: "scope missing", path: "/read", authorization: "Bearer " + iss.Token("alice"),
			wantStatus: 403, wantChallenge: `error="insufficient_scope", scope="orders:read"`},
		{name: "scope present", path: "/read", authorization: "Bearer " + iss.Token("ops", auth.ScopeRead), wantStatus: 204},
		{name: "expired", wantStatus: 401, wantChallenge: `error="invalid_token"`, wantBody: "expired",
			authorization: "Bearer " + iss.Sign(t, authtest.Claims{Subject: "alice", Expiry: time.Now().Add(-hour)}, authtest.SignOptions{})},
		{name: "expired within the leeway", wantStatus: 200,
			authorization: "Bearer " + iss.Sign(t, authtest.Claims{Subject: "alice", Expiry: time.Now().Add(-5 * time.Second)}, authtest.SignOptions{})},
		{name: "not yet valid", wantStatus: 401, wantChallenge: `error="invalid_token"`, wantBody: "not valid yet",
			authorization: "Bearer " + iss.Sign(t, authtest.Claims{Subject: "alice", NotBefore: time.Now().Add(hour), Expiry: time.Now().Add(2 * hour)}, authtest.SignOptions{})},
		{name: "wrong audience", wantStatus: 401, wantChallenge: `error="invalid_token"`, wantBody: "another audience",
			authorization: "Bearer " + iss.Sign(t, authtest.Claims{Subject: "alice", Audience: []string{"billing"}}, authtest.SignOptions{})},
		{name: "audience among several", wantStatus: 200,
			authorization: "Bearer " + iss.Sign(t, authtest.Claims{Subject: "alice", Audience: []string{"billing", authtest.Audience}}, authtest.SignOptions{})},
		{name: "wrong issuer", wantStatus: 401, wantChallenge: `error="invalid_token"`, wantBody: "another issuer",
			authorization: "Bearer " + iss.Sign(t, authtest.Claims{Subject: "alice", Issuer: "https://evil.example"}, authtest.SignOptions{})},
		{name: "no expiry", wantStatus: 401, wantBody: "no expiry",
			authorization: "Bearer " + iss.Sign(t, authtest.Claims{Subject: "alice", NoExpiry: true}, authtest.SignOptions{})},
		{name: "no subject", wantStatus: 401, wantBody: "no subject",
			authorization: "Bearer " + iss.Sign(t, authtest.Claims{Scope: auth.ScopeRead}, authtest.SignOptions{})},
		{name: "unknown key", wantStatus: 401, wantChallenge: `error="invalid_token"`, wantBody: "does not publish",
			authorization: "Bearer " + iss.Sign(t, authtest.Claims{Subject: "alice"}, authtest.SignOptions{Unpublished: true})},
		{name: "unknown P-256 key", wantStatus: 401, wantBody: "does not publish",
			authorization: "Bearer " + iss.Sign(t, authtest.Claims{Subject: "alice"}, authtest.SignOptions{Unpublished: true, ES256: true})},
		{name: "alg none", wantStatus: 401, wantChallenge: `error="invalid_token"`,
			authorization: "Bearer " + iss.Forge(t, "none", authtest.Claims{Subject: "alice", Scope: auth.ScopeManage})},
		{name: "HS256 keyed with the public key", wantStatus: 401, wantChallenge: `error="invalid_token"`,
			authorization: "Bearer " + iss.Forge(t, "HS256", authtest.Claims{Subject: "alice", Scope: auth.ScopeManage})},
		{name: "garbage", authorization: "Bearer abc.def.ghi", wantStatus: 401, wantChallenge: `error="invalid_token"`},
		{name: "not a bearer token", authorization: "Basic YWxpY2U6c2VjcmV0", wantStatus: 401, wantChallenge: `error="invalid_request"`},
		{name: "bearer without a token", authorization: "Bearer ", wantStatus: 401, wantChallenge: `error="invalid_request"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/who"
			}
			rec := call(t, h, path, tc.authorization)
			if rec.Code != tc.wantStatus {
				t.Fatalf("got status %d (%s), want %d", rec.Code, rec.Body, tc.wantStatus)
			}
			if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, tc.wantChallenge) || (tc.wantChallenge == "" && got != "" && rec.Code < 400) {
				t.Errorf("got WWW-Authenticate %q, want it to contain %q", got, tc.wantChallenge)
			}
			if rec.Code == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("got WWW-Authenticate %q on a 401, want a Bearer challenge", rec.Header().Get("WWW-Authenticate"))
			}
			if !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("got body %s, want it to contain %s", rec.Body, tc.wantBody)
			}
			if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("got Content-Type %q, want application/problem+json", rec.Header().Get("Content-Type"))
			}
		})
	}
}

// TestKeyRotation: a token signed with a key published after the keys were
// fetched is accepted once the issuer publishes it; key ids nobody
// publishes do not make the verifier fetch the key set more than once per
// refresh interval.
func TestKeyRotation(t *testing.T) {
	iss := authtest.New(t)
	c := &clock{}
	h := newHandler(newAuthenticator(iss, c))
	if rec := call(t, h, "/who", "Bearer "+iss.Token("alice")); rec.Code != 200 {
		t.Fatalf("before rotation: got %d, want 200", rec.Code)
	}
	fetches := iss.JWKSFetches()
	for range 50 {
		tok := iss.Sign(t, authtest.Claims{Subject: "mallory"}, authtest.SignOptions{Unpublished: true})
		if rec := call(t, h, "/who", "Bearer "+tok); rec.Code != 401 {
			t.Fatalf("unknown key: got %d, want 401", rec.Code)
		}
	}
	if got := iss.JWKSFetches() - fetches; got > 1 {
		t.Errorf("50 tokens with unknown key ids fetched the key set %d times within the refresh interval, want at most 1", got)
	}

	iss.Rotate(t)
	rotated := iss.Token("alice")
	// Within the refresh interval the new key id is not looked up yet.
	if rec := call(t, h, "/who", "Bearer "+rotated); rec.Code != 401 {
		t.Fatalf("rotated key within the refresh interval: got %d, want 401", rec.Code)
	}
	c.advance(auth.DefaultMinRefresh + time.Second)
	if rec := call(t, h, "/who", "Bearer "+rotated); rec.Code != 200 {
		t.Fatalf("rotated key after the refresh interval: got %d (%s), want 200", rec.Code, rec.Body)
	}
	if rec := call(t, h, "/who", "Bearer "+iss.Sign(t, authtest.Claims{Subject: "alice"}, authtest.SignOptions{ES256: true})); rec.Code != 200 {
		t.Fatalf("rotated P-256 key: got %d, want 200", rec.Code)
	}
}

func TestIssuerUnreachable(t *testing.T) {
	iss := authtest.New(t)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	cfg := auth.Config{Mode: auth.ModeJWT, IssuerURL: down.URL, Audience: authtest.Audience}
	h := newHandler(auth.NewAuthenticator(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), auth.VerifierOptions{}))
	rec := call(t, h, "/who", "Bearer "+iss.Token("alice"))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("got %d with Retry-After %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Anonymous requests need no issuer.
	if rec := call(t, h, "/who", ""); rec.Code != 200 {
		t.Fatalf("anonymous with the issuer down: got %d, want 200", rec.Code)
	}
}

// TestDiscoveryIssuerMismatch: a discovery document naming another issuer
// is not trusted, so its keys verify nothing.
func TestDiscoveryIssuerMismatch(t *testing.T) {
	iss := authtest.New(t)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(iss.URL + r.URL.Path)
		if err != nil {
			w.WriteHeader(502)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)
	cfg := auth.Config{Mode: auth.ModeJWT, IssuerURL: proxy.URL, Audience: authtest.Audience}
	h := newHandler(auth.NewAuthenticator(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), auth.VerifierOptions{}))
	tok := iss.Sign(t, authtest.Claims{Subject: "alice", Issuer: proxy.URL}, authtest.SignOptions{})
	if rec := call(t, h, "/who", "Bearer "+tok); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("got %d, want 503: the issuer's discovery document names another issuer", rec.Code)
	}
}

func TestAuthOff(t *testing.T) {
	a := auth.NewAuthenticator(auth.Config{Mode: auth.ModeOff}, slog.New(slog.NewTextHandler(io.Discard, nil)), auth.VerifierOptions{})
	h := newHandler(a)
	for _, authorization := range []string{"", "Bearer garbage"} {
		rec := call(t, h, "/read", authorization)
		if rec.Code != 204 {
			t.Errorf("Authorization %q: got %d, want 204: with auth off everyone may do everything", authorization, rec.Code)
		}
	}
	var who map[string]any
	if err := json.Unmarshal(call(t, h, "/who", "").Body.Bytes(), &who); err != nil || who["all"] != true {
		t.Errorf("got %v (%v), want the unrestricted principal", who, err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     auth.Config
		wantErr string
	}{
		{name: "off", cfg: auth.Config{Mode: "off"}},
		{name: "jwt", cfg: auth.Config{Mode: "jwt", IssuerURL: "https://id.example.com/realms/shop", Audience: "order-tracking"}},
		{name: "jwt without issuer", cfg: auth.Config{Mode: "jwt", Audience: "x"}, wantErr: "OIDC_ISSUER_URL is required when AUTH_MODE=jwt: set it to your OIDC issuer, or set AUTH_MODE=off"},
		{name: "relative issuer", cfg: auth.Config{Mode: "jwt", IssuerURL: "id.example.com", Audience: "x"}, wantErr: "OIDC_ISSUER_URL: must be an absolute"},
		{name: "no audience", cfg: auth.Config{Mode: "jwt", IssuerURL: "https://id.example.com"}, wantErr: "OIDC_AUDIENCE must not be empty"},
		{name: "unknown mode", cfg: auth.Config{Mode: "basic"}, wantErr: `AUTH_MODE must be jwt or off, got "basic"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestClientCredentials: calls through the client's transport carry a
// token of the service's own identity, fetched once and reused.
func TestClientCredentials(t *testing.T) {
	iss := authtest.New(t)
	iss.AddClient("tracking-service", "s3cret", auth.ScopeRead)
	srv := httptest.NewServer(newHandler(newAuthenticator(iss, &clock{})))
	t.Cleanup(srv.Close)
	cfg := auth.Config{Mode: auth.ModeJWT, IssuerURL: iss.URL, Audience: authtest.Audience}

	tests := []struct {
		name       string
		client     auth.ClientConfig
		wantStatus int
	}{
		{name: "registered client", client: auth.ClientConfig{ClientID: "tracking-service", ClientSecret: "s3cret"}, wantStatus: 204},
		{name: "wrong secret", client: auth.ClientConfig{ClientID: "tracking-service", ClientSecret: "guess"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := iss.TokenRequests()
			hc := &http.Client{Timeout: 5 * time.Second, Transport: tc.client.Transport(cfg, nil, http.DefaultTransport, auth.ScopeRead)}
			for range 3 {
				resp, err := hc.Get(srv.URL + "/read")
				if tc.wantStatus == 0 {
					if err == nil {
						resp.Body.Close()
						t.Fatalf("got status %d, want the call to fail: the issuer refuses the client", resp.StatusCode)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.wantStatus {
					t.Fatalf("got %d, want %d", resp.StatusCode, tc.wantStatus)
				}
			}
			if got := iss.TokenRequests() - before; tc.wantStatus != 0 && got != 1 {
				t.Errorf("3 calls fetched %d tokens, want 1 reused", got)
			}
		})
	}
	off := auth.ClientConfig{}.Transport(auth.Config{Mode: auth.ModeOff}, nil, http.DefaultTransport)
	if off != http.DefaultTransport {
		t.Errorf("with auth off got transport %T, want the base unchanged", off)
	}
}
