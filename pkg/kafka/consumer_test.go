package kafka_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/pkg/testinfra"
)

// helperEnv makes the test binary run helperMain instead of the tests; the
// kill test starts it as a consumer process it can SIGKILL.
const helperEnv = "KAFKA_CONSUMER_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}

// testExtra makes test groups react fast: a member that died is noticed
// after 6s (the broker's minimum session timeout) and a join is seen by the
// other members within half a second.
var testExtra = map[string]string{"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}

var nopHandler kafka.Handler = func(context.Context, kafka.Message) error { return nil }

// newTopic creates a topic with n partitions, and its dead-letter topic,
// and returns its name with a producer for the test.
func newTopic(t *testing.T, brokers string, partitions int) (string, *kafka.Producer) {
	t.Helper()
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: brokers}, discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(5 * time.Second) })
	topic := testinfra.UniqueName("consumer-test-")
	for _, name := range []string{topic, topic + ".dlt"} {
		if err := p.EnsureTopic(t.Context(), name, partitions); err != nil {
			t.Fatal(err)
		}
	}
	return topic, p
}

// produce publishes one message per value, keyed by key(i), in order.
func produce(t *testing.T, p *kafka.Producer, topic string, values []string, key func(i int) string, headers ...kafka.Header) {
	t.Helper()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Topic: topic, Key: []byte(key(i)), Value: []byte(v), Headers: headers}
	}
	for i, err := range p.Publish(t.Context(), msgs) {
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
}

func sameKey(int) string { return "k" }

func seq(from, to int) []string {
	var s []string
	for i := from; i < to; i++ {
		s = append(s, strconv.Itoa(i))
	}
	return s
}

// running is a consumer started by start.
type running struct {
	c    *kafka.Consumer
	reg  *prometheus.Registry
	stop func() error
}

// start builds a consumer and runs it until stop (or the test's end).
func start(t *testing.T, cfg kafka.ConsumerConfig, h kafka.Handler, opts kafka.ConsumerOptions) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	if cfg.Extra == nil {
		cfg.Extra = testExtra
	}
	c, err := kafka.NewConsumer(cfg, h, discard, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = errors.New("Run did not return within 30s of cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return &running{c: c, reg: reg, stop: stop}
}

// starter starts a consumer: start, or start with the handler also
// wrapped as the batch handler.
type starter func(t *testing.T, cfg kafka.ConsumerConfig, h kafka.Handler, opts kafka.ConsumerOptions) *running

// eachMode runs test with each way the consumer calls handlers: one
// message at a time, and batched, with the test's handler run through
// batchOf. The expectations are the same: a batch's failed message
// continues on the one-by-one path, its batch call counting as its first
// attempt.
func eachMode(t *testing.T, test func(t *testing.T, start starter)) {
	for _, mode := range []struct {
		name    string
		batched bool
	}{{"one by one", false}, {"batched", true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			test(t, func(t *testing.T, cfg kafka.ConsumerConfig, h kafka.Handler, opts kafka.ConsumerOptions) *running {
				t.Helper()
				if mode.batched {
					opts.Batch = batchOf(h)
				}
				return start(t, cfg, h, opts)
			})
		})
	}
}

// batchOf is the plainest batch handler over h: h on each message in
// order, stopping at the first failure.
func batchOf(h kafka.Handler) kafka.BatchHandler {
	return func(ctxs []context.Context, ms []kafka.Message) (int, error) {
		for i, m := range ms {
			if err := h(ctxs[i], m); err != nil {
				return i, err
			}
		}
		return len(ms), nil
	}
}

// journal is a handler's record of what it saw, safe for the consumer's
// goroutine and the test's.
type journal struct {
	mu      sync.Mutex
	handled []string       // values handled successfully, in order
	calls   map[string]int // handler calls per value
	first   map[string]time.Time
}

func newJournal() *journal { return &journal{calls: map[string]int{}, first: map[string]time.Time{}} }

// call records a call for value v and returns how many there were.
func (l *journal) call(v string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls[v]++
	if l.calls[v] == 1 {
		l.first[v] = time.Now()
	}
	return l.calls[v]
}

func (l *journal) done(v string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.handled = append(l.handled, v)
}

func (l *journal) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.handled)
}

func (l *journal) callsOf(v string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[v]
}

