package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ClientConfig is a service's own identity at the issuer, with which it
// calls another service: an OAuth 2.0 client-credentials client.
type ClientConfig struct {
	// ClientID and ClientSecret authenticate the service at the issuer's
	// token endpoint (named by its discovery document).
	ClientID     string `env:"OIDC_CLIENT_ID"`
	ClientSecret string `env:"OIDC_CLIENT_SECRET"`
}

// ValidateFor reports what is missing for calls under cfg: with auth on
// the client's id and secret are required.
func (c ClientConfig) ValidateFor(cfg Config) error {
	if !cfg.Enabled() {
		return nil
	}
	var errs []error
	if c.ClientID == "" {
		errs = append(errs, errors.New("OIDC_CLIENT_ID is required when AUTH_MODE=jwt"))
	}
	if c.ClientSecret == "" {
		errs = append(errs, errors.New("OIDC_CLIENT_SECRET is required when AUTH_MODE=jwt"))
	}
	return errors.Join(errs...)
}

// Transport returns base with every request carrying a client-credentials
// access token for scopes, fetched from the token endpoint that v's
// issuer's discovery document names. The token is cached and fetched again
// shortly before it expires (oauth2.ReuseTokenSource). With auth off it
// returns base unchanged. Fetches from the issuer are bounded by
// issuerClient's timeout.
func (c ClientConfig) Transport(cfg Config, issuerClient *http.Client, base http.RoundTripper, scopes ...string) http.RoundTripper {
	if !cfg.Enabled() {
		return base
	}
	if issuerClient == nil {
		issuerClient = &http.Client{Timeout: fetchTimeout}
	}
	return &oauth2.Transport{Base: base, Source: &lazySource{
		verifier: NewVerifier(cfg, VerifierOptions{HTTPClient: issuerClient}),
		client:   c, scopes: scopes,
		// The token source keeps this context for every later fetch; it
		// carries only the HTTP client to fetch with.
		ctx: context.WithValue(context.Background(), oauth2.HTTPClient, issuerClient),
	}}
}

// lazySource discovers the token endpoint on first use, so that a service
// starts while the issuer is away and its calls fail (503) until it is
// back, rather than failing to start.
type lazySource struct {
	verifier *Verifier
	client   ClientConfig
	scopes   []string
	ctx      context.Context

	mu  sync.Mutex
	src oauth2.TokenSource
}

func (l *lazySource) Token() (*oauth2.Token, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.src == nil {
		d, err := l.verifier.discover(l.ctx)
		if err != nil {
			return nil, err
		}
		if checkURL(d.TokenEndpoint) != nil {
			return nil, fmt.Errorf("%w: the issuer's discovery document has no valid token_endpoint", ErrUnavailable)
		}
		cc := clientcredentials.Config{
			ClientID: l.client.ClientID, ClientSecret: l.client.ClientSecret,
			TokenURL: d.TokenEndpoint, Scopes: l.scopes,
		}
		l.src = cc.TokenSource(l.ctx)
	}
	tok, err := l.src.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: cannot get a client-credentials token: %w", ErrUnavailable, err)
	}
	return tok, nil
}
