// Package ratelimit limits how often each client may call a service: one
// token bucket per client (its token's subject, or its address when
// anonymous), in a key set of bounded size, answering 429 with Retry-After
// and RateLimit headers when a bucket is empty.
package ratelimit

import (
	"container/list"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/order-tracking/platform/pkg/auth"
	"github.com/order-tracking/platform/pkg/httpapi"
)

// DefaultMaxKeys bounds the clients tracked at once: beyond it the least
// recently seen client's bucket is dropped (it starts full again if that
// client comes back), so that a flood of addresses or subjects costs a
// bounded amount of memory, about 200 bytes per key.
const DefaultMaxKeys = 100_000

// Config is the per-client limit.
type Config struct {
	// PerSecond is how many requests a client may make per second,
	// sustained; 0 turns limiting off.
	PerSecond float64 `env:"RATE_LIMIT_PER_SECOND"`
	// Burst is how many requests a client may make at once after being
	// idle: the bucket's size.
	Burst int `env:"RATE_LIMIT_BURST"`
}

// SetDefaults allows a client 50 requests a second, 100 at once: far above
// what a person or a well-behaved integration needs, far below what one
// client needs to starve the others.
func (c *Config) SetDefaults() {
	c.PerSecond = 50
	c.Burst = 100
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.PerSecond < 0 || math.IsNaN(c.PerSecond) || math.IsInf(c.PerSecond, 0) {
		errs = append(errs, fmt.Errorf("RATE_LIMIT_PER_SECOND must be a number of at least 0 (0 is off), got %v", c.PerSecond))
	}
	if c.PerSecond > 0 && c.Burst < 1 {
		errs = append(errs, fmt.Errorf("RATE_LIMIT_BURST must be at least 1, got %d", c.Burst))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid rate limit config: %w", err)
	}
	return nil
}

// Limiter holds the buckets. Safe for concurrent use.
type Limiter struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	now     func() time.Time

	// mu guards buckets and lru (front: most recently used).
	mu      sync.Mutex
	buckets map[string]*list.Element
	lru     *list.List
}

type bucket struct {
	key     string
	limiter *rate.Limiter
}

// Options tunes a Limiter; the zero value is usable.
type Options struct {
	// MaxKeys bounds the clients tracked; default DefaultMaxKeys.
	MaxKeys int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// New returns the Limiter of cfg; nil when limiting is off.
func New(cfg Config, opts Options) *Limiter {
	if cfg.PerSecond <= 0 {
		return nil
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Limiter{
		limit: rate.Limit(cfg.PerSecond), burst: cfg.Burst, maxKeys: opts.MaxKeys, now: opts.Now,
		buckets: map[string]*list.Element{}, lru: list.New(),
	}
}

// Decision is the outcome of one request against its client's bucket.
type Decision struct {
	// Allowed says whether the request may go on.
	Allowed bool
	// Remaining is how many more requests the bucket holds now.
	Remaining int
	// RetryAfter is, when refused, how long until one more is allowed.
	RetryAfter time.Duration
	// Reset is how long until the bucket is full again.
	Reset time.Duration
}

// Take takes one request from key's bucket.
func (l *Limiter) Take(key string) Decision {
	now := l.now()
	lim := l.bucket(key)
	ok := lim.AllowN(now, 1)
	tokens := lim.TokensAt(now)
	d := Decision{Allowed: ok, Remaining: max(0, int(tokens))}
	d.Reset = l.wait(float64(l.burst) - tokens)
	if !ok {
		d.RetryAfter = l.wait(1 - tokens)
	}
	return d
}

// wait is how long the bucket takes to gain n tokens.
func (l *Limiter) wait(n float64) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(n / float64(l.limit) * float64(time.Second))
}

// Len is how many clients are tracked now.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

func (l *Limiter) bucket(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.buckets[key]; ok {
		l.lru.MoveToFront(e)
		return e.Value.(*bucket).limiter
	}
	if len(l.buckets) >= l.maxKeys {
		oldest := l.lru.Back()
		l.lru.Remove(oldest)
		delete(l.buckets, oldest.Value.(*bucket).key)
	}
	b := &bucket{key: key, limiter: rate.NewLimiter(l.limit, l.burst)}
	l.buckets[key] = l.lru.PushFront(b)
	return b.limiter
}

// ClientKey names the client of a request: the subject of its token, or
// its address when it sent none. The address is the connection's peer
// unless it is a trusted proxy (see httpserver.Config.TrustedProxies).
func ClientKey(c *gin.Context) string {
	if p := auth.FromContext(c.Request.Context()); p.Subject != "" {
		return "sub:" + p.Subject
	}
	return "ip:" + c.ClientIP()
}

// Guard is a guard (see httpapi.Responder.Guard) charging each request to
// its client (ClientKey) and refusing it with 429 when the client's bucket
// is empty. Every answer carries the client's RateLimit-Limit,
// RateLimit-Remaining and RateLimit-Reset (seconds until the bucket is
// full), so a client can pace itself before it is refused. A nil Limiter
// lets everything through.
func (l *Limiter) Guard(c *gin.Context) error {
	if l == nil {
		return nil
	}
	d := l.Take(ClientKey(c))
	h := c.Writer.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(l.burst))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", seconds(d.Reset))
	if d.Allowed {
		return nil
	}
	return &httpapi.StatusError{
		Status: http.StatusTooManyRequests, Type: "/problems/rate-limited", Title: "Too many requests",
		Detail: fmt.Sprintf("this client may make %g requests per second (%d at once); retry after the time in Retry-After", float64(l.limit), l.burst),
		Header: http.Header{"Retry-After": {seconds(d.RetryAfter)}},
	}
}

// seconds rounds d up to whole seconds, at least 1 when d is positive:
// Retry-After: 0 would invite an immediate retry that is refused again.
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}