// waitHandled waits until the log holds exactly want, in order.
func (l *journal) waitHandled(t *testing.T, timeout time.Duration, want []string) {
	t.Helper()
	testinfra.Eventually(t, timeout, func() (bool, string) {
		got := l.snapshot()
		if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
			t.Fatalf("got handled %v, want %v", got, want)
		}
		return len(got) == len(want), fmt.Sprintf("handled %v, want %v", got, want)
	})
}

// metric returns the value of the counter or gauge name whose labels
// include labels (the sample count for a histogram), or 0 if there is none.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	v, _ := gauge(t, reg, name, labels)
	return v
}

// gauge is metric that also says whether the series exists.
func gauge(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue(), true
			}
			if m.GetHistogram() != nil {
				return float64(m.GetHistogram().GetSampleCount()), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// newReader subscribes a consumer of its own group to topic, from the
// beginning; the caller closes it.
func newReader(t *testing.T, brokers, topic string) *ckafka.Consumer {
	t.Helper()
	c, err := ckafka.NewConsumer(&ckafka.ConfigMap{
		"bootstrap.servers": brokers, "group.id": testinfra.UniqueName("reader-"), "auto.offset.reset": "earliest",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, nil); err != nil {
		_ = c.Close()
		t.Fatal(err)
	}
	return c
}

// readTopic reads n records from topic, from the beginning.
func readTopic(t *testing.T, brokers, topic string, n int) []*ckafka.Message {
	t.Helper()
	c := newReader(t, brokers, topic)
	defer c.Close()
	var got []*ckafka.Message
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		if m, err := c.ReadMessage(100 * time.Millisecond); err == nil {
			got = append(got, m)
		}
		return len(got) >= n, fmt.Sprintf("%d of %d records read from %s", len(got), n, topic)
	})
	return got
}

func header(m *ckafka.Message, key string) (string, bool) {
	for i := len(m.Headers) - 1; i >= 0; i-- {
		if m.Headers[i].Key == key {
			return string(m.Headers[i].Value), true
		}
	}
	return "", false
}

func TestNewConsumerRejects(t *testing.T) {
	if _, err := kafka.NewConsumer(kafka.ConsumerConfig{}, nopHandler, discard, kafka.ConsumerOptions{}); err == nil {
		t.Error("no group: got nil error, want one")
	}
	if _, err := kafka.NewConsumer(kafka.ConsumerConfig{GroupID: "g"}, nil, discard, kafka.ConsumerOptions{}); err == nil {
		t.Error("nil handler: got nil error, want one")
	}
}

func TestIntegrationConsumerCommitsHandled(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, start starter) {
		brokers := testinfra.KafkaBrokers(t)
		topic, p := newTopic(t, brokers, 1)
		group := testinfra.UniqueName("group-")
		cfg := kafka.ConsumerConfig{Brokers: brokers, GroupID: group, Topic: topic}
		produce(t, p, topic, seq(0, 5), sameKey)

		first := newJournal()
		r := start(t, cfg, func(_ context.Context, m kafka.Message) error {
			first.call(string(m.Value))
			first.done(string(m.Value))
			return nil
		}, kafka.ConsumerOptions{})
		first.waitHandled(t, 30*time.Second, seq(0, 5))
		// Ping runs on the readiness probe's goroutine while Run polls.
		if err := r.c.Ping(t.Context()); err != nil {
			t.Errorf("Ping while running: got %v, want nil", err)
		}
		// The lag gauge is refreshed every 5s; all is handled, so it reaches 0.
		testinfra.Eventually(t, 15*time.Second, func() (bool, string) {
			v, ok := gauge(t, r.reg, "kafka_consumer_lag", map[string]string{"topic": topic, "partition": "0"})
			return ok && v == 0, fmt.Sprintf("lag %v (present: %v), want 0", v, ok)
		})
		if err := r.stop(); err != nil {
			t.Fatalf("Run: got %v, want nil on a clean stop", err)
		}
		if got := metric(t, r.reg, "kafka_consumer_messages_handled_total", map[string]string{"topic": topic}); got != 5 {
			t.Errorf("handled metric: got %v, want 5", got)
		}
		if got := metric(t, r.reg, "kafka_consumer_records_consumed_total", map[string]string{"topic": topic}); got != 5 {
			t.Errorf("consumed metric: got %v, want 5", got)
		}
		if err := r.c.Ping(t.Context()); err == nil {
			t.Error("Ping after Run returned: got nil, want an error for a closed consumer")
		}

		// A new member of the group gets only what came after: a sentinel
		// published now must be the first (and only) thing it handles.
		produce(t, p, topic, []string{"sentinel"}, sameKey)
		second := newJournal()
		start(t, cfg, func(_ context.Context, m kafka.Message) error {
			second.call(string(m.Value))
			second.done(string(m.Value))
			return nil
		}, kafka.ConsumerOptions{})
		second.waitHandled(t, 30*time.Second, []string{"sentinel"})
	})
}

