package resources

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/manifest"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// option changes the spec of a test WebStack before it is defaulted.
type option func(*v1alpha1.WebStack)

// testUID is the UID of every test WebStack, for the owner references.
const testUID = types.UID("0d7e3c9a-5b1f-4c2e-9a8d-2f6b1e4c7a90")

// webStack is a WebStack shop in namespace shop-ns with only app.image set, changed by
// opts, then defaulted and validated exactly as the API server would admit it (the test
// fails if it would not).
func webStack(t testing.TB, opts ...option) *v1alpha1.WebStack {
	t.Helper()
	ws := &v1alpha1.WebStack{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "shop-ns"},
		Spec:       v1alpha1.WebStackSpec{App: v1alpha1.AppSpec{Image: "registry.example.com/shop:1.4"}},
	}
	for _, o := range opts {
		o(ws)
	}
	if err := manifest.Validate(ws); err != nil {
		t.Fatalf("the API server would reject the fixture: %v", err)
	}
	ws.UID = testUID
	return ws
}

// testCredentials are fixed passwords; one has characters that URLs must escape.
var testCredentials = Credentials{
	DatabaseSuperuser: "superuser-pw",
	DatabaseApp:       "app/pw:with@odd#chars",
	Redis:             "redis-pw",
	Broker:            "broker-pw",
}

// inputsFor is what the controller passes to Desired for ws: its tuning, its configs
// rendered with DNS discovery, and testCredentials.
func inputsFor(t testing.TB, ws *v1alpha1.WebStack) Inputs {
	t.Helper()
	tr := tuning.For(ws)
	// The pods' layout with the agent (as stack.Build renders it with an agent image).
	configs, err := render.Render(ws, tr, dnsDiscovery(ws), render.Options{VarnishAdmin: render.VarnishAdminAddress})
	if err != nil {
		t.Fatalf("render.Render: %v", err)
	}
	return Inputs{WebStack: ws, Tuning: tr, Configs: configs, Credentials: testCredentials, AppImage: ws.Spec.App.Image,
		HealthHost: dnsDiscovery(ws).HealthHost(), AgentImage: testAgentImage}
}

// desired is Desired for the fixture with opts; the test fails on an error.
func desired(t testing.TB, opts ...option) []Object {
	t.Helper()
	objs, err := Desired(inputsFor(t, webStack(t, opts...)))
	if err != nil {
		t.Fatalf("Desired: %v", err)
	}
	return objs
}

// key is how tests name an object: Kind/name.
func key(o Object) string { return o.GetObjectKind().GroupVersionKind().Kind + "/" + o.GetName() }

// find returns the object Kind/name of objs as a T; the test fails when it is absent.
func find[T Object](t testing.TB, objs []Object, k string) T {
	t.Helper()
	for _, o := range objs {
		if key(o) == k {
			typed, ok := o.(T)
			if !ok {
				t.Fatalf("%s is a %T", k, o)
			}
			return typed
		}
	}
	t.Fatalf("no %s among %v", k, keys(objs))
	var zero T
	return zero
}

func keys(objs []Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = key(o)
	}
	return out
}

// podTemplates are the pod templates of every workload in objs, by Kind/name.
func podTemplates(objs []Object) map[string]corev1.PodTemplateSpec {
	out := map[string]corev1.PodTemplateSpec{}
	for _, o := range objs {
		switch w := o.(type) {
		case *appsv1.Deployment:
			out[key(o)] = w.Spec.Template
		case *appsv1.StatefulSet:
			out[key(o)] = w.Spec.Template
		case *batchv1.Job:
			out[key(o)] = w.Spec.Template
		}
	}
	return out
}

// container is the only container of a pod template.
func container(t testing.TB, p corev1.PodTemplateSpec) corev1.Container {
	t.Helper()
	cs := p.Spec.Containers
	if len(cs) == 2 && cs[1].Name == AgentContainerName {
		return cs[0]
	}
	if len(cs) != 1 {
		t.Fatalf("want one container (and the agent), got %d", len(cs))
	}
	return cs[0]
}

// agentOf is the pod's agent container; the test fails without one.
func agentOf(t testing.TB, p corev1.PodTemplateSpec) corev1.Container {
	t.Helper()
	for _, c := range p.Spec.Containers {
		if c.Name == AgentContainerName {
			return c
		}
	}
	t.Fatalf("no %s container in %v", AgentContainerName, p.Spec.Containers)
	return corev1.Container{}
}

// testAgentImage is the agent image of the fixture's inputs.
const testAgentImage = "ghcr.io/webstack-dev/webstack-operator:test"

// env is the value of variable name of c, and whether it is set (exactly once).
func env(t testing.TB, c corev1.Container, name string) (string, bool) {
	t.Helper()
	value, n := "", 0
	for _, e := range c.Env {
		if e.Name == name {
			value, n = e.Value, n+1
		}
	}
	if n > 1 {
		t.Fatalf("variable %s is set %d times in container %s", name, n, c.Name)
	}
	return value, n == 1
}

