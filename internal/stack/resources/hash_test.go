package resources

import (
	"maps"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
)

func TestConfigHash(t *testing.T) {
	base := ConfigHash("haproxy.cfg", "global\n")
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(base) {
		t.Fatalf("hash %q is not 16 hex digits", base)
	}
	if again := ConfigHash("haproxy.cfg", "global\n"); again != base {
		t.Fatalf("the same files hash to %q and %q", base, again)
	}
	differ := map[string][]string{
		"other content":         {"haproxy.cfg", "global \n"},
		"other name":            {"redis.conf", "global\n"},
		"bytes moved to a name": {"haproxy.cfgg", "lobal\n"},
		"one more file":         {"haproxy.cfg", "global\n", "x", ""},
		"files swapped":         {"a", "1", "b", "2"},
	}
	hashes := map[string]string{"base": base}
	for name, files := range differ {
		t.Run(name, func(t *testing.T) {
			h := ConfigHash(files...)
			for other, oh := range hashes {
				if h == oh {
					t.Errorf("%v hashes like %s", files, other)
				}
			}
		})
		hashes[name] = ConfigHash(files...)
	}
	if ConfigHash("a", "1", "b", "2") == ConfigHash("b", "2", "a", "1") {
		t.Error("the order of files does not count")
	}
}

// rollingBase is a stack with every component, the spec the roll tests change.
var rollingBase = []option{withTasks(2), withBeat(), withMigration("manage.py", "migrate")}

// TestConfigChangesRollOnlyTheirPods checks which pod templates change (which pods roll)
// for a change of the spec: with the agent, only startup-only inputs roll; what the running
// daemons take in place (a VCL, a reload of haproxy.cfg, CONFIG SET) rolls nothing.
func TestConfigChangesRollOnlyTheirPods(t *testing.T) {
	cases := map[string]struct {
		change   []option
		appImage string
		// noAgent builds both sides without the agent.
		noAgent bool
		want    []string
	}{
		"nothing changes": {},
		// In place: the agent loads the VCL, reloads HAProxy, or runs CONFIG SET.
		"a cache rule: a new VCL in the running varnishd": {change: []option{withCacheRule("/static/", 24*time.Hour)}},
		"a rate limit: a hitless HAProxy reload":          {change: []option{withRateLimit(10)}},
		"the cache Redis eviction policy: CONFIG SET": {
			change: []option{func(ws *v1alpha1.WebStack) { ws.Spec.Redis.MaxMemoryPolicy = "allkeys-lfu" }},
		},
		"a PostgreSQL parameter pg_reload_conf() applies": {
			change: []option{withDatabaseParameters(map[string]string{"work_mem": "64MB", "log_min_duration_statement": "250"})},
		},
		// Startup-only inputs roll.
		"a PostgreSQL parameter that takes a restart": {
			change: []option{withDatabaseParameters(map[string]string{"wal_level": "logical"})},
			want:   []string{"StatefulSet/shop-database"},
		},
		"cache defaultTTL: a varnishd parameter": {
			change: []option{func(ws *v1alpha1.WebStack) { ws.Spec.Cache.DefaultTTL = &metav1.Duration{Duration: time.Hour} }},
			want:   []string{"Deployment/shop-cache"},
		},
		"cache Redis persistence": {
			change: []option{withPersistence(v1alpha1.PersistenceRDB)},
			want:   []string{"Deployment/shop-redis", "StatefulSet/shop-redis"},
		},
		// The container's memory is on the template (maxmemory alone would be CONFIG SET).
		"cache Redis memory": {change: []option{withRedisMemory("1Gi")}, want: []string{"Deployment/shop-redis"}},
		"database memory":    {change: []option{withDatabaseMemory("2Gi")}, want: []string{"StatefulSet/shop-database"}},
		"a database extension": {
			change: []option{func(ws *v1alpha1.WebStack) { ws.Spec.Database.Extensions = []string{"pg_trgm"} }},
			want:   []string{"StatefulSet/shop-database"},
		},
		// More workers: the app's env follows; HAProxy's per-server maxconn is a reload;
		// with the pooler, PostgreSQL's max_connections does not (nor max_client_conn, still
		// at its floor of 100).
		"app workers": {
			change: []option{withWorkers(8)},
			want:   []string{"Deployment/shop-app"},
		},
		// Without the pooler, the database's max_connections follows too.
		"app workers without the pooler": {
			change: []option{withPooling(v1alpha1.PoolingNone), withWorkers(8)},
			want: []string{"Deployment/shop-app", "Deployment/shop-beat",
				"Deployment/shop-pooler", "Deployment/shop-tasks", "StatefulSet/shop-database"},
		},
		// The database's CPU sizes the server pool: the pooler and max_connections follow.
		"database cpu": {
			change: []option{func(ws *v1alpha1.WebStack) {
				ws.Spec.Database.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}
			}},
			want: []string{"Deployment/shop-pooler", "StatefulSet/shop-database"},
		},
		// Scaling the app: HAProxy's slots have headroom, and with the pooler max_connections
		// (a postmaster parameter) follows the database's CPU, not the app: nothing rolls.
		"app replicas 2 to 6": {change: []option{withReplicas(6)}},
		"a new app image after its migration": {
			appImage: "registry.example.com/shop:1.5",
			want:     []string{"Deployment/shop-app", "Deployment/shop-beat", "Deployment/shop-tasks"},
		},
		// The connection Secret loses REDIS_URL: every pod that loads it restarts.
		"the cache Redis turned off": {
			change: []option{withoutRedis()},
			want:   []string{"Deployment/shop-app", "Deployment/shop-beat", "Deployment/shop-redis", "Deployment/shop-tasks"},
		},
		// Without an agent image, every config change rolls its pods.
		"without the agent, a cache rule rolls Varnish": {
			change: []option{withCacheRule("/static/", 24*time.Hour)}, noAgent: true, want: []string{"Deployment/shop-cache"},
		},
		"without the agent, a rate limit rolls HAProxy": {
			change: []option{withRateLimit(10)}, noAgent: true, want: []string{"Deployment/shop-loadbalancer"},
		},
		"without the agent, work_mem rolls PostgreSQL": {
			change:  []option{withDatabaseParameters(map[string]string{"work_mem": "64MB"})},
			noAgent: true, want: []string{"StatefulSet/shop-database"},
		},
		"without the agent, the eviction policy rolls Redis": {
			change:  []option{func(ws *v1alpha1.WebStack) { ws.Spec.Redis.MaxMemoryPolicy = "allkeys-lfu" }},
			noAgent: true, want: []string{"Deployment/shop-redis"},
		},
	}
	inputs := func(t *testing.T, noAgent bool, opts ...option) Inputs {
		in := inputsFor(t, webStack(t, slices.Concat(rollingBase, opts)...))
		if noAgent {
			in.AgentImage = ""
		}
		return in
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			base, err := Desired(inputs(t, tc.noAgent))
			if err != nil {
				t.Fatal(err)
			}
			before := podTemplates(base)
			in := inputs(t, tc.noAgent, tc.change...)
			if tc.appImage != "" {
				in.AppImage = tc.appImage
			}
			objs, err := Desired(in)
			if err != nil {
				t.Fatal(err)
			}
			after := podTemplates(objs)
			var changed []string
			for _, k := range slices.Sorted(maps.Keys(before)) {
				if a, ok := after[k]; !ok || !reflect.DeepEqual(a, before[k]) {
					changed = append(changed, k)
				}
			}
			for k := range after {
				if _, ok := before[k]; !ok {
					changed = append(changed, k)
				}
			}
			if !slices.Equal(changed, tc.want) {
				t.Errorf("changed pod templates %v, want %v", changed, tc.want)
			}
		})
	}
}