func TestIntegrationConsumerRetriesTransientErrors(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, start starter) {
		brokers := testinfra.KafkaBrokers(t)
		topic, p := newTopic(t, brokers, 1)
		produce(t, p, topic, seq(0, 5), sameKey)

		l := newJournal()
		r := start(t, kafka.ConsumerConfig{Brokers: brokers, GroupID: testinfra.UniqueName("group-"), Topic: topic},
			func(_ context.Context, m kafka.Message) error {
				v := string(m.Value)
				if n := l.call(v); v == "2" && n <= 2 {
					return fmt.Errorf("database briefly unavailable (call %d)", n)
				}
				l.done(v)
				return nil
			}, kafka.ConsumerOptions{})
		l.waitHandled(t, 30*time.Second, seq(0, 5))
		if got := l.callsOf("2"); got != 3 {
			t.Errorf("calls of message 2: got %d, want 3 (two failures, one success)", got)
		}
		for _, v := range []string{"0", "1", "3", "4"} {
			if got := l.callsOf(v); got != 1 {
				t.Errorf("calls of message %s: got %d, want 1", v, got)
			}
		}
		if err := r.stop(); err != nil {
			t.Fatalf("Run: got %v, want nil", err)
		}
		labels := map[string]string{"topic": topic}
		if got := metric(t, r.reg, "kafka_consumer_messages_retried_total", labels); got != 2 {
			t.Errorf("retried metric: got %v, want 2", got)
		}
		if got := metric(t, r.reg, "kafka_consumer_messages_failed_total", map[string]string{"topic": topic, "reason": "transient"}); got != 2 {
			t.Errorf("failed metric: got %v, want 2", got)
		}
		if got := metric(t, r.reg, "kafka_consumer_messages_dead_lettered_total", labels); got != 0 {
			t.Errorf("dead-lettered metric: got %v, want 0", got)
		}
		if got := metric(t, r.reg, "kafka_consumer_handle_duration_seconds", labels); got != 7 {
			t.Errorf("handle duration observations: got %v, want 7 (one per call)", got)
		}
	})
}

func TestIntegrationConsumerDeadLettersPermanentErrors(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, start starter) {
		brokers := testinfra.KafkaBrokers(t)
		topic, p := newTopic(t, brokers, 1)
		group := testinfra.UniqueName("group-")

		good1, good2 := encoded(t, 1), encoded(t, 2)
		msgs := []kafka.Message{
			{Topic: topic, Key: good1.Key, Value: good1.Value, Headers: good1.Headers},
			{Topic: topic, Key: []byte("bad-key"), Value: []byte("{not json"), Headers: []kafka.Header{{Key: "traceparent", Value: []byte("00-abc-def-01")}}},
			{Topic: topic, Key: good2.Key, Value: good2.Value, Headers: good2.Headers},
		}
		for i, err := range p.Publish(t.Context(), msgs) {
			if err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}

		l := newJournal()
		before := time.Now()
		r := start(t, kafka.ConsumerConfig{Brokers: brokers, GroupID: group, Topic: topic},
			func(_ context.Context, m kafka.Message) error {
				l.call(strconv.FormatInt(m.Offset, 10))
				e, err := kafka.DecodeEvent(m)
				if err != nil {
					return err
				}
				l.done(strconv.FormatInt(e.OrderID, 10))
				return nil
			}, kafka.ConsumerOptions{})
		l.waitHandled(t, 30*time.Second, []string{"1", "2"})
		if got := l.callsOf("1"); got != 1 {
			t.Errorf("calls of the bad message: got %d, want 1 (no retries for a permanent error)", got)
		}

		dl := readTopic(t, brokers, topic+".dlt", 1)[0]
		if got, want := string(dl.Key), "bad-key"; got != want {
			t.Errorf("dead-letter key: got %q, want %q", got, want)
		}
		if got, want := string(dl.Value), "{not json"; got != want {
			t.Errorf("dead-letter value: got %q, want %q", got, want)
		}
		wantHeaders := map[string]string{
			"traceparent":            "00-abc-def-01",
			"dlt.original.topic":     topic,
			"dlt.original.partition": "0",
			"dlt.original.offset":    "1",
			"dlt.consumer.group":     group,
			"dlt.attempts":           "1",
			"dlt.reason":             "permanent",
		}
		for k, want := range wantHeaders {
			if got, ok := header(dl, k); !ok || got != want {
				t.Errorf("header %s: got %q (present: %v), want %q", k, got, ok, want)
			}
		}
		if got, _ := header(dl, "dlt.error"); !strings.Contains(got, "cannot decode order event") {
			t.Errorf("header dlt.error: got %q, want the decode error", got)
		}
		ts, _ := header(dl, "dlt.time")
		at, err := time.Parse(time.RFC3339, ts)
		if err != nil || at.Before(before.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
			t.Errorf("header dlt.time: got %q (%v), want an RFC 3339 time during the test", ts, err)
		}

		if err := r.stop(); err != nil {
			t.Fatalf("Run: got %v, want nil", err)
		}
		if got := metric(t, r.reg, "kafka_consumer_messages_dead_lettered_total", map[string]string{"topic": topic, "reason": "permanent"}); got != 1 {
			t.Errorf("dead-lettered metric: got %v, want 1", got)
		}
		if got := metric(t, r.reg, "kafka_consumer_messages_failed_total", map[string]string{"topic": topic, "reason": "permanent"}); got != 1 {
			t.Errorf("failed metric: got %v, want 1", got)
		}
	})
}

