//go:build chaos

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/order-tracking/platform/pkg/testinfra"
)

// This file holds the fault suite's parts (chaos_test.go drives them): its
// own infrastructure, a load balancer in front of the replicas, the
// webhook receiver that stands for the notification provider, and the
// readers that watch the topics.

// infra is the suite's own PostgreSQL, Redis and Kafka, started by
// hack/devenv.sh on ports of their own, so that a fault never touches
// the servers the other tests or a `make run` use.
type infra struct {
	root string
	env  []string
	// The connection settings `devenv.sh env` prints.
	databaseURL, redisAddr, brokers string
}

// chaosPorts are the suite's servers' ports: beside the default ones
// (5432, 6379, 9092), far enough not to collide.
const chaosPGPort, chaosRedisPort, chaosKafkaPort = 25432, 26379, 29092

func startInfra(t *testing.T) *infra {
	t.Helper()
	root := repoRoot(t)
	in := &infra{root: root, env: append(os.Environ(),
		"DEVENV_DIR="+filepath.Join(root, ".devenv", "chaos"),
		"PGPORT="+strconv.Itoa(chaosPGPort), "REDIS_PORT="+strconv.Itoa(chaosRedisPort),
		"KAFKA_PORT="+strconv.Itoa(chaosKafkaPort))}
	out := in.devenv(t, "up")
	for line := range strings.Lines(out) {
		k, v, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "export "), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, "'")
		switch k {
		case "DATABASE_URL":
			in.databaseURL = v
		case "REDIS_ADDR":
			in.redisAddr = v
		case "KAFKA_BROKERS":
			in.brokers = v
		}
	}
	if in.databaseURL == "" || in.redisAddr == "" || in.brokers == "" {
		t.Fatalf("devenv.sh up printed no connection settings:\n%s", out)
	}
	t.Cleanup(func() { in.devenv(t, "down") })
	return in
}

// devenv runs hack/devenv.sh with the suite's ports and returns its stdout.
func (in *infra) devenv(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(in.root, "hack", "devenv.sh"), args...)
	cmd.Env = in.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("devenv.sh %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// signal sends sig to every process of server (postgres, redis, kafka).
func (in *infra) signal(t *testing.T, server string, sig syscall.Signal) {
	t.Helper()
	for f := range strings.FieldsSeq(in.devenv(t, "pids", server)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("devenv.sh pids %s: %q is not a pid", server, f)
		}
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("cannot send %v to %s (%d): %v", sig, server, pid, err)
		}
	}
}

// kill SIGKILLs server's processes and waits until they are gone, so that
// a start after it finds the port free.
func (in *infra) kill(t *testing.T, server string) {
	t.Helper()
	pids := strings.Fields(in.devenv(t, "pids", server))
	in.signal(t, server, syscall.SIGKILL)
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		for _, pid := range pids {
			// Gone, or a zombie its new parent has not reaped yet.
			stat, err := os.ReadFile("/proc/" + pid + "/stat")
			if err == nil && !strings.Contains(string(stat), ") Z ") {
				return false, server + " process " + pid + " still runs"
			}
		}
		return true, ""
	})
}

// signal sends sig to the service's process without waiting for anything:
// SIGSTOP and SIGCONT freeze and thaw it.
func (s *service) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		t.Fatalf("%s is not running", s.name)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("cannot send %v to %s: %v", sig, s.name, err)
	}
}

// balancer spreads requests over a service's replicas as a Kubernetes
// Service does: only to replicas whose /readyz answered lately, so a
// killed or frozen replica drops out after a failed probe or two, and
// comes back once it answers again.
type balancer struct {
	backends []*service
	ready    []atomic.Bool
	next     atomic.Uint64
	proxy    *httputil.ReverseProxy
	srv      *http.Server
	addr     string
}

// probeEvery and probeTimeout are the balancer's readiness probe: faster
// than Kubernetes' defaults, so that the suite's convergence measures the
// platform, not the probe.
const probeEvery, probeTimeout = 500 * time.Millisecond, time.Second