func withName(name string) option { return func(ws *v1alpha1.WebStack) { ws.Name = name } }
func withoutCache() option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Cache.Enabled = ptr(false) }
}
func withoutRedis() option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Redis.Enabled = ptr(false) }
}
func withPooling(m v1alpha1.PoolingMode) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Database.Pooling.Mode = m }
}
func withoutDatabase() option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Database.Enabled = ptr(false) }
}

func ensureTasks(ws *v1alpha1.WebStack) *v1alpha1.TasksSpec {
	if ws.Spec.Tasks == nil {
		ws.Spec.Tasks = &v1alpha1.TasksSpec{Command: []string{"celery", "-A", "shop", "worker"}}
	}
	return ws.Spec.Tasks
}

// withTasks adds task workers with the given replicas.
func withTasks(replicas int32) option {
	return func(ws *v1alpha1.WebStack) { ensureTasks(ws).Replicas = &replicas }
}
func withBeat() option { return func(ws *v1alpha1.WebStack) { ensureTasks(ws).Beat = true } }
func withTasksCommand(c ...string) option {
	return func(ws *v1alpha1.WebStack) { ensureTasks(ws).Command = c }
}
func withTasksImage(image string) option {
	return func(ws *v1alpha1.WebStack) { ensureTasks(ws).Image = image }
}
func withQueues(q ...string) option {
	return func(ws *v1alpha1.WebStack) { ensureTasks(ws).Queues = q }
}
func withReplicas(n int32) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.App.Replicas = &n }
}
func withAutoscaling(minReplicas, maxReplicas int32) option {
	return func(ws *v1alpha1.WebStack) {
		ws.Spec.App.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: minReplicas, MaxReplicas: maxReplicas}
	}
}
func withWorkers(n int32) option { return func(ws *v1alpha1.WebStack) { ws.Spec.App.Workers = n } }
func withThreads(n int32) option { return func(ws *v1alpha1.WebStack) { ws.Spec.App.Threads = n } }
func withAppPort(p int32) option { return func(ws *v1alpha1.WebStack) { ws.Spec.App.Port = p } }
func withEnv(e ...corev1.EnvVar) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.App.Env = append(ws.Spec.App.Env, e...) }
}
func withMigration(c ...string) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.App.Migration = &v1alpha1.MigrationSpec{Command: c} }
}
func withPersistence(p v1alpha1.RedisPersistence) option {
	return func(ws *v1alpha1.WebStack) {
		ws.Spec.Redis.Persistence = p
		if ws.Spec.Redis.Storage == nil {
			ws.Spec.Redis.Storage = &v1alpha1.StorageSpec{}
		}
	}
}
func withRedisTTL(d time.Duration) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Redis.DefaultTTL = &metav1.Duration{Duration: d} }
}
func withServerTimeout(d time.Duration) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.LoadBalancer.Timeouts.Server = &metav1.Duration{Duration: d} }
}
func withCacheRule(prefix string, ttl time.Duration) option {
	return func(ws *v1alpha1.WebStack) {
		ws.Spec.Cache.Rules = append(ws.Spec.Cache.Rules, v1alpha1.CacheRule{PathPrefix: prefix, TTL: &metav1.Duration{Duration: ttl}})
	}
}
func withCacheReplicas(n int32) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Cache.Replicas = n }
}
func withLoadBalancerReplicas(n int32) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.LoadBalancer.Replicas = n }
}
func withDatabaseMemory(q string) option {
	return func(ws *v1alpha1.WebStack) {
		ws.Spec.Database.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(q)}
	}
}
func withRedisMemory(q string) option {
	return func(ws *v1alpha1.WebStack) {
		ws.Spec.Redis.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(q)}
	}
}
func withDeletionPolicy(p v1alpha1.DeletionPolicy) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Database.DeletionPolicy = p }
}
func withRateLimit(n int32) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.LoadBalancer.RateLimit.RequestsPerSecond = n }
}
func withServiceType(t v1alpha1.ServiceType, port int32) option {
	return func(ws *v1alpha1.WebStack) {
		ws.Spec.LoadBalancer.Service.Type = t
		ws.Spec.LoadBalancer.Service.Port = port
		ws.Spec.LoadBalancer.Service.Annotations = map[string]string{"example.com/lb": "internal"}
	}
}

// withDatabaseSize sets database.storage.size. (A typed client that leaves it unset sends
// storage: {}, which the CRD defaults to 1Gi, not the 10Gi of an absent storage.)
func withDatabaseSize(q string) option {
	return func(ws *v1alpha1.WebStack) {
		size := resource.MustParse(q)
		ws.Spec.Database.Storage.Size = &size
	}
}

// dnsDiscovery is the DNS discovery the plan gives ws in a cluster.local cluster.
func dnsDiscovery(ws *v1alpha1.WebStack) render.Discovery {
	fqdn := func(svc string) string { return ServiceHost(ws, svc) + ".cluster.local" }
	return render.Discovery{DNS: &render.DNSDiscovery{
		AppHost:         fqdn(AppHeadlessName(ws)),
		CacheHost:       fqdn(CacheHeadlessName(ws)),
		AppListenerHost: fqdn(LoadBalancerAppName(ws)),
		DatabaseHost:    fqdn(DatabaseName(ws)),
	}}
}