// TestIntegrationConsumerRetriesTransientFailuresUntilTheyPass: a
// message whose handler fails with a transient error, attempt after
// attempt, is retried (with backoff, its partition held) until it passes,
// then the next one is handled: nothing transient is ever dead-lettered.
func TestIntegrationConsumerRetriesTransientFailuresUntilTheyPass(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, start starter) {
		brokers := testinfra.KafkaBrokers(t)
		topic, p := newTopic(t, brokers, 1)
		produce(t, p, topic, []string{"slow", "fine"}, sameKey)

		const failures = 6 // 100+200+400+800+1600ms of backoff, then it passes
		l := newJournal()
		r := start(t, kafka.ConsumerConfig{Brokers: brokers, GroupID: testinfra.UniqueName("group-"), Topic: topic},
			func(_ context.Context, m kafka.Message) error {
				v := string(m.Value)
				if n := l.call(v); v == "slow" && n <= failures {
					return errors.New("database is read-only")
				}
				l.done(v)
				return nil
			}, kafka.ConsumerOptions{})
		l.waitHandled(t, 60*time.Second, []string{"slow", "fine"})
		if got := l.callsOf("slow"); got != failures+1 {
			t.Errorf("attempts on the slow message: got %d, want %d", got, failures+1)
		}
		if err := r.stop(); err != nil {
			t.Fatalf("Run: got %v, want nil", err)
		}
		if got := metric(t, r.reg, "kafka_consumer_messages_dead_lettered_total", map[string]string{"topic": topic}); got != 0 {
			t.Errorf("dead-lettered metric: got %v, want 0", got)
		}
		if got := metric(t, r.reg, "kafka_consumer_messages_retried_total", map[string]string{"topic": topic}); got != failures {
			t.Errorf("retried metric: got %v, want %d", got, failures)
		}
	})
}

// TestIntegrationConsumerDeadLettersARecordItPanicsOn: a handler that
// panics on a record time after time has a bug this record triggers, which
// no retry fixes: after maxPanics panics in a row the record goes to the
// dead-letter topic as "panicked", and the partition moves on.
func TestIntegrationConsumerDeadLettersARecordItPanicsOn(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, start starter) {
		brokers := testinfra.KafkaBrokers(t)
		topic, p := newTopic(t, brokers, 1)
		produce(t, p, topic, []string{"bad", "fine"}, sameKey)
		l := newJournal()
		r := start(t, kafka.ConsumerConfig{Brokers: brokers, GroupID: testinfra.UniqueName("group-"), Topic: topic},
			func(_ context.Context, m kafka.Message) error {
				v := string(m.Value)
				l.call(v)
				if v == "bad" {
					var missing map[string]int
					missing["x"]++ // assignment to entry in nil map
				}
				l.done(v)
				return nil
			}, kafka.ConsumerOptions{})
		l.waitHandled(t, 30*time.Second, []string{"fine"})
		dl := readTopic(t, brokers, topic+".dlt", 1)[0]
		if got, _ := header(dl, "dlt.reason"); got != "panicked" {
			t.Errorf("header dlt.reason: got %q, want panicked", got)
		}
		if got, _ := header(dl, "dlt.attempts"); got != "3" {
			t.Errorf("header dlt.attempts: got %q, want 3", got)
		}
		if err := r.stop(); err != nil {
			t.Fatalf("Run: got %v, want nil", err)
		}
		if got := metric(t, r.reg, "kafka_consumer_messages_dead_lettered_total", map[string]string{"topic": topic, "reason": "panicked"}); got != 1 {
			t.Errorf("dead-lettered metric: got %v, want 1", got)
		}
	})
}

