package resources

import (
	"maps"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
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

func TestConfigChangesRollOnlyTheirPods(t *testing.T) {
	cases := map[string]struct {
		change   []option
		appImage string
		want     []string
	}{
		"nothing changes": {},
		"a cache rule":    {change: []option{withCacheRule("/static/", 24*time.Hour)}, want: []string{"Deployment/shop-cache"}},
		"database memory": {change: []option{withDatabaseMemory("2Gi")}, want: []string{"StatefulSet/shop-database"}},
		"a database extension": {
			change: []option{func(ws *v1alpha1.WebStack) { ws.Spec.Database.Extensions = []string{"pg_trgm"} }},
			want:   []string{"StatefulSet/shop-database"},
		},
		"cache Redis memory": {change: []option{withRedisMemory("1Gi")}, want: []string{"Deployment/shop-redis"}},
		"a rate limit":       {change: []option{withRateLimit(10)}, want: []string{"Deployment/shop-loadbalancer"}},
		// More workers: the app's env and HAProxy's per-server maxconn follow; with the
		// pooler, PostgreSQL's max_connections does not (nor max_client_conn, still at its
		// floor of 100).
		"app workers": {
			change: []option{withWorkers(8)},
			want:   []string{"Deployment/shop-app", "Deployment/shop-loadbalancer"},
		},
		// Without the pooler, the database's max_connections follows too.
		"app workers without the pooler": {
			change: []option{withPooling(v1alpha1.PoolingNone), withWorkers(8)},
			want: []string{"Deployment/shop-app", "Deployment/shop-beat", "Deployment/shop-loadbalancer",
				"Deployment/shop-pooler", "Deployment/shop-tasks", "StatefulSet/shop-database"},
		},
		// The database's CPU sizes the server pool: the pooler and max_connections follow.
		"database cpu": {
			change: []option{func(ws *v1alpha1.WebStack) {
				ws.Spec.Database.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}
			}},
			want: []string{"Deployment/shop-pooler", "StatefulSet/shop-database"},
		},
		"a new app image after its migration": {
			appImage: "registry.example.com/shop:1.5",
			want:     []string{"Deployment/shop-app", "Deployment/shop-beat", "Deployment/shop-tasks"},
		},
		// The connection Secret loses REDIS_URL: every pod that loads it restarts.
		"the cache Redis turned off": {
			change: []option{withoutRedis()},
			want:   []string{"Deployment/shop-app", "Deployment/shop-beat", "Deployment/shop-redis", "Deployment/shop-tasks"},
		},
	}
	before := podTemplates(desired(t, rollingBase...))
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := inputsFor(t, webStack(t, slices.Concat(rollingBase, tc.change)...))
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

func TestPodTemplateAnnotations(t *testing.T) {
	objs := desired(t, rollingBase...)
	cases := map[string][]string{
		"Deployment/shop-loadbalancer": {v1alpha1.ConfigHashAnnotation},
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