// TestScalingTheAppLeavesHAProxyAlone: app replicas 2 -> 6 -> 2 change nothing in
// haproxy.cfg (the server-template slots have headroom), so HAProxy neither reloads nor rolls.
func TestScalingTheAppLeavesHAProxyAlone(t *testing.T) {
	lb := func(replicas int32) (string, corev1.PodTemplateSpec) {
		objs := desired(t, append(slices.Clone(rollingBase), withReplicas(replicas))...)
		return find[*corev1.ConfigMap](t, objs, "ConfigMap/shop-loadbalancer-config").Data[render.FileHAProxy],
			find[*appsv1.Deployment](t, objs, "Deployment/shop-loadbalancer").Spec.Template
	}
	cfg2, tmpl2 := lb(2)
	for _, n := range []int32{6, 2, 8} {
		cfg, tmpl := lb(n)
		if cfg != cfg2 {
			t.Errorf("haproxy.cfg for %d app replicas differs from the one for 2", n)
		}
		if !reflect.DeepEqual(tmpl, tmpl2) {
			t.Errorf("HAProxy's pod template for %d app replicas differs from the one for 2", n)
		}
	}
}

func TestPodTemplateAnnotations(t *testing.T) {
	objs := desired(t, rollingBase...)
	cases := map[string][]string{
		"Deployment/shop-loadbalancer": nil, // every change of haproxy.cfg is a hitless reload
		"Deployment/shop-cache":        {v1alpha1.ConfigHashAnnotation},
		"Deployment/shop-redis":        {v1alpha1.ConfigHashAnnotation, v1alpha1.CredentialsHashAnnotation},
		"StatefulSet/shop-broker":      {v1alpha1.ConfigHashAnnotation, v1alpha1.CredentialsHashAnnotation},
		"StatefulSet/shop-database":    {v1alpha1.ConfigHashAnnotation, v1alpha1.CredentialsHashAnnotation},
		"Deployment/shop-app":          {v1alpha1.ConnectionHashAnnotation},
		"Deployment/shop-tasks":        {v1alpha1.ConnectionHashAnnotation},
		"Deployment/shop-beat":         {v1alpha1.ConnectionHashAnnotation},
		"Deployment/shop-pooler":       {v1alpha1.ConfigHashAnnotation, v1alpha1.CredentialsHashAnnotation},
	}
	templates := podTemplates(objs)
	for k, annotations := range cases {
		t.Run(k, func(t *testing.T) {
			a := templates[k].Annotations
			if len(a) != len(annotations) {
				t.Errorf("annotations %v, want only %v", a, annotations)
			}
			for _, annotation := range annotations {
				if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(a[annotation]) {
					t.Errorf("annotations %v, want a hash in %s", a, annotation)
				}
			}
		})
	}
	if len(templates) != len(cases) {
		t.Errorf("%d pod templates, the table has %d", len(templates), len(cases))
	}
}

func withDatabaseParameters(p map[string]string) option {
	return func(ws *v1alpha1.WebStack) {
		ws.Spec.Database.Parameters = map[string]v1alpha1.ParameterValue{}
		for k, v := range p {
			ws.Spec.Database.Parameters[k] = v1alpha1.ParameterValue(v)
		}
	}
}
