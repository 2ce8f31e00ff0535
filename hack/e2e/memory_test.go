package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/order-tracking/platform/pkg/testinfra"
)

// TestIntegrationFetchAllOrdersMemoryFlat: GET /orders/fetchAllOrders over
// 200,000 orders answers every one of them and raises orders-service's
// resident memory by less than 20 MB at its peak (issue 12). The answer
// itself is about 40 MB of JSON, so a service that held every order, or the
// whole body, before writing would fail; one that streams pages of 1,000
// holds one page at a time.
func TestIntegrationFetchAllOrdersMemoryFlat(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the service's memory from /proc/PID/status, which only Linux has")
	}
	const (
		bulk   = 200_000
		budget = 20 << 20 // bytes of peak RSS above the baseline
	)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	db := testinfra.NewDatabase(t)
	brokers := testinfra.KafkaBrokers(t)
	// buildServices builds without -race, so what is measured is the
	// binary users run, not one with the race detector's shadow memory.
	bin := buildServices(t, "orders-service")["orders-service"]
	s := newService(t, "orders-service", bin, map[string]string{
		"DATABASE_URL": db, "KAFKA_BROKERS": brokers, "KAFKA_TOPIC": testinfra.UniqueName("e2e-memory-"),
		"AUTH_MODE": "off", "RATE_LIMIT_PER_SECOND": "0",
	})
	s.start(t) // runs the migrations the insert below needs
	c := newClient()

	// One order through the API, so the list mixes the service's own
	// writes with the bulk rows, and the warm-up below has one to read.
	var created struct {
		ID int64 `json:"id"`
	}
	code, _, err := c.do(ctx, http.MethodPost, s.url("/orders/createOrder"), `{"customerName":"Ada","item":"Lamp","quantity":1}`, nil, &created)
	if err != nil || code != http.StatusCreated || created.ID == 0 {
		t.Fatalf("createOrder: got %d id %d (%v), want 201 with an id", code, created.ID, err)
	}
	start := time.Now()
	memInsertOrders(t, ctx, db, bulk)
	t.Logf("inserted %d orders in %s", bulk, time.Since(start).Round(time.Millisecond))

	// Warm-up: the same handler, store and pool, with one order, so that
	// what the baseline leaves out is only what the size of the table costs.
	code, _, body, err := c.raw(ctx, http.MethodGet, s.url("/orders/fetchAllOrders?id="+strconv.FormatInt(created.ID, 10)), "", nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("warm-up fetchAllOrders?id=%d: got %d %s (%v), want 200", created.ID, code, body, err)
	}

	pid := s.memPID(t)
	memResetPeak(t, pid)
	base := memRead(t, pid)
	start = time.Now()
	n, err := memCountOrders(ctx, s.url("/orders/fetchAllOrders"))
	took := time.Since(start)
	after := memRead(t, pid)
	if err != nil {
		t.Fatalf("fetchAllOrders after %d orders: %v", n, err)
	}
	if want := bulk + 1; n != want {
		t.Errorf("fetchAllOrders: got %d orders, want %d", n, want)
	}
	delta := after.peak - base.peak
	t.Logf("fetchAllOrders: %d orders in %s; orders-service RSS before %.1f MB (peak reset to %.1f MB), peak during %.1f MB, after %.1f MB: peak - baseline = %.1f MB (budget %d MB)",
		n, took.Round(time.Millisecond), memMB(base.rss), memMB(base.peak), memMB(after.peak), memMB(after.rss), memMB(delta), budget>>20)
	if delta >= budget {
		t.Errorf("fetchAllOrders over %d orders raised orders-service's peak RSS by %.1f MB, want under %d MB", n, memMB(delta), budget>>20)
	}
}

