// Package authtest is an OpenID Connect issuer for tests: a real HTTP
// server (httptest) with a discovery document, a JWK set of real RSA and
// P-256 keys, a client-credentials token endpoint, and helpers that mint
// tokens signed by its keys, or by keys it does not publish.
package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Audience is the audience tokens are minted for unless told otherwise:
// the services' default OIDC_AUDIENCE.
const Audience = "order-tracking"

// Issuer is a running test issuer. Its methods are safe for concurrent
// use.
type Issuer struct {
	// URL is the issuer identifier: OIDC_ISSUER_URL of the services.
	URL string

	server *httptest.Server

	mu      sync.Mutex
	keys    []key // published, the first signs by default
	clients map[string]client
	gen     int

	jwksHits  atomic.Int64
	tokenHits atomic.Int64
}

type key struct {
	id     string
	alg    jose.SignatureAlgorithm
	signer crypto.Signer
}

type client struct {
	secret string
	scopes string
}

// New starts an issuer publishing one RSA key and one P-256 key; it stops
// with the test.
func New(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{clients: map[string]client{}}
	i.keys = i.newKeys(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.discovery)
	mux.HandleFunc("GET /jwks", i.jwks)
	mux.HandleFunc("POST /token", i.token)
	i.server = httptest.NewServer(mux)
	t.Cleanup(i.server.Close)
	i.URL = i.server.URL
	return i
}

func (i *Issuer) newKeys(t testing.TB) []key {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	i.gen++
	g := strconv.Itoa(i.gen)
	return []key{{id: "rsa-" + g, alg: jose.RS256, signer: rk}, {id: "ec-" + g, alg: jose.ES256, signer: ek}}
}

// Rotate replaces the published keys by new ones with new key ids, as an
// issuer rotating its keys does.
func (i *Issuer) Rotate(t testing.TB) {
	t.Helper()
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = i.newKeys(t)
}

// AddClient registers a client-credentials client whose tokens carry
// scopes (space-separated) and sub = id.
func (i *Issuer) AddClient(id, secret, scopes string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.clients[id] = client{secret: secret, scopes: scopes}
}

// JWKSFetches is how many times the key set was fetched.
func (i *Issuer) JWKSFetches() int64 { return i.jwksHits.Load() }

// TokenRequests is how many tokens the token endpoint issued.
func (i *Issuer) TokenRequests() int64 { return i.tokenHits.Load() }

func (i *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                i.URL,
		"jwks_uri":                              i.URL + "/jwks",
		"token_endpoint":                        i.URL + "/token",
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"grant_types_supported":                 []string{"client_credentials"},
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	i.jwksHits.Add(1)
	i.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range i.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.signer.Public(), KeyID: k.id, Algorithm: string(k.alg), Use: "sig"})
	}
	i.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

// token implements the client-credentials grant (RFC 6749 §4.4), with the
// client authenticated by HTTP Basic or by form fields.
func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	i.mu.Lock()
	c, known := i.clients[id]
	i.mu.Unlock()
	if !known || c.secret != secret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	i.tokenHits.Add(1)
	const lifetime = 5 * time.Minute
	tok := i.sign(Claims{Subject: id, Scope: c.scopes, Expiry: time.Now().Add(lifetime)}, SignOptions{})
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(lifetime.Seconds()), "scope": c.scopes,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Claims are a token's claims. Zero fields take defaults: Issuer the
// issuer's URL, Audience the package's Audience, Expiry in an hour.
type Claims struct {
	Subject   string
	Scope     string
	Issuer    string
	Audience  []string
	Expiry    time.Time
	NotBefore time.Time
	// NoExpiry leaves exp out.
	NoExpiry bool
}

// SignOptions choose how a token is signed; the zero value signs with the
// issuer's RSA key.
type SignOptions struct {
	// ES256 signs with the issuer's P-256 key.
	ES256 bool
	// Unpublished signs with a fresh key of the same kind that the issuer
	// does not publish, under a key id it does not know.
	Unpublished bool
}

// Token returns a token for sub with scopes, valid for an hour, signed
// with the issuer's RSA key.
func (i *Issuer) Token(sub string, scopes ...string) string {
	return i.sign(Claims{Subject: sub, Scope: strings.Join(scopes, " ")}, SignOptions{})
}

// Sign returns a token with c's claims, signed as opts say.
func (i *Issuer) Sign(t testing.TB, c Claims, opts SignOptions) string {
	t.Helper()
	if opts.Unpublished {
		k := i.newKeys(t)[0]
		if opts.ES256 {
			k = i.newKeys(t)[1]
		}
		k.id = "unpublished-" + k.id
		return i.signWith(k, c)
	}
	return i.sign(c, opts)
}

func (i *Issuer) sign(c Claims, opts SignOptions) string {
	i.mu.Lock()
	k := i.keys[0]
	if opts.ES256 {
		k = i.keys[1]
	}
	i.mu.Unlock()
	return i.signWith(k, c)
}

func (i *Issuer) signWith(k key, c Claims) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.signer},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.id))
	if err != nil {
		panic(err) // the keys are made here and always fit their algorithm
	}
	std := jwt.Claims{Subject: c.Subject, Issuer: c.Issuer, Audience: c.Audience, IssuedAt: jwt.NewNumericDate(time.Now())}
	if std.Issuer == "" {
		std.Issuer = i.URL
	}
	if std.Audience == nil {
		std.Audience = jwt.Audience{Audience}
	}
	if !c.NoExpiry {
		exp := c.Expiry
		if exp.IsZero() {
			exp = time.Now().Add(time.Hour)
		}
		std.Expiry = jwt.NewNumericDate(exp)
	}
	if !c.NotBefore.IsZero() {
		std.NotBefore = jwt.NewNumericDate(c.NotBefore)
	}
	b := jwt.Signed(signer).Claims(std)
	if c.Scope != "" {
		b = b.Claims(map[string]any{"scope": c.Scope})
	}
	tok, err := b.Serialize()
	if err != nil {
		panic(err)
	}
	return tok
}

// Forge returns a token with c's claims that no issuer signed, made the
// two classic ways: alg "none" (no signature at all), or alg "HS256" with
// the issuer's published RSA public key, PEM-encoded, as the HMAC secret
// (which a verifier trusting the token's alg would accept).
func (i *Issuer) Forge(t testing.TB, alg string, c Claims) string {
	t.Helper()
	i.mu.Lock()
	k := i.keys[0]
	i.mu.Unlock()
	header, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "kid": k.id})
	claims := map[string]any{"sub": c.Subject, "iss": i.URL, "aud": Audience, "exp": time.Now().Add(time.Hour).Unix()}
	if c.Scope != "" {
		claims["scope"] = c.Scope
	}
	payload, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	switch alg {
	case "none":
		return signing + "."
	case "HS256":
		der, err := x509.MarshalPKIXPublicKey(k.signer.Public())
		if err != nil {
			t.Fatal(err)
		}
		secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(signing))
		return signing + "." + enc.EncodeToString(mac.Sum(nil))
	}
	t.Fatalf("authtest: cannot forge alg %q", alg)
	return ""
}
