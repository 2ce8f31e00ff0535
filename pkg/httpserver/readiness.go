package httpserver

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/httpapi"
)

// readyz answers the readiness checks' outcome: 200, or 503 naming each
// failing check.
func (s *Server) readyz(c *gin.Context) {
	healthy, status := s.ready(c.Request.Context())
	if !healthy {
		s.logger.WarnContext(c.Request.Context(), "not ready", "checks", status)
		httpapi.Encode(c, http.StatusServiceUnavailable, gin.H{"status": "unavailable", "checks": status})
		return
	}
	httpapi.Encode(c, http.StatusOK, gin.H{"status": "ok", "checks": status})
}

// actuatorHealthType is what Spring Boot 3's /actuator/health answers with,
// so that clients of the original system that check it keep working.
const actuatorHealthType = "application/vnd.spring-boot.actuator.v3+json"

// actuatorHealth is the original system's health endpoint over the same
// checks as /readyz: {"status":"UP"} 200, or {"status":"DOWN"} 503, as
// Spring Boot answers it without details (a failing check's text is for
// /readyz and the logs, not for whoever can reach this one).
func (s *Server) actuatorHealth(c *gin.Context) {
	healthy, status := s.ready(c.Request.Context())
	code, body := http.StatusOK, []byte(`{"status":"UP"}`)
	if !healthy {
		s.logger.WarnContext(c.Request.Context(), "not ready", "checks", status)
		code, body = http.StatusServiceUnavailable, []byte(`{"status":"DOWN"}`)
	}
	c.Data(code, actuatorHealthType, body)
}

// ready runs every readiness check concurrently, so the probe takes as long
// as the slowest check rather than their sum, and reports whether all
// passed, with each check's outcome by name.
func (s *Server) ready(parent context.Context) (bool, map[string]string) {
	s.mu.Lock()
	checks := append([]readinessCheck(nil), s.checks...)
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(parent, readinessTimeout)
	defer cancel()

	type result struct {
		name string
		err  error
	}
	// Buffered for every check, so a check that ignores its context and
	// returns after we stopped waiting does not block its goroutine forever.
	results := make(chan result, len(checks))
	for _, rc := range checks {
		go func() {
			results <- result{name: rc.name, err: safeCheck(ctx, rc.check)}
		}()
	}

	status := make(map[string]string, len(checks))
	for _, rc := range checks {
		status[rc.name] = fmt.Sprintf("no answer within %s", readinessTimeout)
	}
	healthy := true
	pending := len(checks)
wait:
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			if r.err != nil {
				status[r.name] = r.err.Error()
				healthy = false
			} else {
				status[r.name] = "ok"
			}
		case <-ctx.Done():
			// A check that ignores ctx must not hold the probe past its
			// deadline; those still running keep "no answer".
			healthy = false
			break wait
		}
	}
	return healthy, status
}

// safeCheck runs check, turning a panic into an error: it runs on its own
// goroutine, where the recovery middleware cannot catch it.
func safeCheck(ctx context.Context, check func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("check panicked: %v", r)
		}
	}()
	return check(ctx)
}
