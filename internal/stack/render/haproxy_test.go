package render

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// haproxySections splits haproxy.cfg into sections ("backend app") and their lines,
// trimmed, without comments.
func haproxySections(cfg string) map[string][]string {
	sections := map[string][]string{}
	current := ""
	for _, line := range strings.Split(cfg, "\n") {
		l := strings.TrimSpace(line)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !strings.HasPrefix(line, " ") {
			current = l
			sections[current] = []string{}
			continue
		}
		sections[current] = append(sections[current], l)
	}
	return sections
}

// wantLines fails unless section of cfg has every line of want.
func wantLines(t *testing.T, sections map[string][]string, section string, want ...string) {
	t.Helper()
	got, ok := sections[section]
	if !ok {
		t.Errorf("no section %q", section)
		return
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("section %q has no line %q; it has:\n  %s", section, w, strings.Join(got, "\n  "))
		}
	}
}

// TestHAProxyConfig checks every spec's haproxy.cfg, in both discovery modes, against the
// numbers of its spec and tuning.
func TestHAProxyConfig(t *testing.T) {
	for _, name := range specNames() {
		for _, mode := range []string{"dns", "static"} {
			t.Run(name+"-"+mode, func(t *testing.T) {
				ws := loadSpec(t, name)
				res := tuning.For(ws)
				cfg, err := HAProxyConfig(ws, res, discoveryFor(mode))
				if err != nil {
					t.Fatal(err)
				}
				s := haproxySections(cfg)
				lb := res.LoadBalancer
				wantLines(t, s, "global", fmt.Sprintf("maxconn %d", lb.MaxConnections), fmt.Sprintf("nbthread %d", lb.Threads))
				wantLines(t, s, "backend app",
					fmt.Sprintf("default-server check inter 2s fall 3 rise 2 maxconn %d", lb.ServerMaxConnections),
					"timeout queue "+haproxyTime(ws.Spec.LoadBalancer.Timeouts.Queue.Duration),
					"http-check expect status 200")
				wantLines(t, s, "frontend public", "option forwardfor", "http-request deny deny_status 403 if { method -i PURGE BAN }")
				wantLines(t, s, "frontend stats",
					"http-request return status 200 content-type text/plain string ok if { path /healthz }",
					"http-request use-service prometheus-exporter if { path /metrics }",
					"stats uri /stats")

				cache := ws.Spec.Cache.IsEnabled()
				if cache {
					wantLines(t, s, "frontend public", "default_backend cache")
					wantLines(t, s, "backend cache", "balance uri whole", "hash-type consistent")
					wantLines(t, s, "frontend app_listener", "default_backend app")
				} else {
					wantLines(t, s, "frontend public", "default_backend app")
					for _, absent := range []string{"backend cache", "frontend app_listener"} {
						if _, ok := s[absent]; ok {
							t.Errorf("cache disabled, yet haproxy.cfg has %q", absent)
						}
					}
				}

				rps := ws.Spec.LoadBalancer.RateLimit.RequestsPerSecond
				conns := *ws.Spec.LoadBalancer.RateLimit.ConnectionsPerClient
				tracked := slices.Contains(s["frontend public"], "tcp-request session track-sc0 src")
				if tracked != (rps > 0 || conns > 0) {
					t.Errorf("requestsPerSecond %d, connectionsPerClient %d, clients tracked: %t", rps, conns, tracked)
				}
				if rps > 0 {
					wantLines(t, s, "frontend public", fmt.Sprintf("http-request deny deny_status 429 if { sc_http_req_rate(0) gt %d }", rps))
				}
				if conns > 0 {
					wantLines(t, s, "frontend public", fmt.Sprintf("tcp-request session reject if { sc_conn_cur(0) gt %d }", conns))
				}
				wantLines(t, s, "frontend public",
					fmt.Sprintf("http-request deny deny_status 413 if { req.hdr_val(content-length) gt %d }", ws.Spec.LoadBalancer.MaxRequestBodySize.Value()),
					"option http-buffer-request",
					"http-request del-header X-Forwarded-For", "http-request del-header X-Forwarded-Proto",
					"http-request del-header X-Forwarded-Host", "http-request del-header Forwarded",
					"http-request del-header X-Real-IP")

				hp := ws.Spec.App.HealthCheckPath
				proxy := ""
				if ws.Spec.LoadBalancer.Service.ProxyProtocol == "Required" {
					proxy = " accept-proxy"
				}
				if mode == "dns" {
					app := "shop-app-headless.web.svc.cluster.local"
					wantLines(t, s, "resolvers cluster", "parse-resolv-conf")
					wantLines(t, s, "backend app",
						fmt.Sprintf("server-template app 1-%d %s:%d resolvers cluster resolve-prefer ipv4 init-addr none", max(1, lb.ServerSlots), app, ws.Spec.App.Port),
						fmt.Sprintf("http-check send meth GET uri %s ver HTTP/1.1 hdr Host %s", hp, app))
					wantLines(t, s, "frontend public", "bind :8080"+proxy)
					wantLines(t, s, "frontend stats", "bind :8404")
					if cache {
						wantLines(t, s, "backend cache", fmt.Sprintf("server-template varnish 1-%d shop-cache-headless.web.svc.cluster.local:8080 resolvers cluster resolve-prefer ipv4 init-addr none", ws.Spec.Cache.Replicas))
						wantLines(t, s, "frontend app_listener", "bind :8081")
					}
				} else {
					if _, ok := s["resolvers cluster"]; ok {
						t.Error("static discovery, yet haproxy.cfg has resolvers")
					}
					wantLines(t, s, "backend app", "server app1 127.0.0.1:8001", "server app2 127.0.0.1:8002", "server app3 [::1]:8003",
						fmt.Sprintf("http-check send meth GET uri %s ver HTTP/1.1 hdr Host localhost", hp))
					wantLines(t, s, "frontend public", "bind 127.0.0.1:8080"+proxy)
					wantLines(t, s, "frontend stats", "bind 127.0.0.1:8404")
					if cache {
						wantLines(t, s, "backend cache", "server varnish1 127.0.0.1:6081", "server varnish2 127.0.0.1:6082")
						wantLines(t, s, "frontend app_listener", "bind 127.0.0.1:8081")
					}
				}
			})
		}
	}
}

