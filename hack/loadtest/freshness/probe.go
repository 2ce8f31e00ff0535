package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/order-tracking/platform/hack/loadtest/internal/orderapi"
	"github.com/order-tracking/platform/hack/loadtest/internal/results"
	"github.com/order-tracking/platform/hack/loadtest/internal/sse"
	"github.com/order-tracking/platform/hack/loadtest/internal/stats"
)

// way is how a change can be seen.
type way int

const (
	viaSSE way = iota // the order's event stream
	viaGet            // GET /track/{id}
	ways
)

func (w way) String() string { return [...]string{"sse", "get"}[w] }

// kinds of change, in the order the report lists them.
var kinds = []string{"create", "update"}

// lastVersion is an order's version once it is DELIVERED: nothing follows.
var lastVersion = int64(len(orderapi.Forward)) + 1

// change is one create or move of an order.
type change struct {
	kind    string
	version int64     // the order's version after it
	ok      time.Time // its 2xx; zero while in flight
	failed  bool      // answered otherwise, or not at all
	seen    [ways]time.Time
}

// order is one order the probe changes. Its request, its stream and its
// poller share it; mu guards every field below it.
type order struct {
	id int64

	mu      sync.Mutex
	changes []*change // by version: changes[v-1]
	polling bool      // a poller runs for it
}

// mark records that w showed version v at time at. Every change up to v
// that w had not shown yet is seen now: a later state includes it.
func (o *order) mark(w way, v int64, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range o.changes {
		if c.version <= v && c.seen[w].IsZero() {
			c.seen[w] = at
		}
	}
}

// waiting reports whether w still owes a change at now: answered with a
// 2xx, not seen, and within its deadline. o.mu must be held.
func (o *order) waiting(w way, now time.Time, within time.Duration) bool {
	_, ok := o.oldestUnseen(w, now, within)
	return ok
}

// oldestUnseen returns the 2xx time of the oldest change w still owes at
// now, if any. o.mu must be held.
func (o *order) oldestUnseen(w way, now time.Time, within time.Duration) (time.Time, bool) {
	for _, c := range o.changes { // in version order, so oldest first
		if !c.failed && !c.ok.IsZero() && c.seen[w].IsZero() && now.Sub(c.ok) < within {
			return c.ok, true
		}
	}
	return time.Time{}, false
}

// pollDelay is how long an order's poller waits before its next GET when
// its oldest unseen change was answered age ago: poll while the change is
// young, then a quarter of its age, at most a second. The GET figures thus
// have a resolution of poll or 25%, whichever is larger, and an order the
// pipeline is late for costs a few GETs a second instead of one per poll:
// a probe that polled thousands of late orders every 20ms would itself
// starve the pipeline it measures.
func pollDelay(age, poll time.Duration) time.Duration {
	return min(max(poll, age/4), time.Second)
}

// queue is a FIFO of orders ready for their next move.
type queue struct {
	mu    sync.Mutex
	items []*order
}

func (q *queue) push(o *order) {
	q.mu.Lock()
	q.items = append(q.items, o)
	q.mu.Unlock()
}

func (q *queue) pop() *order {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return nil
	}
	o := q.items[0]
	q.items = q.items[1:]
	return o
}

type probeConfig struct {
	requests, streams *orderapi.Client
	duration, within  time.Duration
	poll              time.Duration
	maxInFlight       int
}

// probe is one rate's run. The request goroutines (requests) start the
// watchers (streams and pollers) of their orders; runProbe waits for the
// former before it stops and waits for the latter.
type probe struct {
	cfg      probeConfig
	watchCtx context.Context // ends streams and polls
	ready    queue

	mu           sync.Mutex // guards orders and sampleErrors
	orders       []*order
	sampleErrors []string

	sent, ok, failed, dropped    atomic.Int64
	streams, streamBreaks, polls atomic.Int64
	requests, watchers           sync.WaitGroup
}

// result is what one rate's run measured.
type result struct {
	rate, scheduled              int
	sent, ok, failed, dropped    int64
	streams, streamBreaks, polls int64
	sendTime, within             time.Duration
	rows                         []row
	sampleErrors                 []string
}

