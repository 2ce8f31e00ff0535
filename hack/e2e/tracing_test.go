package e2e

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/order-tracking/platform/pkg/testinfra"
)

// span is one exported span, flattened for assertions; IDs are in hex.
type span struct {
	service     string
	resource    map[string]string
	traceID, id string
	parent      string
	name        string
	kind        tracepb.Span_SpanKind
	links       []string // span IDs
	attrs       map[string]string
	statusErr   bool
}

// otlpReceiver is an OTLP/HTTP trace endpoint that keeps every span it is
// sent in memory: the services, as separate processes, export to it as
// they would to a collector.
type otlpReceiver struct {
	url string

	mu    sync.Mutex
	spans []span
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	// Registered before the services start, so it closes after they have
	// stopped and flushed.
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *otlpReceiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		http.Error(w, "not an OTLP trace export", http.StatusNotFound)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var export coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &export); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var got []span
	for _, rs := range export.ResourceSpans {
		res := attrMap(rs.GetResource().GetAttributes())
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := span{
					service: res["service.name"], resource: res,
					traceID: hex.EncodeToString(s.TraceId), id: hex.EncodeToString(s.SpanId),
					parent: hex.EncodeToString(s.ParentSpanId), name: s.Name, kind: s.Kind,
					attrs: attrMap(s.Attributes), statusErr: s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
				}
				for _, l := range s.Links {
					sp.links = append(sp.links, hex.EncodeToString(l.SpanId))
				}
				got = append(got, sp)
			}
		}
	}
	r.mu.Lock()
	r.spans = append(r.spans, got...)
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// trace returns the spans of traceID received so far.
func (r *otlpReceiver) trace(traceID string) []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []span
	for _, s := range r.spans {
		if s.traceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

// attrMap renders attributes as strings, numbers in decimal.
func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = fmt.Sprint(v.IntValue)
		case *commonpb.AnyValue_BoolValue:
			m[kv.Key] = fmt.Sprint(v.BoolValue)
		case *commonpb.AnyValue_DoubleValue:
			m[kv.Key] = fmt.Sprint(v.DoubleValue)
		}
	}
	return m
}