// memInsertOrders writes n orders straight into the database, as the
// service would have (a tracking code each, a history row at version 1,
// no owner since auth is off), in one statement: through the API, 200,000
// would take minutes.
func memInsertOrders(t *testing.T, ctx context.Context, databaseURL string, n int) {
	t.Helper()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		t.Fatalf("cannot connect to the test database: %v", err)
	}
	defer conn.Close(context.Background())
	// The id comes from the identity column's sequence, which the service
	// also draws its id blocks from, so none collides with one it hands out.
	// The tracking code has the service's form, trk_ and 32 hex digits.
	const insert = `
WITH o AS (
    INSERT INTO orders (customer_name, item, quantity, status, tracking_code)
    SELECT 'Customer ' || g, 'Item ' || (g % 500), 1 + g % 10,
           (ARRAY['PENDING', 'CONFIRMED', 'SHIPPED', 'OUT_FOR_DELIVERY', 'DELIVERED', 'CANCELLED'])[1 + g % 6],
           'trk_' || md5('e2e-memory-' || g)
    FROM generate_series(1, $1::int) AS g
    RETURNING id, version, status, updated_at
)
INSERT INTO order_status_history (order_id, version, status, at)
SELECT id, version, status, updated_at FROM o`
	if _, err := conn.Exec(ctx, insert, n); err != nil {
		t.Fatalf("cannot insert %d orders: %v", n, err)
	}
	// Statistics now rather than whenever autovacuum gets to them, so the
	// pages are planned as they would be on a table that has grown.
	if _, err := conn.Exec(ctx, "ANALYZE orders"); err != nil {
		t.Fatalf("cannot analyze orders: %v", err)
	}
}

// memCountOrders reads GET url's JSON array of orders as it arrives,
// keeping none of them, and returns how many there were. It fails on
// anything but a whole array of orders in increasing id order, each once:
// a cut-off answer (the service's way of reporting an error mid-stream)
// is an error, not a short count.
func memCountOrders(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	// No client timeout: ctx bounds the whole answer, which takes longer
	// than newClient's 10s allows on a loaded machine.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("got status %s, want 200", resp.Status)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(resp.Body, 64<<10))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return 0, fmt.Errorf("got %v (%v) at the start, want [", tok, err)
	}
	n, last := 0, int64(0)
	for dec.More() {
		var o struct {
			ID int64 `json:"id"`
		}
		if err := dec.Decode(&o); err != nil {
			return n, fmt.Errorf("order %d: %w", n+1, err)
		}
		if o.ID <= last {
			return n, fmt.Errorf("order %d has id %d after %d, want increasing ids", n+1, o.ID, last)
		}
		n, last = n+1, o.ID
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
		return n, fmt.Errorf("got %v (%v) after %d orders, want ]", tok, err, n)
	}
	return n, nil
}

// memPID returns the service's process id, to read its memory from /proc.
func (s *service) memPID(t *testing.T) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		t.Fatalf("%s is not running", s.name)
	}
	return s.cmd.Process.Pid
}

// memUsage is a process's resident memory, in bytes.
type memUsage struct {
	rss  int64 // VmRSS: now
	peak int64 // VmHWM: the highest since start or the last memResetPeak
}

// memResetPeak sets the process's VmHWM back to its current RSS (Linux
// 4.0 and later), so that the next peak is the one of what follows, not
// of the start-up or the warm-up.
func memResetPeak(t *testing.T, pid int) {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Fatalf("cannot reset the peak RSS of process %d: %v", pid, err)
	}
}

// memRead reads VmRSS and VmHWM from /proc/PID/status.
func memRead(t *testing.T, pid int) memUsage {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("cannot read the memory of process %d: %v", pid, err)
	}
	var u memUsage
	fields := map[string]*int64{"VmRSS:": &u.rss, "VmHWM:": &u.peak}
	for line := range bytes.Lines(status) {
		f := bytes.Fields(line) // "VmRSS:", "12345", "kB"
		if len(f) != 3 || fields[string(f[0])] == nil {
			continue
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			t.Fatalf("process %d: cannot parse %q: %v", pid, line, err)
		}
		*fields[string(f[0])] = kb << 10
	}
	if u.rss == 0 || u.peak == 0 {
		t.Fatalf("process %d: no VmRSS and VmHWM in\n%s", pid, status)
	}
	return u
}

func memMB(b int64) float64 { return float64(b) / (1 << 20) }
