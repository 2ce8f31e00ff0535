//go:build chaos

package e2e

// The fault suite (make chaos; make chaos-smoke runs the faults marked
// smoke): the platform as processes, two orders-service and two
// tracking-service replicas behind balancers, on infrastructure of its
// own, under a bounded load, takes one fault at a time. After each it
// checks what the platform promises and prints a table: docs/reliability.md
// keeps the latest one. See docs/reliability.md for what each column means.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/order-tracking/platform/pkg/testinfra"
)

// convergeWithin is the promise: every check passes this long after a
// fault ends. The suite waits longer (convergeGiveUp) to report how long
// convergence took when it breaks the promise.
const convergeWithin, convergeGiveUp = 30 * time.Second, 90 * time.Second

// partitions is the topic's partition count, as the chart sets it.
const partitions = 3

// chaosRate is the load: orders created a second, each walked forward.
const chaosRate = 6

type chaos struct {
	in     *infra
	db     *pgxpool.Pool // orders-service's database
	redis  *goredis.Client
	topic  string
	groups []string

	ordersA, ordersB, trackingA, trackingB, notification *service
	orders, tracking                                     *balancer
	recv                                                 *receiver
	events, dlt                                          *topicReader
	ledger                                               *ledger
	sampler                                              *sampler
	poison                                               int // poison records written so far
	// wantDLT is what the dead-letter topic must hold: each poison record
	// once per consumer group, and again after each replay.
	wantDLT int
}

// fault is one row of the table.
type fault struct {
	name  string // for CHAOS_FAULTS
	title string
	smoke bool // in make test's subset
	// wholeReadModel: after it, every order's tracking is checked, not
	// only the round's: the fault took the read model's data or replayed
	// everything into it.
	wholeReadModel bool
	inject         func(t *testing.T, c *chaos)
}

// hold is a fault's length: a timed wait on purpose, the one kind the
// suite has.
func hold(d time.Duration) { time.Sleep(d) }