// TestIntegrationTrace follows one order through the three services, each
// run as a process exporting its spans over OTLP/HTTP to a receiver in this
// test, and checks that they make one trace: the create request's server
// span in orders-service; the relay's publish span, its child, though
// published later from the outbox; in tracking-service and in
// notification-service a process span, child of the publish span and
// linked to it; the database, Redis and notification work inside those;
// and log lines that name the trace.
func TestIntegrationTrace(t *testing.T) {
	rcv := newOTLPReceiver(t)
	p := startPlatform(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.url,
		// Spans leave each process 100ms after they end, not 5s.
		"OTEL_BSP_SCHEDULE_DELAY": "100",
		"OTEL_TRACES_SAMPLER":     "parentbased_always_on",
		"K8S_POD_NAME":            "e2e-pod",
		"K8S_NAMESPACE":           "e2e",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The test is the caller: its traceparent puts the request in a trace
	// the test knows, with the test's span as the server span's parent.
	traceID, callerSpan := randomHex(t, 16), randomHex(t, 8)
	var o orderJSON
	code, _, err := p.c.do(ctx, "POST", p.orders.url("/api/v1/orders"), `{"customerName":"trace","item":"lamp","quantity":1}`,
		map[string]string{"traceparent": "00-" + traceID + "-" + callerSpan + "-01"}, &o)
	if err != nil || code != 201 {
		t.Fatalf("create: got %d %v, want 201", code, err)
	}

	publishName, processName := "publish "+p.topic, "process "+p.topic
	var (
		server, publish, relay *span
		processes              map[string]*span // by service
		spans                  []span
	)
	testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
		spans = rcv.trace(traceID)
		server = find(spans, func(s span) bool {
			return s.service == "orders-service" && s.kind == tracepb.Span_SPAN_KIND_SERVER && s.parent == callerSpan
		})
		if server == nil {
			return false, fmt.Sprintf("no server span of orders-service with the caller as parent among %d spans of the trace", len(spans))
		}
		publish = find(spans, func(s span) bool {
			return s.service == "orders-service" && s.name == publishName && s.parent == server.id
		})
		if publish == nil {
			return false, "no " + publishName + " span of orders-service, child of the server span"
		}
		processes = map[string]*span{}
		for _, svc := range []string{"tracking-service", "notification-service"} {
			processes[svc] = find(spans, func(s span) bool {
				return s.service == svc && s.name == processName && s.parent == publish.id
			})
			if processes[svc] == nil {
				return false, "no " + processName + " span of " + svc + ", child of the publish span"
			}
		}
		if find(spans, func(s span) bool { return s.name == "send notification" }) == nil {
			return false, "no send notification span yet"
		}
		// The relay's batch span is a trace of its own, linked to this one.
		rcv.mu.Lock()
		for i := range rcv.spans {
			if s := rcv.spans[i]; s.name == "outbox relay" && slices.Contains(s.links, server.id) {
				relay = &s
			}
		}
		rcv.mu.Unlock()
		if relay == nil {
			return false, "no outbox relay span linked to the server span"
		}
		return true, ""
	})

	t.Logf("trace %s: %s", traceID, names(spans))
	if server.name != "POST /api/v1/orders" {
		t.Errorf("got server span name %q, want the route template %q", server.name, "POST /api/v1/orders")
	}
	if publish.kind != tracepb.Span_SPAN_KIND_PRODUCER || publish.statusErr {
		t.Errorf("got publish span kind %v, error %v; want a producer span without error", publish.kind, publish.statusErr)
	}
	if !slices.Contains(publish.links, relay.id) {
		t.Errorf("got publish span links %v, want one to the outbox relay span %s", publish.links, relay.id)
	}
	groups := map[string]string{"tracking-service": p.groups[0], "notification-service": p.groups[1]}
	for svc, proc := range processes {
		if proc.kind != tracepb.Span_SPAN_KIND_CONSUMER {
			t.Errorf("%s: got process span kind %v, want consumer", svc, proc.kind)
		}
		if !slices.Contains(proc.links, publish.id) {
			t.Errorf("%s: got process span links %v, want one to the publish span %s", svc, proc.links, publish.id)
		}
		for k, want := range map[string]string{
			"messaging.system":              "kafka",
			"messaging.destination.name":    p.topic,
			"messaging.operation.type":      "process",
			"messaging.consumer.group.name": groups[svc],
			"messaging.kafka.message.key":   fmt.Sprint(o.ID),
		} {
			if got := proc.attrs[k]; got != want {
				t.Errorf("%s: got process span %s %q, want %q", svc, k, got, want)
			}
		}
		if proc.attrs["messaging.destination.partition.id"] != publish.attrs["messaging.destination.partition.id"] ||
			proc.attrs["messaging.kafka.offset"] != publish.attrs["messaging.kafka.offset"] {
			t.Errorf("%s: got partition %s offset %s, want the publish span's %s and %s", svc,
				proc.attrs["messaging.destination.partition.id"], proc.attrs["messaging.kafka.offset"],
				publish.attrs["messaging.destination.partition.id"], publish.attrs["messaging.kafka.offset"])
		}
	}

	// The work inside each step is part of the trace too.
	for _, c := range []struct {
		what     string
		root     *span
		service  string
		matching func(span) bool
	}{
		{"a PostgreSQL span under the create request", server, "orders-service", func(s span) bool { return s.attrs["db.system.name"] == "postgresql" }},
		{"a Redis span under tracking's processing", processes["tracking-service"], "tracking-service", func(s span) bool { return s.attrs["db.system"] == "redis" || s.attrs["db.system.name"] == "redis" }},
		{"a PostgreSQL span under notification's processing", processes["notification-service"], "notification-service", func(s span) bool { return s.attrs["db.system.name"] == "postgresql" }},
		{"the notification send under notification's processing", processes["notification-service"], "notification-service", func(s span) bool { return s.name == "send notification" }},
	} {
		if find(spans, func(s span) bool { return s.service == c.service && c.matching(s) && descends(spans, s, c.root.id) }) == nil {
			t.Errorf("got no %s (spans: %s)", c.what, names(spans))
		}
	}

	for _, svc := range []string{"orders-service", "tracking-service", "notification-service"} {
		s := find(spans, func(s span) bool { return s.service == svc })
		for k, want := range map[string]string{"service.version": "dev", "k8s.pod.name": "e2e-pod", "k8s.namespace.name": "e2e"} {
			if got := s.resource[k]; got != want {
				t.Errorf("%s: got resource %s %q, want %q", svc, k, got, want)
			}
		}
	}

	// Log lines written under a span name its trace and span.
	for _, c := range []struct {
		svc  *service
		line string
		span string
	}{
		{p.orders, `msg="http request" .*route=/api/v1/orders `, server.id},
		{p.notification, `msg="mock notification sent"`, ""},
	} {
		re := regexp.MustCompile(c.line + `.*trace_id=` + traceID + ` span_id=` + c.span)
		if !re.MatchString(c.svc.logs.String()) {
			t.Errorf("%s: got no log line matching %q", c.svc.name, re)
		}
	}
}

func find(spans []span, match func(span) bool) *span {
	for i := range spans {
		if match(spans[i]) {
			return &spans[i]
		}
	}
	return nil
}

// descends reports whether s is a descendant of the span with id root.
func descends(spans []span, s span, root string) bool {
	byID := map[string]span{}
	for _, x := range spans {
		byID[x.id] = x
	}
	for hops := 0; hops < len(spans) && s.parent != ""; hops++ {
		if s.parent == root {
			return true
		}
		var ok bool
		if s, ok = byID[s.parent]; !ok {
			return false
		}
	}
	return false
}

func names(spans []span) string {
	var out []string
	for _, s := range spans {
		out = append(out, s.service+":"+s.name)
	}
	return strings.Join(out, ", ")
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