// row is the freshness of one kind of change seen one way.
type row struct {
	kind           string
	way            way
	changes, never int
	latency        stats.Summary
}

// runProbe sends changes at rate per second for cfg.duration, open loop,
// then waits until every answered change was seen both ways or is past
// its deadline.
func runProbe(ctx context.Context, cfg probeConfig, rate int) result {
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	p := &probe{cfg: cfg, watchCtx: watchCtx}
	inFlight := make(chan struct{}, cfg.maxInFlight)
	interval := time.Second / time.Duration(rate)
	n := int(cfg.duration / interval)
	start := time.Now()
	scheduled := 0
	for i := 0; i < n && ctx.Err() == nil; i++ {
		// A fixed schedule, not a ticker: a late loop catches up instead of
		// silently sending fewer changes.
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		scheduled++
		select {
		case inFlight <- struct{}{}:
		default:
			p.dropped.Add(1) // the service is this far behind: say so, do not pile up
			continue
		}
		o := p.ready.pop()
		p.requests.Go(func() {
			defer func() { <-inFlight }()
			if o == nil {
				p.create(ctx)
			} else {
				p.move(ctx, o)
			}
		})
	}
	sendTime := time.Since(start)
	p.requests.Wait()
	for p.anyWaiting(time.Now()) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	stopWatching()
	p.watchers.Wait()

	res := result{
		rate: rate, scheduled: scheduled, sendTime: sendTime, within: cfg.within,
		sent: p.sent.Load(), ok: p.ok.Load(), failed: p.failed.Load(), dropped: p.dropped.Load(),
		streams: p.streams.Load(), streamBreaks: p.streamBreaks.Load(), polls: p.polls.Load(),
		sampleErrors: p.sampleErrors,
		rows:         summarize(p.orders, cfg.within),
	}
	return res
}

func (p *probe) create(ctx context.Context) {
	p.sent.Add(1)
	id, err := p.cfg.requests.Create(ctx, "loadtest-freshness", "Laptop")
	at := time.Now()
	if err != nil {
		p.fail(err)
		return
	}
	p.ok.Add(1)
	o := &order{id: id, changes: []*change{{kind: "create", version: 1, ok: at}}}
	p.mu.Lock()
	p.orders = append(p.orders, o)
	p.mu.Unlock()
	p.watchers.Go(func() { p.follow(o) })
	p.startPolling(o)
	p.ready.push(o)
}

// move sends o its next forward move. Only one change of an order is ever
// in flight: o is back in the ready queue only after this one's 2xx, so
// the version it will have is known before the request leaves.
func (p *probe) move(ctx context.Context, o *order) {
	o.mu.Lock()
	c := &change{kind: "update", version: int64(len(o.changes)) + 1}
	o.changes = append(o.changes, c)
	o.mu.Unlock()
	p.sent.Add(1)
	err := p.cfg.requests.Move(ctx, o.id, orderapi.Forward[c.version-2])
	at := time.Now()
	o.mu.Lock()
	if err != nil {
		c.failed = true
	} else {
		c.ok = at
	}
	o.mu.Unlock()
	if err != nil {
		p.fail(err) // o's state is unknown now: it is not moved again
		return
	}
	p.ok.Add(1)
	p.startPolling(o)
	if c.version < lastVersion {
		p.ready.push(o)
	}
}

func (p *probe) fail(err error) {
	p.failed.Add(1)
	p.mu.Lock()
	if len(p.sampleErrors) < 5 {
		p.sampleErrors = append(p.sampleErrors, err.Error())
	}
	p.mu.Unlock()
}

// startPolling starts o's poller unless one runs.
func (p *probe) startPolling(o *order) {
	o.mu.Lock()
	start := !o.polling
	o.polling = true
	o.mu.Unlock()
	if start {
		p.watchers.Go(func() { p.poll(o) })
	}
}

