package render

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// The edge does not trust what clients send: these tests run the real HAProxy on loopback
// (without the cache) in front of the test app and act as a hostile client would.

// edgeHAProxy starts HAProxy for the "defaults" spec without the cache, changed by mutate,
// in front of a test app, and waits until the app answers through it (at fewer than 5
// requests per second). It returns the public address.
func edgeHAProxy(t *testing.T, mutate func(ws *v1alpha1.WebStack)) string {
	t.Helper()
	app := startTestApp(t, "/healthz")
	ws := loadSpec(t, "defaults")
	ws.Spec.Cache.Enabled = new(bool)
	mutate(ws)
	frontend, stats := loopback(freePort(t)), loopback(freePort(t))
	cfg, err := HAProxyConfig(ws, tuning.For(ws), Discovery{Static: &StaticDiscovery{
		AppServers: []string{app.addr}, Frontend: frontend, Stats: stats,
	}})
	if err != nil {
		t.Fatal(err)
	}
	startHAProxy(t, cfg, stats)
	if ws.Spec.LoadBalancer.Service.ProxyProtocol != v1alpha1.ProxyProtocolRequired {
		// No keep-alive: an idle connection would count against connectionsPerClient.
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		deadline := time.Now().Add(10 * time.Second)
		for expectStatus(client, "GET", "http://"+frontend+"/ready", nil, 200) != nil {
			if time.Now().After(deadline) {
				t.Fatal("the app never answered through HAProxy")
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return frontend
}

// rawRequest sends raw bytes on a new connection and returns the status code and body of
// the response.
func rawRequest(addr, raw string) (int, string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// echoed parses the test app's /headers/ answer.
func echoed(body string) map[string][]string {
	h := map[string][]string{}
	for _, l := range lines(body) {
		k, v, _ := strings.Cut(l, ": ")
		h[k] = append(h[k], v)
	}
	return h
}

func TestHAProxyDropsForwardingHeadersFromClients(t *testing.T) {
	frontend := edgeHAProxy(t, func(*v1alpha1.WebStack) {})
	spoofed := "GET /headers/x HTTP/1.1\r\nHost: shop.example.com\r\n" +
		"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n" +
		"Forwarded: for=6.6.6.6;proto=https\r\nX-Real-IP: 6.6.6.6\r\nx-forwarded-for: 7.7.7.7\r\n" +
		"Connection: close\r\n\r\n"
	status, body, err := rawRequest(frontend, spoofed)
	if err != nil || status != 200 {
		t.Fatalf("status %d, %v", status, err)
	}
	got := echoed(body)
	want := map[string][]string{
		"X-Forwarded-For":   {"127.0.0.1"},
		"X-Forwarded-Proto": {"http"},
		"X-Forwarded-Host":  {"shop.example.com"},
		"X-Real-Ip":         {"127.0.0.1"},
		"Forwarded":         nil,
	}
	for k, w := range want {
		if strings.Join(got[k], ",") != strings.Join(w, ",") {
			t.Errorf("the app got %s %q, want %q; all it got:\n%s", k, got[k], w, body)
		}
	}
	if strings.Contains(body, "6.6.6.6") || strings.Contains(body, "7.7.7.7") || strings.Contains(body, "evil") {
		t.Errorf("a spoofed value reached the app:\n%s", body)
	}
}

func TestHAProxyBodyLimit(t *testing.T) {
	frontend := edgeHAProxy(t, func(ws *v1alpha1.WebStack) {
		q := resource.MustParse("64Ki")
		ws.Spec.LoadBalancer.MaxRequestBodySize = &q
	})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	post := func(n int) (int, string) {
		resp, err := client.Post("http://"+frontend+"/headers/upload", "application/octet-stream", bytes.NewReader(make([]byte, n)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := post(64 << 10); status != 200 || !strings.Contains(body, fmt.Sprintf("Body-Length: %d", 64<<10)) {
		t.Errorf("a body of exactly 64Ki: status %d, want 200 with the whole body at the app:\n%s", status, body)
	}
	if status, body := post(64<<10 + 1); status != 413 || strings.Contains(body, "Body-Length") {
		t.Errorf("a body of 64Ki + 1 byte: status %d, want 413 without reaching the app:\n%s", status, body)
	}
}

func TestHAProxyConnectionsPerClient(t *testing.T) {
	const limit = 3
	frontend := edgeHAProxy(t, func(ws *v1alpha1.WebStack) {
		ws.Spec.LoadBalancer.RateLimit.ConnectionsPerClient = ptr32(limit)
	})
	// closedAtOnce reports whether HAProxy closes c without waiting for a request.
	closedAtOnce := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	}
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for i := 0; i < limit; i++ {
		c, err := net.Dial("tcp", frontend)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
	}
	for i, c := range open {
		if closedAtOnce(c) {
			t.Fatalf("connection %d of %d was closed: the cap is %d", i+1, limit, limit)
		}
	}
	extra, err := net.Dial("tcp", frontend)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if !closedAtOnce(extra) {
		t.Fatalf("connection %d of one client stayed open: the cap of %d does not bite", limit+1, limit)
	}
	// Once one closes, the client may connect again.
	open[0].Close()
	open = open[1:]
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, _, err := rawRequest(frontend, "GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if err == nil && status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after closing a connection, a new one still fails: status %d, %v", status, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestHAProxyProxyProtocol(t *testing.T) {
	frontend := edgeHAProxy(t, func(ws *v1alpha1.WebStack) {
		ws.Spec.LoadBalancer.Service.ProxyProtocol = v1alpha1.ProxyProtocolRequired
	})
	req := "GET /headers/pp HTTP/1.1\r\nHost: shop\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close\r\n\r\n"
	var status int
	var body string
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body, err = rawRequest(frontend, "PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n"+req)
		if (err == nil && status == 200) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil || status != 200 {
		t.Fatalf("with a PROXY header: status %d, %v", status, err)
	}
	if got := echoed(body)["X-Forwarded-For"]; len(got) != 1 || got[0] != "203.0.113.7" {
		t.Errorf("X-Forwarded-For %q, want the address of the PROXY header only", got)
	}
	if status, _, err := rawRequest(frontend, req); err == nil {
		t.Errorf("without a PROXY header HAProxy answered %d; it must drop the connection", status)
	}
}

func ptr32(v int32) *int32 { return &v }