var faults = []fault{
	{name: "relay-kill", title: "SIGKILL of the relay leader (restarted)", smoke: true, inject: func(t *testing.T, c *chaos) {
		s := c.relayLeader(t)
		s.stop(t, syscall.SIGKILL)
		s.start(t)
	}},
	{name: "relay-freeze", title: "SIGSTOP of the relay leader, 60 s", inject: func(t *testing.T, c *chaos) {
		s := c.relayLeader(t)
		s.signal(t, syscall.SIGSTOP)
		stopped := time.Now()
		// The standby takes over within the lease (10 s) and its poll.
		testinfra.Eventually(t, 20*time.Second, func() (bool, string) {
			l := c.leaderName(t)
			return l != "" && l != s.name, "the relay leader is still " + s.name
		})
		t.Logf("standby took over %.1f s after the leader froze", time.Since(stopped).Seconds())
		hold(60*time.Second - time.Since(stopped))
		s.signal(t, syscall.SIGCONT)
	}},
	{name: "consumers-kill", title: "SIGKILL of every consumer mid-batch (restarted)", smoke: true, inject: func(t *testing.T, c *chaos) {
		before, _ := c.recv.total()
		testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
			n, _ := c.recv.total()
			return n >= before+10, "waiting for notifications under way"
		})
		for _, s := range []*service{c.trackingA, c.trackingB, c.notification} {
			s.stop(t, syscall.SIGKILL)
		}
		for _, s := range []*service{c.trackingA, c.trackingB, c.notification} {
			s.start(t)
		}
	}},
	{name: "kafka-stop", title: "Kafka stopped 30 s", inject: func(t *testing.T, c *chaos) {
		c.in.devenv(t, "stop-kafka")
		hold(30 * time.Second)
		c.in.devenv(t, "start-kafka")
	}},
	{name: "kafka-kill", title: "Kafka SIGKILL and restart", inject: func(t *testing.T, c *chaos) {
		c.in.kill(t, "kafka")
		c.in.devenv(t, "start-kafka")
	}},
	{name: "pg-restart", title: "PostgreSQL immediate restart", smoke: true, inject: func(t *testing.T, c *chaos) {
		c.in.devenv(t, "crash-restart-postgres")
	}},
	{name: "pg-freeze", title: "PostgreSQL frozen (SIGSTOP) 30 s", inject: func(t *testing.T, c *chaos) {
		c.in.signal(t, "postgres", syscall.SIGSTOP)
		hold(30 * time.Second)
		c.in.signal(t, "postgres", syscall.SIGCONT)
	}},
	{name: "redis-kill", title: "Redis SIGKILL and restart (data lost)", wholeReadModel: true, inject: func(t *testing.T, c *chaos) {
		c.in.kill(t, "redis")
		c.in.devenv(t, "up")
	}},
	{name: "redis-flush", title: "Redis FLUSHALL", smoke: true, wholeReadModel: true, inject: func(t *testing.T, c *chaos) {
		if err := c.redis.FlushAll(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "redis-freeze", title: "Redis frozen (SIGSTOP) 30 s", smoke: true, inject: func(t *testing.T, c *chaos) {
		c.in.signal(t, "redis", syscall.SIGSTOP)
		hold(30 * time.Second)
		c.in.signal(t, "redis", syscall.SIGCONT)
	}},
	{name: "redis-refuse-writes", title: "Redis refusing writes (OOM) 30 s", inject: func(t *testing.T, c *chaos) {
		// maxmemory below what Redis already holds, with noeviction (the
		// default policy): every write answers OOM, reads still work.
		c.redisConfig(t, "maxmemory-policy", "noeviction")
		c.redisConfig(t, "maxmemory", "1")
		hold(30 * time.Second)
		c.redisConfig(t, "maxmemory", "0")
	}},
	{name: "webhook-down", title: "Webhook receiver down 40 s", inject: func(t *testing.T, c *chaos) {
		c.recv.down()
		hold(40 * time.Second)
		c.recv.up(t)
	}},
	{name: "poison", title: "20 poison records", smoke: true, inject: func(t *testing.T, c *chaos) {
		values := poison(20)
		produce(t, c.in.brokers, c.topic, values)
		c.poison += len(values)
		c.wantDLT += 2 * len(values)
	}},
	{name: "replay", title: "Consumer groups reset to the start, full replay", wholeReadModel: true, inject: func(t *testing.T, c *chaos) {
		consumers := []*service{c.trackingA, c.trackingB, c.notification}
		for _, s := range consumers {
			s.stop(t, syscall.SIGTERM)
		}
		(&platform{brokers: c.in.brokers, topic: c.topic, groups: c.groups}).resetGroups(t)
		c.wantDLT += 2 * c.poison // the replay dead-letters the poison again
		for _, s := range consumers {
			s.start(t)
		}
	}},
}

// result is one row of the table.
type result struct {
	fault                           string
	acked, failed, lost             int
	duplicates, repeats, outOfDate  int
	regressions, dltHealthy, dltAll int
	converged, slowest              time.Duration
	convergedOK                     bool
}

func TestChaos(t *testing.T) {
	selected := map[string]bool{}
	switch v := os.Getenv("CHAOS_FAULTS"); v {
	case "", "all":
		for _, f := range faults {
			selected[f.name] = true
		}
	case "smoke":
		for _, f := range faults {
			selected[f.name] = f.smoke
		}
	default:
		for n := range strings.SplitSeq(v, ",") {
			if !slices.ContainsFunc(faults, func(f fault) bool { return f.name == n }) {
				t.Fatalf("CHAOS_FAULTS names %q, not a fault; the faults: smoke, all, or a list of %s", n, faultNames())
			}
			selected[n] = true
		}
	}

	c := startChaos(t)
	var results []result
	for _, f := range faults {
		if !selected[f.name] {
			continue
		}
		ok := t.Run(f.name, func(t *testing.T) { results = append(results, c.round(t, f)) })
		if !ok {
			break // the next fault would start from a broken platform and say nothing of its own
		}
	}
	table := formatTable(results)
	t.Logf("fault suite:\n%s", table)
	if path := os.Getenv("CHAOS_REPORT"); path != "" && !t.Failed() {
		if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func faultNames() string {
	var names []string
	for _, f := range faults {
		names = append(names, f.name)
	}
	return strings.Join(names, ", ")
}

// startChaos starts the infrastructure, the receiver, the five service
// processes, the balancers, the readers and the sampler.
func startChaos(t *testing.T) *chaos {
	t.Helper()
	in := startInfra(t)
	c := &chaos{in: in, topic: testinfra.UniqueName("chaos-order-events-"), ledger: newLedger()}
	// Fresh databases and Redis: the servers keep their data between runs.
	admin := strings.Replace(in.databaseURL, "://orders@", "://postgres@", 1)
	adminURL := admin[:strings.LastIndex(admin, "/")] + "/postgres?sslmode=disable"
	for _, db := range []string{"chaos_orders", "chaos_notifications"} {
		psql(t, adminURL, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		psql(t, adminURL, "CREATE DATABASE "+db+" OWNER orders")
	}
	dbURL := func(name, app string) string {
		return in.databaseURL[:strings.LastIndex(in.databaseURL, "/")] + "/" + name + "?sslmode=disable&application_name=" + app
	}
	c.redis = goredis.NewClient(&goredis.Options{Addr: in.redisAddr})
	t.Cleanup(func() { _ = c.redis.Close() })
	if err := c.redis.FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	createTopics(t, in.brokers, partitions, c.topic, c.topic+".dlt")

	// Not t.Context(): the balancers' probes and the readers must outlive
	// nothing but the suite, and t.Context ends before cleanups run.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.events = newTopicReader(t, ctx, in.brokers, c.topic, partitions)
	c.dlt = newTopicReader(t, ctx, in.brokers, c.topic+".dlt", partitions)
	c.recv = newReceiver(t)

	bins := buildServices(t, "orders-service", "tracking-service", "notification-service")
	common := map[string]string{
		"KAFKA_BROKERS": in.brokers, "KAFKA_TOPIC": c.topic, "KAFKA_TOPIC_PARTITIONS": strconv.Itoa(partitions),
		"AUTH_MODE": "off", "RATE_LIMIT_PER_SECOND": "0", "SSE_MAX_STREAMS": "0", "SSE_MAX_STREAMS_PER_CLIENT": "0",
		"OTEL_TRACES_EXPORTER": "none",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for _, src := range []map[string]string{common, extra} {
			for k, v := range src {
				m[k] = v
			}
		}
		return m
	}
	c.ordersA = newService(t, "orders-a", bins["orders-service"], with(map[string]string{"DATABASE_URL": dbURL("chaos_orders", "orders-a")}))
	c.ordersB = newService(t, "orders-b", bins["orders-service"], with(map[string]string{"DATABASE_URL": dbURL("chaos_orders", "orders-b")}))
	c.ordersA.start(t)
	c.ordersB.start(t)
	c.orders = newBalancer(t, ctx, c.ordersA, c.ordersB)

	trackingGroup, notificationGroup := testinfra.UniqueName("chaos-tracking-"), testinfra.UniqueName("chaos-notification-")
	c.groups = []string{trackingGroup, notificationGroup}
	trackingEnv := with(map[string]string{"REDIS_ADDR": in.redisAddr, "KAFKA_GROUP_ID": trackingGroup, "ORDERS_SERVICE_URL": c.orders.url("")})
	c.trackingA = newService(t, "tracking-a", bins["tracking-service"], trackingEnv)
	c.trackingB = newService(t, "tracking-b", bins["tracking-service"], trackingEnv)
	c.notification = newService(t, "notification", bins["notification-service"], with(map[string]string{
		"DATABASE_URL": dbURL("chaos_notifications", "notification"), "KAFKA_GROUP_ID": notificationGroup,
		"NOTIFY_SENDER": "webhook", "NOTIFY_WEBHOOK_URL": c.recv.url(),
	}))
	for _, s := range []*service{c.trackingA, c.trackingB, c.notification} {
		s.start(t)
	}
	c.tracking = newBalancer(t, ctx, c.trackingA, c.trackingB)
	c.db = openPool(t, dbURL("chaos_orders", "chaos-suite"))

	cl := newClient()
	c.sampler = &sampler{tracking: c.tracking.url(""), c: cl, l: c.ledger}
	var wg sync.WaitGroup
	wg.Go(func() { c.sampler.run(ctx) })
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		return c.orders.ready[0].Load() && c.orders.ready[1].Load() && c.tracking.ready[0].Load() && c.tracking.ready[1].Load(),
			"the balancers have not seen every replica ready"
	})
	// Registered last, so run first (cleanups run last-in first-out): the
	// readers' cleanups wait for their goroutines, which end with ctx.
	t.Cleanup(func() { cancel(); wg.Wait() })
	return c
}

func psql(t *testing.T, url, sql string) {
	t.Helper()
	if out, err := exec.Command("psql", url, "-Atqc", sql).CombinedOutput(); err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
}

func openPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// leaderName is the orders-service replica whose relay holds the advisory
// lock, from PostgreSQL's view ("" if none does).
func (c *chaos) leaderName(t *testing.T) string {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	var name string
	err := c.db.QueryRow(ctx, `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'orders-%' LIMIT 1`).Scan(&name)
	if err != nil {
		return ""
	}
	return name
}

func (c *chaos) relayLeader(t *testing.T) *service {
	t.Helper()
	var name string
	testinfra.Eventually(t, 20*time.Second, func() (bool, string) {
		name = c.leaderName(t)
		return name != "", "no orders-service replica holds the relay lock"
	})
	if name == c.ordersA.name {
		return c.ordersA
	}
	return c.ordersB
}

func (c *chaos) redisConfig(t *testing.T, key, value string) {
	t.Helper()
	if err := c.redis.ConfigSet(t.Context(), key, value).Err(); err != nil {
		t.Fatalf("CONFIG SET %s %s: %v", key, value, err)
	}
}

// round runs the load through one fault and checks the platform after it.
func (c *chaos) round(t *testing.T, f fault) result {
	var since int64 // the round's orders are those past the newest before it
	if err := c.db.QueryRow(t.Context(), "SELECT coalesce(max(id), 0) FROM orders").Scan(&since); err != nil {
		t.Fatal(err)
	}
	if f.wholeReadModel {
		since = 0
	}
	c.ledger.round()
	dupBefore, repBefore, oodBefore := c.recv.counts()
	regBefore, _ := c.sampler.count()
	dltBefore, dltHealthyBefore := c.dlt.counts()

	ctx, stop := context.WithCancel(t.Context())
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		(&load{orders: c.orders.url(""), c: newClient(), l: c.ledger, rate: chaosRate}).run(ctx)
	}()
	defer func() { stop(); <-loaded }()
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		c.ledger.mu.Lock()
		defer c.ledger.mu.Unlock()
		return c.ledger.acked >= 20, fmt.Sprintf("%d writes acknowledged before the fault", c.ledger.acked)
	})

	f.inject(t, c)
	ended := time.Now()
	c.ledger.endFault()
	// The platform takes writes again.
	testinfra.Eventually(t, convergeWithin, func() (bool, string) {
		c.ledger.mu.Lock()
		defer c.ledger.mu.Unlock()
		return c.ledger.ackedAfter >= 10, fmt.Sprintf("%d writes acknowledged since the fault ended", c.ledger.ackedAfter)
	})
	stop()
	<-loaded

	verified := map[int64]bool{}
	var why string
	ok := false
	for !ok && time.Since(ended) < convergeGiveUp {
		ok, why = c.converged(t, since, verified)
		if !ok {
			pause(t.Context(), 250*time.Millisecond)
		}
	}
	took := time.Since(ended)

	r := result{fault: f.title, converged: took, convergedOK: ok && took <= convergeWithin}
	c.ledger.mu.Lock()
	r.acked, r.failed, r.slowest = c.ledger.acked, c.ledger.failed, c.ledger.slowest
	c.ledger.mu.Unlock()
	r.lost = c.lost(t)
	dup, rep, ood := c.recv.counts()
	r.duplicates, r.repeats, r.outOfDate = dup-dupBefore, rep-repBefore, ood-oodBefore
	reg, regs := c.sampler.count()
	r.regressions = reg - regBefore
	dltAll, dltHealthy := c.dlt.counts()
	r.dltAll, r.dltHealthy = dltAll-dltBefore, dltHealthy-dltHealthyBefore

	if !ok {
		t.Errorf("not converged within %s of the fault's end: %s", convergeGiveUp, why)
	} else if !r.convergedOK {
		t.Errorf("converged %.1f s after the fault's end, want within %s", took.Seconds(), convergeWithin)
	}
	for _, v := range []struct {
		what string
		n    int
	}{{"acknowledged changes lost", r.lost}, {"duplicate notifications", r.duplicates}, {"out-of-date notifications", r.outOfDate},
		{"read-model regressions", r.regressions}, {"healthy events dead-lettered", r.dltHealthy}} {
		if v.n != 0 {
			t.Errorf("%d %s, want 0", v.n, v.what)
		}
	}
	if r.regressions > 0 {
		t.Logf("regressions: %v", regs[regBefore:])
	}
	t.Logf("%s: %d writes acknowledged, %d requests failed, converged in %.1f s, slowest answer %.1f s, %d repeats absorbed by Idempotency-Key",
		f.name, r.acked, r.failed, took.Seconds(), r.slowest.Seconds(), r.repeats)
	return r
}