// poll asks GET /track/{id} for o while o has an answered change that the
// GET has not shown yet (see pollDelay for how often), and stops when it
// has none.
func (p *probe) poll(o *order) {
	for {
		o.mu.Lock()
		oldest, ok := o.oldestUnseen(viaGet, time.Now(), p.cfg.within)
		if p.watchCtx.Err() != nil || !ok {
			o.polling = false
			o.mu.Unlock()
			return
		}
		o.mu.Unlock()
		p.polls.Add(1)
		if v, err := p.cfg.requests.Track(p.watchCtx, o.id); err == nil {
			o.mark(viaGet, v, time.Now())
		}
		select {
		case <-time.After(pollDelay(time.Since(oldest), p.cfg.poll)):
		case <-p.watchCtx.Done():
		}
	}
}

// follow keeps o's event stream open, as an EventSource would, until o is
// delivered and that was seen, or the run ends.
func (p *probe) follow(o *order) {
	for p.watchCtx.Err() == nil {
		p.streams.Add(1)
		body, err := p.cfg.streams.Events(p.watchCtx, o.id)
		if err == nil {
			last := read(o, body)
			body.Close()
			if last {
				return
			}
		}
		if p.watchCtx.Err() != nil {
			return
		}
		p.streamBreaks.Add(1)
		select {
		case <-time.After(100 * time.Millisecond):
		case <-p.watchCtx.Done():
		}
	}
}

// read marks the versions o's stream shows until it ends, and says whether
// it showed the last one.
func read(o *order, body io.Reader) bool {
	r := sse.NewReader(body)
	for {
		e, err := r.Next()
		if err != nil {
			return false
		}
		v, err := strconv.ParseInt(e.ID, 10, 64)
		if e.Name != "state" || err != nil {
			continue
		}
		o.mark(viaSSE, v, time.Now())
		if v >= lastVersion {
			return true
		}
	}
}

func (p *probe) anyWaiting(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range p.orders {
		o.mu.Lock()
		w := o.waiting(viaSSE, now, p.cfg.within) || o.waiting(viaGet, now, p.cfg.within)
		o.mu.Unlock()
		if w {
			return true
		}
	}
	return false
}

// summarize measures every answered change, per kind and way: the time
// from its 2xx to its being seen (zero when seen first: the stream may
// beat the answer), or never seen when not within.
func summarize(orders []*order, within time.Duration) []row {
	var rows []row
	for _, kind := range kinds {
		for w := range ways {
			r := row{kind: kind, way: w}
			var ds []time.Duration
			for _, o := range orders {
				for _, c := range o.changes {
					if c.kind != kind || c.failed || c.ok.IsZero() {
						continue
					}
					r.changes++
					if c.seen[w].IsZero() || c.seen[w].Sub(c.ok) > within {
						r.never++
						continue
					}
					ds = append(ds, max(0, c.seen[w].Sub(c.ok)))
				}
			}
			r.latency = stats.Summarize(ds)
			rows = append(rows, r)
		}
	}
	return rows
}

// records is the result as @loadtest lines.
func (r result) records() []string {
	achieved := 0.0
	if r.sendTime > 0 {
		achieved = float64(r.sent) / r.sendTime.Seconds()
	}
	lines := []string{results.Format("freshness-run",
		"rate", strconv.Itoa(r.rate), "scheduled", strconv.Itoa(r.scheduled),
		"sent", itoa(r.sent), "ok", itoa(r.ok), "errors", itoa(r.failed), "dropped", itoa(r.dropped),
		"achieved", fmt.Sprintf("%.1f", achieved),
		"streams", itoa(r.streams), "stream_breaks", itoa(r.streamBreaks), "polls", itoa(r.polls),
		"within_ms", strconv.FormatInt(r.within.Milliseconds(), 10))}
	for _, row := range r.rows {
		lines = append(lines, results.Format("freshness",
			"rate", strconv.Itoa(r.rate), "kind", row.kind, "via", row.way.String(),
			"changes", strconv.Itoa(row.changes), "never_seen", strconv.Itoa(row.never),
			"p50_ms", millis(row.latency.P50), "p99_ms", millis(row.latency.P99), "max_ms", millis(row.latency.Max)))
	}
	return lines
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func millis(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }
