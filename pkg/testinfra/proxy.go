package testinfra

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP connections to a server, the server as the service
// under test sees it, without touching the server other tests share. It
// can freeze: while frozen it moves no bytes either way but keeps every
// connection open, which is how a server stopped with SIGSTOP looks to its
// clients; bytes a client sent meanwhile are delivered when it thaws, even
// if the client has gone, as a frozen server reads them once it runs
// again. And it can cut: close every connection and refuse new ones, a
// server that is down, until Restore.
type Proxy struct {
	// Addr is the proxy's host:port; connect to it instead of the server.
	Addr string

	target string
	ln     net.Listener

	// mu guards the fields below; thawed is signalled on Thaw and when a
	// connection's state changes.
	mu      sync.Mutex
	thawed  *sync.Cond
	frozen  bool
	down    bool
	closing bool
	conns   map[*proxyConn]bool
	wg      sync.WaitGroup
}

type proxyConn struct {
	client, server net.Conn
	// pending counts the directions still copying; holding counts
	// chunks read but not yet written (held while frozen).
	pending, holding int
}

// NewProxy starts a proxy to target (host:port); it stops with the test.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[*proxyConn]bool{}}
	p.thawed = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Freeze stops moving bytes.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
}

// Thaw moves bytes again, the held ones first.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = false
	p.thawed.Broadcast()
}

// Cut closes every connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.down = true
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.client.Close()
		c.server.Close()
	}
}

// Restore accepts connections again after Cut.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// WaitSettled waits up to timeout until no byte is held and every
// connection a side has closed is closed on both: every statement sent
// before then has reached the server and the connections its clients gave
// up on are gone. It reports whether that happened in time.
func (p *Proxy) WaitSettled(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		settled := !p.frozen
		for c := range p.conns {
			if c.holding > 0 || c.pending == 1 {
				settled = false
			}
		}
		p.mu.Unlock()
		if settled {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		c := &proxyConn{client: client, server: server, pending: 2}
		p.mu.Lock()
		if p.closing {
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.conns[c] = true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.copy(c, server, client)
		go p.copy(c, client, server)
	}
}

// copy moves bytes from src to dst, holding each chunk while frozen; at
// src's end it closes dst's write side, and the connection once both
// directions are done.
func (p *Proxy) copy(c *proxyConn, dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			c.holding++
			for p.frozen && !p.closing {
				p.thawed.Wait()
			}
			p.mu.Unlock()
			_, werr := dst.Write(buf[:n])
			p.mu.Lock()
			c.holding--
			p.mu.Unlock()
			if werr != nil {
				break
			}
		}
		if err != nil {
			// The end of src (io.EOF) or a broken connection: either way
			// nothing more comes from this side.
			break
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	p.mu.Lock()
	c.pending--
	done := c.pending == 0
	if done {
		delete(p.conns, c)
	}
	p.mu.Unlock()
	if done {
		c.client.Close()
		c.server.Close()
	}
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closing = true
	p.thawed.Broadcast()
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	p.ln.Close()
	for _, c := range conns {
		c.client.Close()
		c.server.Close()
	}
	p.wg.Wait()
}

// Through returns the connection URL u (postgres://... or host:port) with
// its host and port replaced by the proxy's.
func (p *Proxy) Through(t testing.TB, u string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil || parsed.Host == "" {
		t.Fatalf("testinfra: %q is not a URL with a host", u)
	}
	parsed.Host = p.Addr
	return parsed.String()
}

// Host returns the host:port of a connection URL, the proxy's target.
func Host(t testing.TB, u string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil || parsed.Host == "" {
		t.Fatalf("testinfra: %q is not a URL with a host", u)
	}
	return parsed.Host
}

// Timed sends method url, with body as JSON when it is not empty, and
// returns the answer's status and headers and how long it took to come; a
// request unanswered within 10s fails the test. It is how the tests of a
// frozen dependency check that every answer still comes in time.
func Timed(t testing.TB, method, url, body string) (int, http.Header, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: no answer within 10s: %v", method, url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, time.Since(start)
}