// pgOrder is an order as orders-service's database holds it.
type pgOrder struct {
	id                 int64
	status, name, item string
	quantity           int
	version            int64
	statuses           []string
	versions           []int64
}

func (c *chaos) pgOrders(ctx context.Context) (map[int64]pgOrder, error) {
	rows, err := c.db.Query(ctx, `SELECT o.id, o.status, o.customer_name, o.item, o.quantity, o.version,
			array_agg(h.status ORDER BY h.version), array_agg(h.version ORDER BY h.version)
		FROM orders o JOIN order_status_history h ON h.order_id = o.id GROUP BY o.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]pgOrder{}
	for rows.Next() {
		var o pgOrder
		if err := rows.Scan(&o.id, &o.status, &o.name, &o.item, &o.quantity, &o.version, &o.statuses, &o.versions); err != nil {
			return nil, err
		}
		out[o.id] = o
	}
	return out, rows.Err()
}

// lost counts the acknowledged changes orders-service's database does not
// hold: every acknowledged order, with each acknowledged status in its
// timeline.
func (c *chaos) lost(t *testing.T) int {
	t.Helper()
	db, err := c.pgOrders(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for id, acked := range c.ledger.snapshot() {
		o, ok := db[id]
		for _, s := range acked {
			if !ok || !slices.Contains(o.statuses, s) {
				lost++
				t.Errorf("order %d: acknowledged %s, the database has %v", id, s, o.statuses)
			}
		}
	}
	return lost
}

// converged runs the checks that must all pass once the platform has
// caught up with the fault: the outbox drained, every version of every
// order on the topic, a notification for each, only poison in the
// dead-letter topic, and tracking equal to orders-service for every order
// past since (state and whole timeline). verified keeps the orders whose
// tracking already matched, so each poll reads only what did not.
func (c *chaos) converged(t *testing.T, since int64, verified map[int64]bool) (bool, string) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var outbox int
	if err := c.db.QueryRow(ctx, "SELECT count(*) FROM outbox").Scan(&outbox); err != nil {
		return false, "cannot count the outbox: " + err.Error()
	}
	if outbox > 0 {
		return false, fmt.Sprintf("%d events still in the outbox", outbox)
	}
	db, err := c.pgOrders(ctx)
	if err != nil {
		return false, "cannot read the orders: " + err.Error()
	}
	var todo []pgOrder
	for id, o := range db {
		if id <= since {
			continue
		}
		for i, v := range o.versions {
			if !c.events.has(id, v) {
				return false, fmt.Sprintf("order %d: version %d not on the topic", id, v)
			}
			channel := "sms"
			if i == 0 {
				channel = "email"
			}
			if !c.recv.has(id, channel, v) {
				return false, fmt.Sprintf("order %d: no %s notification for version %d", id, channel, v)
			}
		}
		if !verified[id] {
			todo = append(todo, o)
		}
	}
	if all, _ := c.dlt.counts(); all != c.wantDLT {
		return false, fmt.Sprintf("%d records in the dead-letter topic, want %d (each poison record once per consumer group and pass)", all, c.wantDLT)
	}
	// Tracking, read as a client does, through the balancer.
	cl := newClient()
	var mu sync.Mutex
	var wrong []string
	work := make(chan pgOrder)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for o := range work {
				if msg := c.trackingDiffers(ctx, cl, o); msg != "" {
					mu.Lock()
					wrong = append(wrong, msg)
					mu.Unlock()
					continue
				}
				mu.Lock()
				verified[o.id] = true
				mu.Unlock()
			}
		})
	}
	for _, o := range todo {
		work <- o
	}
	close(work)
	wg.Wait()
	if len(wrong) > 0 {
		return false, fmt.Sprintf("%d orders tracked wrong, e.g. %s", len(wrong), wrong[0])
	}
	return true, ""
}

// trackingDiffers compares tracking's answer for o with o; "" means equal.
func (c *chaos) trackingDiffers(ctx context.Context, cl *client, o pgOrder) string {
	var tr orderJSON
	code, _, err := cl.do(ctx, "GET", c.tracking.url(fmt.Sprintf("/track/%d", o.id)), "", nil, &tr)
	if err != nil || code != 200 {
		return fmt.Sprintf("order %d: /track answered %d %v", o.id, code, err)
	}
	if tr.Status != o.status || tr.Version != o.version || tr.CustomerName != o.name || tr.Item != o.item || tr.Quantity != o.quantity {
		return fmt.Sprintf("order %d: tracked %s version %d, orders-service has %s version %d", o.id, tr.Status, tr.Version, o.status, o.version)
	}
	var h []struct {
		Status  string `json:"status"`
		Version int64  `json:"version"`
	}
	code, _, err = cl.do(ctx, "GET", c.tracking.url(fmt.Sprintf("/track/%d/history", o.id)), "", nil, &h)
	if err != nil || code != 200 {
		return fmt.Sprintf("order %d: /history answered %d %v", o.id, code, err)
	}
	var statuses []string
	var versions []int64
	for _, e := range h {
		statuses, versions = append(statuses, e.Status), append(versions, e.Version)
	}
	if !slices.Equal(statuses, o.statuses) || !slices.Equal(versions, o.versions) {
		return fmt.Sprintf("order %d: timeline %v %v, orders-service has %v %v", o.id, statuses, versions, o.statuses, o.versions)
	}
	return ""
}

// formatTable renders the results as the Markdown table of
// docs/reliability.md.
func formatTable(rs []result) string {
	var b strings.Builder
	b.WriteString("| fault | writes acknowledged | requests failed | lost | duplicates sent | out of date | read-model regressions | dead-lettered (healthy / all) | converged in | slowest answer |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rs {
		conv := fmt.Sprintf("%.1f s", r.converged.Seconds())
		if !r.convergedOK {
			conv += " (over the limit)"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d / %d | %s | %.2f s |\n", r.fault, r.acked, r.failed, r.lost,
			r.duplicates, r.outOfDate, r.regressions, r.dltHealthy, r.dltAll, conv, r.slowest.Seconds())
	}
	return b.String()
}
