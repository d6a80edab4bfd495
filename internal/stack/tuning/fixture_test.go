package tuning

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/manifest"
)

// option changes the spec of a test WebStack before it is defaulted.
type option func(*v1alpha1.WebStack)

// webStack is a WebStack named shop with only app.image set, changed by opts, then defaulted
// and validated exactly as the API server would admit it (the test fails if it would not).
func webStack(t testing.TB, opts ...option) *v1alpha1.WebStack {
	t.Helper()
	ws := rawWebStack(opts...)
	if err := manifest.Validate(ws); err != nil {
		t.Fatalf("the API server would reject the fixture: %v", err)
	}
	return ws
}

// rawWebStack is webStack without the defaults and validation.
func rawWebStack(opts ...option) *v1alpha1.WebStack {
	ws := &v1alpha1.WebStack{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "default"},
		Spec:       v1alpha1.WebStackSpec{App: v1alpha1.AppSpec{Image: "registry.example.com/shop:1.4"}},
	}
	for _, o := range opts {
		o(ws)
	}
	return ws
}

// list builds a ResourceList from name, quantity pairs: list("cpu", "2", "memory", "1Gi").
func list(pairs ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i+1 < len(pairs); i += 2 {
		l[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return l
}

// withResources sets the limits and requests (either may be nil) of component c. For Tasks
// and Broker it adds tasks first when the spec has none.
func withResources(c Component, limits, requests corev1.ResourceList) option {
	return func(ws *v1alpha1.WebStack) {
		r := corev1.ResourceRequirements{Limits: limits, Requests: requests}
		s := &ws.Spec
		switch c {
		case App:
			s.App.Resources = r
		case Tasks:
			ensureTasks(ws).Resources = r
		case Broker:
			ensureTasks(ws).Broker.Resources = r
		case Database:
			s.Database.Resources = r
		case Redis:
			s.Redis.Resources = r
		case Cache:
			s.Cache.Resources = r
		case LoadBalancer:
			s.LoadBalancer.Resources = r
		case Pooler:
			s.Database.Pooling.Resources = r
		}
	}
}

func ensureTasks(ws *v1alpha1.WebStack) *v1alpha1.TasksSpec {
	if ws.Spec.Tasks == nil {
		ws.Spec.Tasks = &v1alpha1.TasksSpec{Command: []string{"celery", "-A", "shop", "worker"}}
	}
	return ws.Spec.Tasks
}

func withWorkers(n int32) option { return func(ws *v1alpha1.WebStack) { ws.Spec.App.Workers = n } }
func withThreads(n int32) option { return func(ws *v1alpha1.WebStack) { ws.Spec.App.Threads = n } }
func withReplicas(n int32) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.App.Replicas = &n }
}
func withAutoscaling(minReplicas, maxReplicas int32) option {
	return func(ws *v1alpha1.WebStack) {
		ws.Spec.App.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: minReplicas, MaxReplicas: maxReplicas}
	}
}
func withMemoryPerWorker(q string) option {
	return func(ws *v1alpha1.WebStack) { m := resource.MustParse(q); ws.Spec.App.MemoryPerWorker = &m }
}

// withTasks adds task workers with the given replicas.
func withTasks(replicas int32) option {
	return func(ws *v1alpha1.WebStack) { ensureTasks(ws).Replicas = &replicas }
}
func withBeat() option { return func(ws *v1alpha1.WebStack) { ensureTasks(ws).Beat = true } }
func withConcurrency(n int32) option {
	return func(ws *v1alpha1.WebStack) { ensureTasks(ws).Concurrency = n }
}

func withoutCache() option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Cache.Enabled = ptr(false) }
}
func withoutRedis() option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Redis.Enabled = ptr(false) }
}
func withoutDatabase() option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Database.Enabled = ptr(false) }
}
func withPersistence(p v1alpha1.RedisPersistence) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Redis.Persistence = p }
}
func withRedisPolicy(p string) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Redis.MaxMemoryPolicy = p }
}
func withPooling(m v1alpha1.PoolingMode) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Database.Pooling.Mode = m }
}
func withPoolerReplicas(n int32) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Database.Pooling.Replicas = &n }
}
func withMaxConnections(n int32) option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Database.MaxConnections = n }
}

// withLoadBalancer sets HAProxy's replicas and maxConnections (0 leaves the default).
func withLoadBalancer(replicas, maxConnections int32) option {
	return func(ws *v1alpha1.WebStack) {
		ws.Spec.LoadBalancer.Replicas = replicas
		ws.Spec.LoadBalancer.MaxConnections = maxConnections
	}
}
func withTimeouts(server, queue time.Duration) option {
	return func(ws *v1alpha1.WebStack) {
		ws.Spec.LoadBalancer.Timeouts.Server = &metav1.Duration{Duration: server}
		ws.Spec.LoadBalancer.Timeouts.Queue = &metav1.Duration{Duration: queue}
	}
}

func ptr[T any](v T) *T { return &v }