// TestIntegrationConsumerGatePausesAndResumes plays a dependency (say
// Redis) that is down, comes back, and goes down again, with a handler
// that fails while it is down and a gate that pings it: the gate is asked
// only after a failure, consumption holds while it fails without spending
// the retry budget or dead-lettering, and everything is handled once the
// dependency is back.
func TestIntegrationConsumerGatePausesAndResumes(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, start starter) {
		brokers := testinfra.KafkaBrokers(t)
		topic, p := newTopic(t, brokers, 1)
		produce(t, p, topic, seq(0, 5), sameKey)

		const budget = time.Second
		var (
			up        atomic.Bool // the dependency answers while true; down at the start
			gateCalls atomic.Int64
			gateUp    atomic.Int64 // gate calls that passed
			closedAt  atomic.Int64 // gateCalls when the dependency went down in phase 2
			l         = newJournal()
			errDown   = errors.New("redis: connection refused")

			traceMu sync.Mutex
			trace   []handlerCall // every handler call, in order
		)
		r := start(t, kafka.ConsumerConfig{Brokers: brokers, GroupID: testinfra.UniqueName("group-"), Topic: topic},
			func(_ context.Context, m kafka.Message) error {
				v := string(m.Value)
				n := l.call(v)
				err := func() error {
					switch {
					case !up.Load():
						return errDown
					case v == "0" && n == 2:
						// Back, but not quite ready: this failure comes with a
						// passing gate, so the normal rules apply to it.
						return errors.New("redis: LOADING dataset in memory")
					case v == "2" && n == 1:
						// The dependency goes down while handling: the retry must
						// wait for the gate rather than burn the budget.
						up.Store(false)
						closedAt.Store(gateCalls.Load())
						return errDown
					}
					return nil
				}()
				traceMu.Lock()
				trace = append(trace, handlerCall{value: v, call: n, gateCalls: gateCalls.Load(), err: err})
				traceMu.Unlock()
				if err == nil {
					l.done(v)
				}
				return err
			}, kafka.ConsumerOptions{Gate: func(context.Context) error {
				gateCalls.Add(1)
				if up.Load() {
					gateUp.Add(1)
					return nil
				}
				return errors.New("redis: ping: connection refused")
			}})

		// Phase 1: the dependency is down from the start. Message 0's first
		// attempt fails, the gate is asked and fails, and consumption holds:
		// no retry while it fails, though gate checks come every 250ms and
		// eight of them span about twice the retry budget.
		testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
			n := gateCalls.Load()
			return n >= 8, fmt.Sprintf("%d gate calls", n)
		})
		if got := l.callsOf("0"); got != 1 {
			t.Fatalf("calls of message 0 while the gate failed: got %d, want 1 (held, not retried)", got)
		}
		if got := l.snapshot(); len(got) != 0 {
			t.Fatalf("handled %v while the dependency was down, want nothing", got)
		}
		if got := metric(t, r.reg, "kafka_consumer_messages_dead_lettered_total", map[string]string{"topic": topic}); got != 0 {
			t.Fatalf("dead-lettered metric while the gate failed: got %v, want 0", got)
		}
		// Back. Message 0's retry fails once more, now with the gate passing:
		// that failure is retried, not dead-lettered, because the ~2s on hold
		// (twice the budget) and the failure that led to it were not charged.
		up.Store(true)

		// Phase 2: the dependency goes down again during message 2's first
		// attempt.
		testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
			c := closedAt.Load()
			n := gateCalls.Load()
			return c > 0 && n >= c+8, fmt.Sprintf("dependency down at gate call %d, now %d calls", c, n)
		})
		if got := l.callsOf("2"); got != 1 {
			t.Fatalf("calls of message 2 while the gate failed: got %d, want 1", got)
		}
		if got := l.snapshot(); !slices.Equal(got, seq(0, 2)) {
			t.Fatalf("handled %v while the gate failed, want %v", got, seq(0, 2))
		}
		up.Store(true)

		l.waitHandled(t, 30*time.Second, seq(0, 5))
		if err := r.stop(); err != nil {
			t.Fatalf("Run: got %v, want nil", err)
		}
		wantCalls := map[string]int{"0": 3, "1": 1, "2": 2, "3": 1, "4": 1}
		for _, v := range seq(0, 5) {
			if got := l.callsOf(v); got != wantCalls[v] {
				t.Errorf("calls of message %s: got %d, want %d", v, got, wantCalls[v])
			}
		}
		// The gate is asked after a failure only: between a successful call and
		// the next call (or the end), no gate call.
		traceMu.Lock()
		defer traceMu.Unlock()
		for i, c := range trace {
			if c.err != nil {
				continue
			}
			next := gateCalls.Load()
			if i+1 < len(trace) {
				next = trace[i+1].gateCalls
			}
			if next != c.gateCalls {
				t.Errorf("message %s, call %d succeeded: got %d gate calls after it, want 0", c.value, c.call, next-c.gateCalls)
			}
		}
		// Passing gate calls: the one that ends each of the two holds, and the
		// one after message 0's failure while the dependency was up.
		if got := gateUp.Load(); got != 3 {
			t.Errorf("passing gate calls: got %d, want 3", got)
		}
		labels := map[string]string{"topic": topic}
		if got := metric(t, r.reg, "kafka_consumer_messages_dead_lettered_total", labels); got != 0 {
			t.Errorf("dead-lettered metric: got %v, want 0 (time on hold is not charged to the budget)", got)
		}
		if got := metric(t, r.reg, "kafka_consumer_messages_failed_total", map[string]string{"topic": topic, "reason": "transient"}); got != 3 {
			t.Errorf("failed metric: got %v, want 3", got)
		}
		if got := metric(t, r.reg, "kafka_consumer_messages_retried_total", labels); got != 3 {
			t.Errorf("retried metric: got %v, want 3", got)
		}
	})
}

