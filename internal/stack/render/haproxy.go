package render

import (
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// HAProxy's listeners, all unprivileged.
const (
	// HAProxyFrontendPort is the public frontend that clients (the Service) reach.
	HAProxyFrontendPort = 8080
	// HAProxyAppListenerPort is the internal listener Varnish sends its misses to; it
	// queues them for the app pods. Only rendered with the cache.
	HAProxyAppListenerPort = 8081
	// HAProxyStatsPort serves HAProxyStatsPath, HAProxyMetricsPath and HAProxyHealthPath.
	HAProxyStatsPort = 8404
)

// Paths on HAProxyStatsPort.
const (
	// HAProxyHealthPath answers 200 while HAProxy runs (liveness and readiness probes).
	HAProxyHealthPath = "/healthz"
	// HAProxyMetricsPath is the Prometheus exporter.
	HAProxyMetricsPath = "/metrics"
	// HAProxyStatsPath is the HTML stats page.
	HAProxyStatsPath = "/stats"
)

// haproxyResolvers names the resolvers section (DNS mode).
const haproxyResolvers = "cluster"

// rateLimitTableSize is the number of client addresses the rate-limit stick table holds.
const rateLimitTableSize = "100k"

// haproxyMaxTime is the longest time HAProxy's timers hold: 2147483647 ms. Longer timeouts
// overflow (HAProxy refuses them, or worse, wraps them).
const haproxyMaxTime = 2147483647 * time.Millisecond

// haproxyData is haproxy.cfg's template input.
type haproxyData struct {
	header
	Resolvers          string
	RateLimitTableSize string
	MaxConn, Threads   int32
	// Timeouts are HAProxy time values; CacheServer is the cache backend's server timeout
	// (queue + server: a miss may wait in the app backend's queue first).
	Timeouts       struct{ Connect, Client, Server, Queue, CacheServer string }
	RequestsPerSec int32
	// ConnPerClient caps the connections one client address holds open (0: no cap).
	ConnPerClient int32
	// StickTable is what the per-client stick table stores ("" without limits).
	StickTable string
	// AcceptProxy expects the PROXY protocol on the public listener.
	AcceptProxy bool
	// MaxBodyBytes is the largest Content-Length passed on.
	MaxBodyBytes int64
	Cache        bool
	DNS          bool
	// PayloadSize is the EDNS payload size announced to the DNS servers (DNS mode): large
	// enough for one A record per slot.
	PayloadSize int

	Frontend, AppListener, Stats string
	HealthPath, MetricsPath      string
	StatsPath                    string

	// App backend.
	Algorithm     string
	HashType      bool
	AppHealthPath string
	HealthHost    string
	ServerMaxConn int32
	AppSlots      int32
	AppHost       string // DNS: the headless Service and app port
	AppServers    []string
	// Cache backend.
	VarnishHealthPath string
	CacheSlots        int32
	CacheHost         string
	CacheServers      []string
}

// HAProxyConfig renders haproxy.cfg: the public frontend (to the Varnish pods, hashed by
// URL, or straight to the app without the cache), the app listener for Varnish's misses,
// the app backend that queues requests past serverMaxConnections per pod, and the stats,
// metrics and health endpoint.
func HAProxyConfig(ws *v1alpha1.WebStack, t tuning.Result, d Discovery) (string, error) {
	spec := &ws.Spec
	lb := &spec.LoadBalancer
	cache := spec.Cache.IsEnabled()
	if err := d.validate(cache); err != nil {
		return "", err
	}
	if t.LoadBalancer.MaxConnections < 1 || t.LoadBalancer.Threads < 1 || t.LoadBalancer.ServerMaxConnections < 1 {
		return "", errors.New("haproxy: tuning.LoadBalancer has no maxConnections, threads or serverMaxConnections: pass tuning.For(ws)")
	}
	if spec.App.HealthCheckPath == "" || spec.App.Port < 1 {
		return "", errors.New("haproxy: spec.app.healthCheckPath or spec.app.port is not set: apply the CRD defaults first (manifest.Validate)")
	}
	data := haproxyData{
		header:             headerOf(ws),
		Resolvers:          haproxyResolvers,
		RateLimitTableSize: rateLimitTableSize,
		MaxConn:            t.LoadBalancer.MaxConnections,
		Threads:            t.LoadBalancer.Threads,
		RequestsPerSec:     lb.RateLimit.RequestsPerSecond,
		AcceptProxy:        lb.Service.ProxyProtocol == v1alpha1.ProxyProtocolRequired,
		Cache:              cache,
		HealthPath:         HAProxyHealthPath,
		MetricsPath:        HAProxyMetricsPath,
		StatsPath:          HAProxyStatsPath,
		AppHealthPath:      spec.App.HealthCheckPath,
		ServerMaxConn:      t.LoadBalancer.ServerMaxConnections,
		VarnishHealthPath:  VarnishHealthPath,
	}
	timeouts := []struct {
		field string
		d     *metav1.Duration
		out   *string
		v     time.Duration
	}{
		{field: "spec.loadBalancer.timeouts.connect", d: lb.Timeouts.Connect, out: &data.Timeouts.Connect},
		{field: "spec.loadBalancer.timeouts.client", d: lb.Timeouts.Client, out: &data.Timeouts.Client},
		{field: "spec.loadBalancer.timeouts.server", d: lb.Timeouts.Server, out: &data.Timeouts.Server},
		{field: "spec.loadBalancer.timeouts.queue", d: lb.Timeouts.Queue, out: &data.Timeouts.Queue},
	}
	for i := range timeouts {
		to := &timeouts[i]
		v, err := positive(to.field, to.d)
		if err != nil {
			return "", fmt.Errorf("haproxy: %w", err)
		}
		if v > haproxyMaxTime {
			return "", fmt.Errorf("haproxy: %s is %s, past HAProxy's longest timer (%s): shorten it", to.field, v, haproxyMaxTime)
		}
		to.v, *to.out = v, haproxyTime(v)
	}
	// The cache backend waits for queue + server (a miss may queue for the app first).
	cacheServer := timeouts[2].v + timeouts[3].v
	if cacheServer > haproxyMaxTime {
		return "", fmt.Errorf("haproxy: spec.loadBalancer.timeouts.server + timeouts.queue is %s, past HAProxy's longest timer (%s): shorten them", cacheServer, haproxyMaxTime)
	}
	data.Timeouts.CacheServer = haproxyTime(cacheServer)

	switch {
	case lb.RateLimit.ConnectionsPerClient == nil:
		return "", errors.New("haproxy: spec.loadBalancer.rateLimit.connectionsPerClient is not set: apply the CRD defaults first (manifest.Validate)")
	case *lb.RateLimit.ConnectionsPerClient < 0 || lb.RateLimit.RequestsPerSecond < 0:
		return "", errors.New("haproxy: spec.loadBalancer.rateLimit.connectionsPerClient and requestsPerSecond must not be negative")
	}
	data.ConnPerClient = *lb.RateLimit.ConnectionsPerClient
	var store []string
	if data.RequestsPerSec > 0 {
		store = append(store, "http_req_rate(1s)")
	}
	if data.ConnPerClient > 0 {
		store = append(store, "conn_cur")
	}
	data.StickTable = strings.Join(store, ",")

	if lb.MaxRequestBodySize == nil || lb.MaxRequestBodySize.Sign() <= 0 {
		return "", errors.New("haproxy: spec.loadBalancer.maxRequestBodySize is not set or not positive: apply the CRD defaults first (manifest.Validate)")
	}
	data.MaxBodyBytes = lb.MaxRequestBodySize.Value()

	switch lb.Algorithm {
	case v1alpha1.AlgorithmRoundRobin, v1alpha1.AlgorithmLeastConn:
		data.Algorithm = string(lb.Algorithm)
	case v1alpha1.AlgorithmSource:
		data.Algorithm, data.HashType = "source", true
	case v1alpha1.AlgorithmURI:
		data.Algorithm, data.HashType = "uri whole", true
	default:
		return "", fmt.Errorf("haproxy: spec.loadBalancer.algorithm %q is not roundrobin, leastconn, source or uri", lb.Algorithm)
	}

	data.HealthHost = d.HealthHost()
	if d.DNS != nil {
		data.DNS = true
		data.Frontend = endpoint{Port: HAProxyFrontendPort}.bind()
		data.AppListener = endpoint{Port: HAProxyAppListenerPort}.bind()
		data.Stats = endpoint{Port: HAProxyStatsPort}.bind()
		data.AppSlots = max(1, t.LoadBalancer.ServerSlots)
		data.AppHost = endpoint{Host: d.DNS.AppHost, Port: int(spec.App.Port)}.HAProxy()
		data.CacheSlots = max(1, spec.Cache.Replicas)
		data.CacheHost = endpoint{Host: d.DNS.CacheHost, Port: VarnishPort}.HAProxy()
		data.PayloadSize = min(65535, max(8192, 512+32*int(max(data.AppSlots, data.CacheSlots))))
	} else {
		s := d.Static
		data.Frontend = bindOr(s.Frontend, HAProxyFrontendPort).bind()
		data.Stats = bindOr(s.Stats, HAProxyStatsPort).bind()
		for _, a := range s.AppServers {
			e, _ := parseHostPort("", a) // validated
			data.AppServers = append(data.AppServers, e.HAProxy())
		}
		if cache {
			e, _ := parseHostPort("", s.AppListener)
			data.AppListener = e.bind()
			for _, a := range s.CacheServers {
				e, _ := parseHostPort("", a)
				data.CacheServers = append(data.CacheServers, e.HAProxy())
			}
		}
	}
	return execute(FileHAProxy, data)
}

// positive is a spec duration that must be set and above zero.
func positive(field string, d *metav1.Duration) (time.Duration, error) {
	v, err := duration(field, d)
	if err != nil {
		return 0, err
	}
	if v <= 0 {
		return 0, fmt.Errorf("%s must be positive", field)
	}
	return v, nil
}
