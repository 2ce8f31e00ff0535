// Package redis is the Redis adapter of tracking-service: the tracking.Store
// keeping each order's latest state and timeline, and the pub/sub
// subscription that announces every change the store applies.
package redis

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

// Config locates the Redis server.
type Config struct {
	// Addr is the server's host:port.
	Addr string `env:"REDIS_ADDR"`
	// Username and Password authenticate with Redis ACLs; both may be empty.
	Username string `env:"REDIS_USERNAME"`
	Password string `env:"REDIS_PASSWORD"`
	// DB is the logical database number.
	DB int `env:"REDIS_DB"`
	// KeyPrefix starts every key and channel name of the service, so that
	// it can share a server with others.
	KeyPrefix string `env:"REDIS_KEY_PREFIX"`
	// ClientName names the service's connections in CLIENT LIST.
	ClientName string `env:"REDIS_CLIENT_NAME"`
}

// SetDefaults fills the fields left empty: the local server of
// hack/devenv.sh, keys under "tracking:". The service names the
// connections (ClientName) after itself.
func (c *Config) SetDefaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:6379"
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = "tracking:"
	}
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("REDIS_ADDR must not be empty"))
	}
	if c.DB < 0 {
		errs = append(errs, fmt.Errorf("REDIS_DB must not be negative, got %d", c.DB))
	}
	if strings.ContainsAny(c.ClientName, " \n\r") {
		// Redis refuses such names, which would fail every connection.
		errs = append(errs, fmt.Errorf("REDIS_CLIENT_NAME must not contain spaces or newlines, got %q", c.ClientName))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid redis config: %w", err)
	}
	return nil
}

// NewClient returns a client for the server of cfg. Connecting is lazy: a
// server that is down now fails the first command, not this call.
func NewClient(cfg Config) *goredis.Client {
	return goredis.NewClient(&goredis.Options{
		Addr:       cfg.Addr,
		Username:   cfg.Username,
		Password:   cfg.Password,
		DB:         cfg.DB,
		ClientName: cfg.ClientName,
		// Short enough that a request or a readiness probe fails with 503
		// while Redis is unreachable instead of hanging until its own
		// deadline; long enough for a busy server.
		DialTimeout:  2 * time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
		// The caller's deadline (a request's, see HTTP_REQUEST_TIMEOUT)
		// bounds each command's network waits too, not only the timeouts
		// above: with Redis frozen, /track took 8.1s to answer 503, a read
		// timeout per retry.
		ContextTimeoutEnabled: true,
		// One retry at most: a retry helps a dropped connection, and
		// repeats a frozen server's timeout.
		MaxRetries: 1,
		// Waiting for a pooled connection is bounded too.
		PoolTimeout: time.Second,
	})
}

// StoreOptions tunes a Store; the zero value is usable.
type StoreOptions struct {
	// KeyPrefix starts every key and channel name; default "tracking:".
	// Tests give each run its own so that parallel packages do not collide.
	KeyPrefix string
	// TTL is how long an order is kept after its last change; default 24h.
	TTL time.Duration
	// Logger receives the subscription's connection problems; default
	// slog.Default().
	Logger *slog.Logger
}

// Store is the Redis tracking.Store. An order takes two keys, which share
// a hash tag so that the script may touch both on Redis Cluster too:
//
//	<prefix>order:{<id>}           hash: version, state (JSON)
//	<prefix>order:{<id>}:timeline  sorted set: entry JSON scored by version
//	<prefix>code:<trackingCode>    string: the order's id
//
// The code's key cannot share the order's hash tag (it is looked up
// without the id), so it is written beside the script rather than by it:
// an index, checked against the order's state on every lookup, whose loss
// only costs a read from orders-service.
// and every applied change is published on <prefix>changes:<id>.
type Store struct {
	client goredis.UniversalClient
	prefix string
	ttl    time.Duration
	logger *slog.Logger
}

var _ tracking.Store = (*Store)(nil)

// NewStore returns a store over client.
func NewStore(client goredis.UniversalClient, opts StoreOptions) *Store {
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = "tracking:"
	}
	if opts.TTL <= 0 {
		opts.TTL = 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Store{client: client, prefix: opts.KeyPrefix, ttl: opts.TTL, logger: opts.Logger}
}