// handlerCall is one handler call as TestIntegrationConsumerGatePausesAndResumes
// records it: the message's value, which call of it this was, the gate
// calls made before it, and its result.
type handlerCall struct {
	value     string
	call      int
	gateCalls int64
	err       error
}

func TestIntegrationConsumerKilledRedeliversUnstored(t *testing.T) {
	t.Parallel()
	brokers := testinfra.KafkaBrokers(t)
	topic, p := newTopic(t, brokers, 1)
	group := testinfra.UniqueName("group-")
	produce(t, p, topic, seq(0, 6), sameKey)

	// A consumer in another process handles 0, 1 and 2, then hangs in the
	// handler of 3 until it is SIGKILLed: no graceful anything.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=1", "HELPER_TOPIC="+topic, "HELPER_GROUP="+group, "HELPER_BLOCK_AT=3", "KAFKA_BROKERS="+brokers)
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	lines := make(chan string)
	go func() { // ends when the process dies and its stdout closes
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(30 * time.Second)
	for blocked := false; !blocked; {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("helper process ended before blocking")
			}
			blocked = line == "blocking 3"
		case <-deadline:
			t.Fatal("helper process did not reach message 3 within 30s")
		}
	}
	// Wait for auto-commit to commit what the helper stored (0-2), so that
	// the next consumer's starting point says exactly what was stored.
	waitCommitted(t, brokers, group, topic, 3)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed = true
	_ = cmd.Wait()
	for range lines { // drain until the pipe closes
	}

	l := newJournal()
	start(t, kafka.ConsumerConfig{Brokers: brokers, GroupID: group, Topic: topic}, func(_ context.Context, m kafka.Message) error {
		l.call(string(m.Value))
		l.done(string(m.Value))
		return nil
	}, kafka.ConsumerOptions{})
	// The group waits for the dead member's session to expire (6s).
	l.waitHandled(t, 30*time.Second, seq(3, 6))
}

// waitCommitted waits until group's committed offset of partition 0 of
// topic is want.
func waitCommitted(t *testing.T, brokers, group, topic string, want int64) {
	t.Helper()
	// A client with the group's id reads its offsets without joining it.
	c, err := ckafka.NewConsumer(&ckafka.ConfigMap{"bootstrap.servers": brokers, "group.id": group})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testinfra.Eventually(t, 15*time.Second, func() (bool, string) {
		offs, err := c.Committed([]ckafka.TopicPartition{{Topic: &topic, Partition: 0}}, 2000)
		if err != nil {
			return false, err.Error()
		}
		got := int64(offs[0].Offset)
		return got == want, fmt.Sprintf("committed offset %d, want %d", got, want)
	})
}