func newBalancer(t *testing.T, ctx context.Context, backends ...*service) *balancer {
	t.Helper()
	b := &balancer{backends: backends, ready: make([]atomic.Bool, len(backends))}
	b.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(r.In.Context().Value(backendKey{}).(*url.URL))
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "balancer: "+err.Error(), http.StatusBadGateway)
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = l.Addr().String()
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = b.srv.Serve(l) }() // ends with Close below
	t.Cleanup(func() { _ = b.srv.Close() })
	for i := range backends {
		go b.probe(ctx, i) // ends with ctx
	}
	return b
}

type backendKey struct{}

func (b *balancer) url(path string) string { return "http://" + b.addr + path }

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := uint64(len(b.backends))
	start := b.next.Add(1)
	for i := range n {
		k := (start + i) % n
		if !b.ready[k].Load() {
			continue
		}
		u, _ := url.Parse(b.backends[k].url(""))
		b.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, u)))
		return
	}
	http.Error(w, "balancer: no ready replica", http.StatusServiceUnavailable)
}

// probe keeps ready[i] up to date: out after two failed probes, in after one
// good one.
func (b *balancer) probe(ctx context.Context, i int) {
	client := &http.Client{Timeout: probeTimeout}
	failed := 0
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for {
		ok := false
		if resp, err := client.Get(b.backends[i].url("/readyz")); err == nil {
			ok = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
		if ok {
			failed = 0
			b.ready[i].Store(true)
		} else if failed++; failed >= 2 {
			b.ready[i].Store(false)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// receiver stands for the email/SMS provider notification-service's
// webhook sender posts to. Like a provider that honours Idempotency-Key,
// it accepts a notification once per key and answers a repeat without
// delivering it again; it counts what a customer would have received.
type receiver struct {
	addr string

	mu  sync.Mutex
	srv *http.Server
	// keys are the Idempotency-Key+channel pairs delivered.
	keys map[string]bool
	// delivered counts deliveries per order, channel and version; more
	// than one is a duplicate the customer saw.
	delivered map[notificationKey]int
	// newest is the newest version delivered per order and channel; a
	// delivery older than it reached the customer out of date.
	newest    map[notificationKey]int64
	repeats   int // repeats absorbed by Idempotency-Key
	outOfDate int
}

type notificationKey struct {
	order   int64
	channel string
	version int64 // 0 in newest's keys
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{addr: l.Addr().String(), keys: map[string]bool{},
		delivered: map[notificationKey]int{}, newest: map[notificationKey]int64{}}
	r.serve(l)
	t.Cleanup(r.down)
	return r
}

func (r *receiver) url() string { return "http://" + r.addr + "/notify" }

func (r *receiver) serve(l net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 5 * time.Second}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(l) }() // ends with down
}

// down stops the receiver: connections are refused until up.
func (r *receiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// up listens again on the same address.
func (r *receiver) up(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", r.addr)
	if err != nil {
		t.Fatalf("receiver cannot listen on %s again: %v", r.addr, err)
	}
	r.serve(l)
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	var n struct {
		OrderID int64  `json:"orderId"`
		Channel string `json:"channel"`
		Version int64  `json:"version"`
	}
	key := req.Header.Get("Idempotency-Key")
	if err := json.NewDecoder(req.Body).Decode(&n); err != nil || key == "" || n.OrderID <= 0 || n.Version <= 0 {
		http.Error(w, "want a notification with orderId, channel, version and an Idempotency-Key", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys[key+"/"+n.Channel] {
		r.repeats++
		w.WriteHeader(http.StatusOK)
		return
	}
	r.keys[key+"/"+n.Channel] = true
	r.delivered[notificationKey{n.OrderID, n.Channel, n.Version}]++
	latest := notificationKey{order: n.OrderID, channel: n.Channel}
	if n.Version < r.newest[latest] {
		r.outOfDate++
	}
	r.newest[latest] = max(r.newest[latest], n.Version)
	w.WriteHeader(http.StatusAccepted)
}

// counts returns the duplicates (deliveries beyond the first of an
// order, channel and version), the repeats absorbed by Idempotency-Key
// and the out-of-date deliveries so far.
func (r *receiver) counts() (duplicates, repeats, outOfDate int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.delivered {
		duplicates += n - 1
	}
	return duplicates, r.repeats, r.outOfDate
}

// total returns the deliveries and repeats so far.
func (r *receiver) total() (delivered, repeats int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys), r.repeats
}

// has reports whether the notification of order's version was delivered.
func (r *receiver) has(order int64, channel string, version int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.delivered[notificationKey{order, channel, version}] > 0
}

// topicReader reads a topic from its start for as long as the suite runs,
// through every broker outage (librdkafka reconnects), and keeps what the
// checks need: the versions of every order on order-events, the records of
// the dead-letter topic.
type topicReader struct {
	mu sync.Mutex
	// versions holds, per order, the versions its events carried.
	versions map[int64]map[int64]bool
	// records counts the records read; healthy counts those that are a
	// well-formed event.
	records, healthy int
}

// event is what the readers decode of a record.
type event struct {
	ID      string `json:"eventId"`
	Type    string `json:"eventType"`
	OrderID int64  `json:"orderId"`
	Version int64  `json:"version"`
}

// wellFormed reports whether value is an event a consumer can handle: the
// dead-letter topic must hold none of those.
func wellFormed(value []byte) (event, bool) {
	var e event
	if json.Unmarshal(value, &e) != nil {
		return e, false
	}
	return e, e.ID != "" && (e.Type == "OrderCreatedEvent" || e.Type == "OrderUpdatedEvent") && e.OrderID > 0 && e.Version > 0
}

func newTopicReader(t *testing.T, ctx context.Context, brokers, topic string, partitions int) *topicReader {
	t.Helper()
	r := &topicReader{versions: map[int64]map[int64]bool{}}
	c, err := ckafka.NewConsumer(&ckafka.ConfigMap{
		"bootstrap.servers": brokers, "group.id": "chaos-reader", "enable.auto.commit": false,
		"log_level": 0, // broker outages are the point: the suite's output is the table, not librdkafka's complaints
	})
	if err != nil {
		t.Fatal(err)
	}
	var tps []ckafka.TopicPartition
	for p := range partitions {
		tps = append(tps, ckafka.TopicPartition{Topic: &topic, Partition: int32(p), Offset: ckafka.OffsetBeginning})
	}
	if err := c.Assign(tps); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			m, err := c.ReadMessage(200 * time.Millisecond)
			if err != nil {
				continue // a timeout, or the broker away: librdkafka retries
			}
			e, ok := wellFormed(m.Value)
			r.mu.Lock()
			r.records++
			if ok {
				r.healthy++
				if r.versions[e.OrderID] == nil {
					r.versions[e.OrderID] = map[int64]bool{}
				}
				r.versions[e.OrderID][e.Version] = true
			}
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { <-done; c.Close() })
	return r
}

// has reports whether order's event of version was read.
func (r *topicReader) has(order, version int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.versions[order][version]
}

func (r *topicReader) counts() (records, healthy int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.records, r.healthy
}

// createTopics makes the topic and its dead-letter topic before anything
// runs, so the readers can be assigned their partitions from the start.
func createTopics(t *testing.T, brokers string, partitions int, names ...string) {
	t.Helper()
	admin, err := ckafka.NewAdminClient(&ckafka.ConfigMap{"bootstrap.servers": brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var specs []ckafka.TopicSpecification
	for _, n := range names {
		specs = append(specs, ckafka.TopicSpecification{Topic: n, NumPartitions: partitions, ReplicationFactor: 1})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := admin.CreateTopics(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Error.Code() != ckafka.ErrNoError && r.Error.Code() != ckafka.ErrTopicAlreadyExists {
			t.Fatalf("cannot create topic %s: %v", r.Topic, r.Error)
		}
	}
}