//go:embed apply.lua
var applySource string

// applyScript is run by its SHA (EVALSHA); ApplyAll loads it (SCRIPT LOAD)
// when the server does not have it: the first time, and after a restart
// flushed the script cache.
var applyScript = goredis.NewScript(applySource)

func (s *Store) stateKey(id int64) string {
	return s.prefix + "order:{" + strconv.FormatInt(id, 10) + "}"
}

func (s *Store) timelineKey(id int64) string { return s.stateKey(id) + ":timeline" }

func (s *Store) codeKey(code string) string { return s.prefix + "code:" + code }

func (s *Store) channel(id int64) string { return s.prefix + "changes:" + strconv.FormatInt(id, 10) }

// pattern matches every order's channel. The prefix is escaped because
// PSUBSCRIBE reads *, ? and [ in it as wildcards.
func (s *Store) pattern() string {
	var b strings.Builder
	for _, r := range s.prefix + "changes:" {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String() + "*"
}

// state is an order as stored and published: the JSON other readers of the
// keys and channels (and this package's Watch) see.
type state struct {
	ID           int64     `json:"orderId"`
	TrackingCode string    `json:"trackingCode,omitempty"`
	Owner        string    `json:"owner,omitempty"`
	CustomerName string    `json:"customerName"`
	Item         string    `json:"item"`
	Quantity     int       `json:"quantity"`
	Status       string    `json:"status"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
	Version      int64     `json:"version"`
}

func (st state) order() tracking.Order { return tracking.Order(st) }

// entry is a timeline entry as stored.
type entry struct {
	Status  string    `json:"status"`
	At      time.Time `json:"at"`
	Version int64     `json:"version"`
}

// Apply implements tracking.Store: ApplyAll of o alone.
func (s *Store) Apply(ctx context.Context, o tracking.Order) (bool, error) {
	results, err := s.ApplyAll(ctx, []tracking.Order{o}, false)
	if err != nil {
		return false, err
	}
	return results[0] == tracking.Applied, nil
}

// ApplyAll implements tracking.Store with one pipeline of apply.lua runs:
// one round trip for all of os. Redis runs them in order, each atomic as
// in Apply; a run that fails does not stop the ones after it, which is
// why only the results up to the first failure are reported: those after
// it are applied again later, and applying a state twice changes nothing.
func (s *Store) ApplyAll(ctx context.Context, os []tracking.Order, knownOnly bool) ([]tracking.Result, error) {
	cmds := make([]*goredis.Cmd, len(os))
	run := func() {
		// The pipeline's own error is that of its first failed command,
		// which the loop below finds with its index.
		_, _ = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, o := range os {
				keys, args := s.applyArgs(o, knownOnly)
				cmds[i] = applyScript.EvalSha(ctx, p, keys, args...)
				if o.TrackingCode != "" {
					p.Set(ctx, s.codeKey(o.TrackingCode), o.ID, s.ttl)
				}
			}
			return nil
		})
	}
	run()
	if len(cmds) > 0 && goredis.HasErrorPrefix(cmds[0].Err(), "NOSCRIPT") {
		// A restarted Redis lost its script cache: load the script once
		// and run the pipeline again.
		if err := applyScript.Load(ctx, s.client).Err(); err != nil {
			return nil, applyError(os[0], err)
		}
		run()
	}
	results := make([]tracking.Result, 0, len(os))
	for i, cmd := range cmds {
		n, err := cmd.Int()
		if err != nil {
			return results, applyError(os[i], err)
		}
		results = append(results, resultOf(n))
	}
	return results, nil
}

// applyArgs are apply.lua's keys and arguments for o.
func (s *Store) applyArgs(o tracking.Order, knownOnly bool) ([]string, []any) {
	// Both marshal calls take plain structs of strings, numbers and times,
	// which cannot fail.
	st, _ := json.Marshal(state(o))
	c := o.Change()
	en, _ := json.Marshal(entry{Status: c.Status, At: c.At, Version: c.Version})
	return []string{s.stateKey(o.ID), s.timelineKey(o.ID)},
		[]any{o.Version, st, en, s.ttl.Milliseconds(), s.channel(o.ID), knownOnlyArg(knownOnly)}
}

// resultOf is apply.lua's answer as a tracking.Result.
func resultOf(n int) tracking.Result {
	switch n {
	case 1:
		return tracking.Applied
	case 2:
		return tracking.Unknown
	}
	return tracking.Stale
}

func knownOnlyArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func applyError(o tracking.Order, err error) error {
	return fmt.Errorf("%w: cannot apply version %d of order %d: %w", tracking.ErrUnavailable, o.Version, o.ID, err)
}

// Get implements tracking.Store.
func (s *Store) Get(ctx context.Context, id int64) (tracking.Order, error) {
	raw, err := s.client.HGet(ctx, s.stateKey(id), "state").Bytes()
	switch {
	case errors.Is(err, goredis.Nil):
		return tracking.Order{}, tracking.ErrNotFound
	case err != nil:
		return tracking.Order{}, fmt.Errorf("%w: cannot read order %d: %w", tracking.ErrUnavailable, id, err)
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return tracking.Order{}, fmt.Errorf("cannot decode stored order %d: %w", id, err)
	}
	return st.order(), nil
}

// History implements tracking.Store.
func (s *Store) History(ctx context.Context, id int64) ([]tracking.StatusChange, error) {
	raws, err := s.client.ZRange(ctx, s.timelineKey(id), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: cannot read timeline of order %d: %w", tracking.ErrUnavailable, id, err)
	}
	out := make([]tracking.StatusChange, 0, len(raws))
	for _, raw := range raws {
		var e entry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return nil, fmt.Errorf("cannot decode timeline entry of order %d: %w", id, err)
		}
		out = append(out, tracking.StatusChange(e))
	}
	return out, nil
}

//go:embed history.lua
var historySource string

// historyScript adds missing timeline entries; see history.lua.
var historyScript = goredis.NewScript(historySource)

// AddHistory implements tracking.Store with one run of history.lua.
func (s *Store) AddHistory(ctx context.Context, id int64, h []tracking.StatusChange) error {
	if len(h) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(h))
	for _, c := range h {
		// A struct of strings, numbers and a time: it always marshals.
		en, _ := json.Marshal(entry(c))
		args = append(args, c.Version, en)
	}
	// Run loads the script when the server lacks it (EVALSHA, then EVAL).
	if err := historyScript.Run(ctx, s.client, []string{s.stateKey(id), s.timelineKey(id)}, args...).Err(); err != nil {
		return fmt.Errorf("%w: cannot add the history of order %d: %w", tracking.ErrUnavailable, id, err)
	}
	return nil
}

// Empty implements tracking.Store: no order key under the prefix. The
// scan stops at the first key, and an empty Redis answers at once.
func (s *Store) Empty(ctx context.Context) (bool, error) {
	iter := s.client.Scan(ctx, 0, s.prefix+"order:*", 1000).Iterator()
	if iter.Next(ctx) {
		return false, nil
	}
	if err := iter.Err(); err != nil {
		return false, fmt.Errorf("%w: cannot scan for orders: %w", tracking.ErrUnavailable, err)
	}
	return true, nil
}

// IDByCode implements tracking.Store.
func (s *Store) IDByCode(ctx context.Context, code string) (int64, error) {
	id, err := s.client.Get(ctx, s.codeKey(code)).Int64()
	switch {
	case errors.Is(err, goredis.Nil):
		return 0, tracking.ErrNotFound
	case err != nil:
		return 0, fmt.Errorf("%w: cannot read tracking code: %w", tracking.ErrUnavailable, err)
	}
	return id, nil
}

// CheckWrite reports whether Redis accepts a write: the consumer's gate. A
// ping passes while Redis refuses writes (out of memory, a read-only
// replica after a failover), and every event would then fail while the
// gate said all was well.
func (s *Store) CheckWrite(ctx context.Context) error {
	if err := s.client.Set(ctx, s.prefix+"gate", "1", 10*time.Second).Err(); err != nil {
		return fmt.Errorf("%w: redis refuses writes: %w", tracking.ErrUnavailable, err)
	}
	return nil
}

// Ping reports whether Redis answers; it is the readiness check.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: redis does not answer: %w", tracking.ErrUnavailable, err)
	}
	return nil
}
