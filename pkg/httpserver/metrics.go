package httpserver

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry with the Go runtime and process collectors,
// the same metrics the global default registry carries. Each server gets its
// own so that tests can build many servers in one process without
// duplicate-registration errors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	// The one MustRegister left: elsewhere constructors return
	// registration errors, but this registry was created on the line
	// above and the two collectors' metric names (go_*, process_*) are
	// disjoint, so it cannot fail, and an error return here would make
	// every caller handle an error that cannot happen.
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// metricsHandler serves reg in the Prometheus text format.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// unknownRoute is the uri label of requests that matched no route. Using
// the raw path instead would let any client create label values without
// bound and blow up the time series count.
const unknownRoute = "UNKNOWN"

// otherMethod is the method label and span name of requests whose method
// is not one of HTTP's standard ones: the method is the client's choice,
// and each made-up one would otherwise be a new time series and span name
// (2,000 random methods grew /metrics from 149 KB to 2.7 MB).
const otherMethod = "OTHER"

// methodLabel is m when it is a standard method, otherMethod otherwise.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return otherMethod
}

// newRequestMetrics registers the request histogram on reg. It keeps Spring
// Boot's name and label names so the dashboards and alerts written for the
// Java services keep working. A second server on the same registry shares
// the first one's histogram instead of failing.
func newRequestMetrics(reg prometheus.Registerer) (*prometheus.HistogramVec, error) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_server_requests_seconds",
		Help:    "Duration of HTTP requests handled, by method, route template and status.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "uri", "status"})
	if err := reg.Register(h); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.HistogramVec); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("cannot register http request metrics: %w", err)
	}
	return h, nil
}

// routeTemplate turns gin's route pattern into Spring's URI template
// syntax: /orders/:id becomes /orders/{id} and /files/*path becomes
// /files/{*path}. An empty pattern means no route matched.
func routeTemplate(fullPath string) string {
	if fullPath == "" {
		return unknownRoute
	}
	if !strings.ContainsAny(fullPath, ":*") {
		return fullPath
	}
	segs := strings.Split(fullPath, "/")
	for i, seg := range segs {
		switch {
		case strings.HasPrefix(seg, ":"):
			segs[i] = "{" + seg[1:] + "}"
		case strings.HasPrefix(seg, "*"):
			segs[i] = "{" + seg + "}"
		}
	}
	return strings.Join(segs, "/")
}