// helperMain is the consumer process of the kill test: it prints
// "handled N" per message and "blocking N" when it reaches HELPER_BLOCK_AT,
// where it hangs until killed.
func helperMain() int {
	blockAt := os.Getenv("HELPER_BLOCK_AT")
	var mu sync.Mutex // the handler and nothing else prints, but be safe
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers: os.Getenv("KAFKA_BROKERS"),
		GroupID: os.Getenv("HELPER_GROUP"),
		Topic:   os.Getenv("HELPER_TOPIC"),
		// Commit stored offsets quickly so the test need not wait 5s.
		Extra: map[string]string{"session.timeout.ms": "6000", "heartbeat.interval.ms": "500", "auto.commit.interval.ms": "100"},
	}, func(_ context.Context, m kafka.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if string(m.Value) == blockAt {
			fmt.Printf("blocking %s\n", m.Value)
			time.Sleep(time.Hour) // killed long before
		}
		fmt.Printf("handled %s\n", m.Value)
		return nil
	}, discard, kafka.ConsumerOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := c.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestIntegrationConsumerRebalanceLosesNothing(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, start starter) {
		brokers := testinfra.KafkaBrokers(t)
		topic, p := newTopic(t, brokers, 4)
		group := testinfra.UniqueName("group-")
		const n, keys = 400, 20
		produce(t, p, topic, seq(0, n), func(i int) string { return strconv.Itoa(i % keys) })

		var (
			mu   sync.Mutex
			seen = map[int][]string{} // value -> consumers that handled it, in order
			byB  int
		)
		handler := func(name string) kafka.Handler {
			return func(_ context.Context, m kafka.Message) error {
				// Simulated work, so that the second member joins while the
				// first is still busy with the backlog.
				time.Sleep(10 * time.Millisecond)
				v, _ := strconv.Atoi(string(m.Value))
				mu.Lock()
				defer mu.Unlock()
				seen[v] = append(seen[v], name)
				if name == "b" {
					byB++
				}
				return nil
			}
		}
		cfg := kafka.ConsumerConfig{Brokers: brokers, GroupID: group, Topic: topic}
		a := start(t, cfg, handler("a"), kafka.ConsumerOptions{})
		testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			return len(seen) >= 20, fmt.Sprintf("%d handled by a", len(seen))
		})
		b := start(t, cfg, handler("b"), kafka.ConsumerOptions{})
		testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			return len(seen) == n, fmt.Sprintf("%d of %d handled, %d by b", len(seen), n, byB)
		})
		for _, r := range []*running{a, b} {
			if err := r.stop(); err != nil {
				t.Errorf("Run: got %v, want nil", err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if byB == 0 {
			t.Error("b handled nothing, want it to take over partitions from a")
		}
		for v, who := range seen {
			// Partitions handed over on revocation have their offsets
			// committed first, so the new owner starts right after.
			if len(who) != 1 {
				t.Errorf("message %d handled %d times (%v), want once", v, len(who), who)
			}
		}
	})
}

func TestIntegrationConsumerPing(t *testing.T) {
	t.Parallel()
	brokers := testinfra.KafkaBrokers(t)
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: brokers, GroupID: testinfra.UniqueName("group-")}, nopHandler, discard, kafka.ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(t.Context()); err != nil {
		t.Errorf("Ping: got %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Run on a cancelled context: joins nothing, closes the client cleanly.
	if err := c.Run(ctx); err != nil {
		t.Errorf("Run with a cancelled context: got %v, want nil", err)
	}
	if err := c.Run(ctx); err == nil {
		t.Error("second Run: got nil, want an error")
	}

	dead, err := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: "127.0.0.1:1", GroupID: "g"}, nopHandler, discard, kafka.ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := dead.Ping(ctx); err == nil {
		t.Error("Ping of an unreachable broker: got nil, want an error")
	}
	_ = dead.Run(ctx) // closes it
}