// TestHAProxyConfigFromSpecValues pins a few values to what the spec says, literally.
func TestHAProxyConfigFromSpecValues(t *testing.T) {
	tests := map[string]struct {
		spec string
		want map[string][]string
	}{
		"algorithm, port, health path and timeouts": {
			spec: "algorithm-uri",
			want: map[string][]string{
				"defaults":    {"timeout connect 1500ms", "timeout client 60s", "timeout server 150s", "timeout queue 20s"},
				"backend app": {"balance uri whole", "hash-type consistent", "http-check send meth GET uri /-/ready ver HTTP/1.1 hdr Host shop-app-headless.web.svc.cluster.local"},
				// queue + server: a miss may queue in the app backend before the app answers.
				"backend cache": {"timeout server 170s"},
			},
		},
		"source hashing": {
			spec: "algorithm-source",
			want: map[string][]string{"backend app": {"balance source", "hash-type consistent"}},
		},
		"roundrobin": {
			spec: "algorithm-roundrobin",
			want: map[string][]string{"backend app": {"balance roundrobin"}},
		},
		"leastconn by default": {
			spec: "defaults",
			want: map[string][]string{"backend app": {"balance leastconn"}},
		},
		"rate limit": {
			spec: "rate-limit",
			want: map[string][]string{"frontend public": {
				"stick-table type ipv6 size 100k expire 10s store http_req_rate(1s),conn_cur",
				"tcp-request session track-sc0 src",
				"http-request deny deny_status 429 if { sc_http_req_rate(0) gt 25 }",
				"tcp-request session reject if { sc_conn_cur(0) gt 500 }",
			}},
		},
		"connection cap only, PROXY protocol, body size": {
			spec: "edge",
			want: map[string][]string{"frontend public": {
				"bind :8080 accept-proxy",
				"stick-table type ipv6 size 100k expire 10s store conn_cur",
				"tcp-request session track-sc0 src",
				"tcp-request session reject if { sc_conn_cur(0) gt 20 }",
				"http-request deny deny_status 413 if { req.hdr_val(content-length) gt 1048576 }",
			}},
		},
		"no per-client limits": {
			spec: "no-client-limits",
			want: map[string][]string{"frontend public": {"bind :8080", "option http-buffer-request"}},
		},
		"autoscaling to 100 pods": {
			spec: "autoscaling-100",
			want: map[string][]string{
				"backend app":       {"server-template app 1-128 shop-app-headless.web.svc.cluster.local:8000 resolvers cluster resolve-prefer ipv4 init-addr none"},
				"backend cache":     {"server-template varnish 1-5 shop-cache-headless.web.svc.cluster.local:8080 resolvers cluster resolve-prefer ipv4 init-addr none"},
				"resolvers cluster": {"accepted_payload_size 8192"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := haproxySections(renderSpec(t, tc.spec, "dns", Options{})[FileHAProxy])
			for section, want := range tc.want {
				wantLines(t, s, section, want...)
			}
		})
	}
}

// TestHAProxyCheckPasses runs `haproxy -c` on every spec's haproxy.cfg, in DNS mode (the
// hostnames do not resolve here: init-addr none keeps that from failing) and static mode.
func TestHAProxyCheckPasses(t *testing.T) {
	haproxy := daemon(t, "haproxy", "/usr/sbin/haproxy")
	dir := t.TempDir()
	for _, name := range specNames() {
		for _, mode := range []string{"dns", "static"} {
			t.Run(name+"-"+mode, func(t *testing.T) {
				path := writeFile(t, dir, name+"-"+mode+".cfg", renderSpec(t, name, mode, Options{})[FileHAProxy])
				out, err := run(t, 30*time.Second, exec.Command(haproxy, "-c", "-f", path))
				if err != nil {
					t.Fatalf("haproxy -c: %v\n%s", err, out)
				}
				if strings.Contains(out, "[WARNING]") || strings.Contains(out, "[ALERT]") {
					t.Fatalf("haproxy -c warns:\n%s", out)
				}
			})
		}
	}
}

// startHAProxy runs haproxy in the foreground on cfg and waits for its health endpoint.
func startHAProxy(t *testing.T, cfg, statsAddr string) *process {
	t.Helper()
	haproxy := daemon(t, "haproxy", "/usr/sbin/haproxy")
	path := writeFile(t, t.TempDir(), FileHAProxy, cfg)
	p := start(t, "haproxy", syscall.SIGTERM, exec.Command(haproxy, "-db", "-f", path))
	waitFor(t, p, 10*time.Second, "HAProxy's health endpoint", func() error {
		return expectStatus(http.DefaultClient, "GET", "http://"+statsAddr+HAProxyHealthPath, nil, 200)
	})
	return p
}

// expectStatus sends one request and checks the status.
func expectStatus(c *http.Client, method, url string, header http.Header, status int) error {
	resp, err := do(c, method, url, header)
	if err != nil {
		return err
	}
	if resp.StatusCode != status {
		return fmt.Errorf("%s %s: status %d, want %d", method, url, resp.StatusCode, status)
	}
	return nil
}

// do sends one request and reads the whole body.
func do(c *http.Client, method, url string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if host := header.Get("Host"); host != "" {
		req.Host = host // Go sends req.Host, never the Host header
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp, err
}

// TestHAProxyRateLimit runs HAProxy without the cache and a limit of 5 requests per second:
// a burst from one client gets 429 past the limit.
func TestHAProxyRateLimit(t *testing.T) {
	frontend := edgeHAProxy(t, func(ws *v1alpha1.WebStack) { ws.Spec.LoadBalancer.RateLimit.RequestsPerSecond = 5 })
	client := &http.Client{Timeout: 10 * time.Second}
	time.Sleep(1100 * time.Millisecond) // let the 1s rate window forget the polls

	statuses := map[int]int{}
	for i := 0; i < 20; i++ {
		resp, err := do(client, "GET", fmt.Sprintf("http://%s/page/%d", frontend, i), nil)
		if err != nil {
			t.Fatal(err)
		}
		statuses[resp.StatusCode]++
	}
	if statuses[200] < 1 || statuses[200] > 5 || statuses[429] != 20-statuses[200] {
		t.Fatalf("20 requests in a burst with a limit of 5/s: statuses %v, want at most 5 200s and the rest 429", statuses)
	}
}
