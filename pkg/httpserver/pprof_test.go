package httpserver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPprofAddrValidation(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr bool
	}{
		{"127.0.0.1:6060", false},
		{"127.0.0.2:6060", false},
		{"[::1]:6060", false},
		{"localhost:6060", false},
		{"0.0.0.0:6060", true},
		{":6060", true},
		{"10.0.0.1:6060", true},
		{"example.com:6060", true},
		{"127.0.0.1", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			cfg := testConfig()
			cfg.PprofAddr = tt.addr
			err := cfg.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "PPROF_ADDR") {
				t.Errorf("got %q, want it to name PPROF_ADDR", err)
			}
		})
	}
}

func TestServePprof(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- servePprof(ctx, ln, slog.New(slog.DiscardHandler)) }()

	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/mutex?debug=1", "/debug/pprof/block?debug=1", "/debug/pprof/goroutine?debug=1"} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: got %d with %d bytes, want 200 with a profile", path, resp.StatusCode, len(body))
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("got %v after the context ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("servePprof did not return within 10s of its context ending")
	}
}

// The API's own port never serves the profiles, whatever the setting.
func TestAPIPortHasNoPprof(t *testing.T) {
	s, _ := newTestServer(t)
	rec := do(t, s.Handler(), http.MethodGet, "/debug/pprof/", nil)
	if rec.Code != http.StatusNotFound {
		t.Errorf("got %d, want 404", rec.Code)
	}
}