// TestIntegrationConsumerBatches checks what only the batch path does: a
// backlog reaches the batch handler in batches of more than one message
// and at most 64, in order per partition; a message the batch fails on
// goes through the one-by-one path (here: dead-lettered) while the rest
// go on in batches; a panicking batch costs nothing but a detour of its
// first message through the Handler; and the stored offsets are
// committed, so a new member of the group handles nothing again.
func TestIntegrationConsumerBatches(t *testing.T) {
	t.Parallel()
	brokers := testinfra.KafkaBrokers(t)
	topic, p := newTopic(t, brokers, 2)
	group := testinfra.UniqueName("group-")
	cfg := kafka.ConsumerConfig{Brokers: brokers, GroupID: group, Topic: topic}
	const n = 400
	key := func(i int) string { return strconv.Itoa(i % 2) }
	produce(t, p, topic, seq(0, n), key)

	var (
		mu      sync.Mutex
		sizes   []int
		handled = map[int]int{}    // value -> times handled by either handler
		last    = map[string]int{} // key -> last value handled
		single  []string           // values the Handler got
		order   []string           // order violations
	)
	record := func(m kafka.Message) {
		v, _ := strconv.Atoi(string(m.Value))
		k := string(m.Key)
		if prev, ok := last[k]; ok && v <= prev {
			order = append(order, fmt.Sprintf("%d after %d on key %s", v, prev, k))
		}
		last[k] = v
		handled[v]++
	}
	h := func(_ context.Context, m kafka.Message) error {
		mu.Lock()
		defer mu.Unlock()
		single = append(single, string(m.Value))
		if string(m.Value) == "150" {
			return kafka.Permanent(errors.New("poison"))
		}
		record(m)
		return nil
	}
	batch := func(_ []context.Context, ms []kafka.Message) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, len(ms))
		for i, m := range ms {
			if string(m.Value) == "300" && i > 0 {
				panic("the batch handler trips on 300")
			}
		}
		for i, m := range ms {
			if string(m.Value) == "150" {
				return i, kafka.Permanent(errors.New("poison"))
			}
			record(m)
		}
		return len(ms), nil
	}
	r := start(t, cfg, h, kafka.ConsumerOptions{Batch: batch})
	testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == n-1, fmt.Sprintf("%d of %d handled", len(handled), n-1)
	})
	dl := readTopic(t, brokers, topic+".dlt", 1)[0]
	if got := string(dl.Value); got != "150" {
		t.Errorf("dead-lettered value: got %q, want 150", got)
	}
	if got, _ := header(dl, "dlt.attempts"); got != "1" {
		t.Errorf("header dlt.attempts: got %q, want 1 (the batch's attempt)", got)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run: got %v, want nil", err)
	}

	mu.Lock()
	if len(order) > 0 {
		t.Errorf("order within a key broken: %v", order)
	}
	for v, times := range handled {
		if times != 1 {
			t.Errorf("value %d handled %d times, want once", v, times)
		}
	}
	if got := slices.Max(sizes); got < 2 || got > 64 {
		t.Errorf("largest batch: got %d, want 2 to 64 (a backlog of %d)", got, n)
	}
	// The batch's failure on 150 was its first attempt: a permanent error
	// dead-letters it without a second one. Each panicking batch sent its
	// first message to the Handler, until 300 came first.
	if len(single) == 0 {
		t.Error("no value handled one by one, want those that came first in the batches that panicked")
	}
	for _, v := range single {
		if i, _ := strconv.Atoi(v); i >= 300 || i == 150 {
			t.Errorf("value %s handled one by one, want only values before 300, 150 not among them", v)
		}
	}
	mu.Unlock()
	labels := map[string]string{"topic": topic}
	if got := metric(t, r.reg, "kafka_consumer_messages_handled_total", labels); got != n-1 {
		t.Errorf("handled metric: got %v, want %d", got, n-1)
	}
	if got := metric(t, r.reg, "kafka_consumer_messages_dead_lettered_total", map[string]string{"topic": topic, "reason": "permanent"}); got != 1 {
		t.Errorf("dead-lettered metric: got %v, want 1", got)
	}

	// Everything stored was committed: a new member gets only a sentinel.
	produce(t, p, topic, []string{"sentinel-0", "sentinel-1"}, key)
	next := newJournal()
	start(t, cfg, func(_ context.Context, m kafka.Message) error {
		next.call(string(m.Value))
		next.done(string(m.Value))
		return nil
	}, kafka.ConsumerOptions{})
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		got := next.snapshot()
		slices.Sort(got)
		if len(got) > 2 || (len(got) > 0 && !strings.HasPrefix(got[0], "sentinel")) {
			t.Fatalf("new member handled %v, want the two sentinels only", got)
		}
		return len(got) == 2, fmt.Sprintf("new member handled %v", got)
	})
}
