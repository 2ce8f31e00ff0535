package outbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/services/orders-service/internal/outbox"
)

// metricValues gathers reg and returns, by name, the value of each
// unlabelled counter or gauge, and each histogram's sample count.
func metricValues(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("cannot gather: %v", err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch {
		case m.GetCounter() != nil:
			got[mf.GetName()] = m.GetCounter().GetValue()
		case m.GetHistogram() != nil:
			got[mf.GetName()] = float64(m.GetHistogram().GetSampleCount())
		default:
			got[mf.GetName()] = m.GetGauge().GetValue()
		}
	}
	return got
}

func TestIntegrationBacklogCollector(t *testing.T) {
	f := newFixture(t, "")
	reg := prometheus.NewRegistry()
	reg.MustRegister(outbox.NewBacklogCollector(f.pool, testLogger(t)))

	got := metricValues(t, reg)
	if got["outbox_backlog_messages"] != 0 || got["outbox_oldest_message_age_seconds"] != 0 {
		t.Errorf("empty outbox: got %v, want size 0 and age 0", got)
	}

	f.create(t, "Alice")
	f.create(t, "Bob")
	if _, err := f.pool.Exec(t.Context(),
		"UPDATE outbox SET created_at = now() - interval '90 seconds' WHERE id = (SELECT min(id) FROM outbox)"); err != nil {
		t.Fatal(err)
	}
	got = metricValues(t, reg)
	if size, age := got["outbox_backlog_messages"], got["outbox_oldest_message_age_seconds"]; size != 2 || age < 90 || age > 120 {
		t.Errorf("two rows, the oldest 90s old: got size %v age %v, want 2 and 90s to 120s", size, age)
	}
}

// errRow is the row of a query that failed.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type failingDB struct{}

func (failingDB) QueryRow(context.Context, string, ...any) pgx.Row {
	return errRow{errors.New("connection refused")}
}

func TestBacklogCollectorDatabaseDown(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(outbox.NewBacklogCollector(failingDB{}, slog.New(slog.NewTextHandler(io.Discard, nil))))
	// The scrape still succeeds, without the two gauges: a failed
	// collection would make the whole /metrics answer an error.
	if got := metricValues(t, reg); len(got) != 0 {
		t.Errorf("got %v, want no backlog metrics while the database is down", got)
	}
}

// scriptedPublisher answers each Send with errs.
type scriptedPublisher struct{ errs []error }

func (p scriptedPublisher) Send(_ context.Context, msgs []kafka.Message) func() []error {
	return func() []error { return p.errs[:len(msgs)] }
}

func TestMeteredPublisher(t *testing.T) {
	refused := errors.New("broker did not take message")
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name                                   string
		ctx                                    context.Context
		errs                                   []error
		wantPublished, wantErrors, wantBatches float64
	}{
		{"all acknowledged", t.Context(), []error{nil, nil, nil}, 3, 0, 1},
		{"some refused", t.Context(), []error{nil, refused, refused}, 1, 2, 1},
		// Cut short by shutdown: neither an error nor a latency sample.
		{"shutdown", cancelled, []error{nil, context.Canceled}, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			pub, err := outbox.NewMeteredPublisher(scriptedPublisher{tt.errs}, reg)
			if err != nil {
				t.Fatal(err)
			}
			got := pub.Send(tt.ctx, make([]kafka.Message, len(tt.errs)))()
			for i := range got {
				if got[i] != tt.errs[i] {
					t.Errorf("message %d: got error %v, want %v passed through", i, got[i], tt.errs[i])
				}
			}
			values := metricValues(t, reg)
			if got, want := [3]float64{values["outbox_published_messages_total"], values["outbox_publish_errors_total"],
				values["outbox_publish_duration_seconds"]}, [3]float64{tt.wantPublished, tt.wantErrors, tt.wantBatches}; got != want {
				t.Errorf("got published, errors, batches timed %v, want %v", got, want)
			}
		})
	}
}
