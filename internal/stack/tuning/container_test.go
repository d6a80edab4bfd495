package tuning

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

var components = []Component{App, Tasks, Broker, Database, Redis, Cache, LoadBalancer, Pooler}

func TestContainerResources(t *testing.T) {
	cases := map[string]struct {
		c    Component
		in   corev1.ResourceRequirements
		want corev1.ResourceRequirements
	}{
		"app, nothing set": {
			c:    App,
			want: corev1.ResourceRequirements{Requests: list("cpu", "1", "memory", "512Mi"), Limits: list("memory", "512Mi")},
		},
		"database, nothing set": {
			c:    Database,
			want: corev1.ResourceRequirements{Requests: list("cpu", "1", "memory", "1Gi"), Limits: list("memory", "1Gi")},
		},
		"broker, nothing set": {
			c:    Broker,
			want: corev1.ResourceRequirements{Requests: list("cpu", "250m", "memory", "256Mi"), Limits: list("memory", "256Mi")},
		},
		"load balancer, nothing set": {
			c:    LoadBalancer,
			want: corev1.ResourceRequirements{Requests: list("cpu", "500m", "memory", "256Mi"), Limits: list("memory", "256Mi")},
		},
		"cpu limit only: memory filled, no cpu request added": {
			c:    Cache,
			in:   corev1.ResourceRequirements{Limits: list("cpu", "2")},
			want: corev1.ResourceRequirements{Requests: list("memory", "512Mi"), Limits: list("cpu", "2", "memory", "512Mi")},
		},
		"memory request only: cpu filled, no memory limit added": {
			c:    Redis,
			in:   corev1.ResourceRequirements{Requests: list("memory", "1Gi")},
			want: corev1.ResourceRequirements{Requests: list("cpu", "250m", "memory", "1Gi")},
		},
		"everything set: unchanged": {
			c:    Tasks,
			in:   corev1.ResourceRequirements{Requests: list("cpu", "1", "memory", "1Gi"), Limits: list("cpu", "2", "memory", "2Gi")},
			want: corev1.ResourceRequirements{Requests: list("cpu", "1", "memory", "1Gi"), Limits: list("cpu", "2", "memory", "2Gi")},
		},
		"other resources are kept": {
			c:  App,
			in: corev1.ResourceRequirements{Limits: list("ephemeral-storage", "1Gi"), Claims: []corev1.ResourceClaim{{Name: "gpu"}}},
			want: corev1.ResourceRequirements{
				Requests: list("cpu", "1", "memory", "512Mi"),
				Limits:   list("ephemeral-storage", "1Gi", "memory", "512Mi"),
				Claims:   []corev1.ResourceClaim{{Name: "gpu"}},
			},
		},
		"unknown component: an unchanged copy": {
			c:    Component(42),
			in:   corev1.ResourceRequirements{Limits: list("cpu", "2")},
			want: corev1.ResourceRequirements{Limits: list("cpu", "2")},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			before := *c.in.DeepCopy()
			got := ContainerResources(c.c, c.in)
			if !equalResources(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
			if !reflect.DeepEqual(c.in, before) {
				t.Errorf("the input changed: %+v, was %+v", c.in, before)
			}
			// Changing the result must not reach the input.
			for _, l := range []corev1.ResourceList{got.Limits, got.Requests} {
				for k := range l {
					l[k] = resource.MustParse("999")
				}
			}
			if !reflect.DeepEqual(c.in, before) {
				t.Errorf("the result shares maps with the input")
			}
		})
	}
}

// equalResources compares quantities by value (a parsed "512Mi" and a copied one may differ
// in their cached string form).
func equalResources(a, b corev1.ResourceRequirements) bool {
	eq := func(x, y corev1.ResourceList) bool {
		if len(x) != len(y) {
			return false
		}
		for k, q := range x {
			if p, ok := y[k]; !ok || q.Cmp(p) != 0 {
				return false
			}
		}
		return true
	}
	return eq(a.Limits, b.Limits) && eq(a.Requests, b.Requests) && reflect.DeepEqual(a.Claims, b.Claims)
}

// The numbers derived from a spec equal the numbers derived from the same spec with every
// container's resources replaced by ContainerResources: what the operator puts on the pods is
// what the numbers were computed for.
func TestContainerResourcesAgreesWithFor(t *testing.T) {
	shapes := map[string]corev1.ResourceRequirements{
		"none":                          {},
		"cpu limit":                     {Limits: list("cpu", "3")},
		"cpu request":                   {Requests: list("cpu", "1500m")},
		"cpu limit and request":         {Limits: list("cpu", "4"), Requests: list("cpu", "2")},
		"memory limit":                  {Limits: list("memory", "3Gi")},
		"memory request":                {Requests: list("memory", "700Mi")},
		"memory limit and request":      {Limits: list("memory", "2Gi"), Requests: list("memory", "1Gi")},
		"cpu request and memory limit":  {Limits: list("memory", "1000M"), Requests: list("cpu", "250m")},
		"everything":                    {Limits: list("cpu", "2", "memory", "2Gi"), Requests: list("cpu", "1", "memory", "1Gi")},
		"ephemeral storage only (none)": {Limits: list("ephemeral-storage", "1Gi")},
	}
	for name, r := range shapes {
		t.Run(name, func(t *testing.T) {
			var opts, filled []option
			for _, c := range components {
				opts = append(opts, withResources(c, r.Limits, r.Requests))
				cr := ContainerResources(c, r)
				filled = append(filled, withResources(c, cr.Limits, cr.Requests))
			}
			base := []option{withTasks(2), withBeat(), withAutoscaling(1, 5)}
			fromSpec := For(webStack(t, append(base, opts...)...))
			fromPods := For(webStack(t, append(base, filled...)...))
			if a, b := numbersOf(fromSpec), numbersOf(fromPods); a != b {
				t.Errorf("numbers differ:\nspec %+v\npods %+v", a, b)
			}
			if a, b := inputsOf(fromSpec), inputsOf(fromPods); a != b {
				t.Errorf("inputs differ:\nspec %+v\npods %+v", a, b)
			}
		})
	}
}

// inputsOf lists the inputs of every component of r.
func inputsOf(r Result) [7]Inputs {
	return [7]Inputs{r.App.Inputs, r.Tasks.Inputs, r.Broker.Inputs, r.Database.Inputs, r.Redis.Inputs, r.Cache.Inputs, r.LoadBalancer.Inputs}
}

func TestInputs(t *testing.T) {
	cases := map[string]struct {
		r         corev1.ResourceRequirements
		want      Inputs
		warnings  int
		cpuFrom   string
		memFrom   string
		component Component
	}{
		"defaults":                  {component: Cache, want: Inputs{MilliCPU: 500, MemoryMiB: 512}, cpuFrom: "default", memFrom: "default"},
		"limits first":              {component: App, r: corev1.ResourceRequirements{Limits: list("cpu", "2", "memory", "2Gi"), Requests: list("cpu", "1", "memory", "1Gi")}, want: Inputs{MilliCPU: 2000, MemoryMiB: 2048}, cpuFrom: "limits.cpu", memFrom: "limits.memory"},
		"then requests":             {component: App, r: corev1.ResourceRequirements{Requests: list("cpu", "1", "memory", "1Gi")}, want: Inputs{MilliCPU: 1000, MemoryMiB: 1024}, cpuFrom: "requests.cpu", memFrom: "requests.memory"},
		"cpu rounds up to millis":   {component: App, r: corev1.ResourceRequirements{Limits: list("cpu", "0.0001")}, want: Inputs{MilliCPU: 1, MemoryMiB: 512}, cpuFrom: "limits.cpu", memFrom: "default"},
		"memory rounds down to MiB": {component: App, r: corev1.ResourceRequirements{Limits: list("memory", "1048575")}, want: Inputs{MilliCPU: 1000, MemoryMiB: 0}, cpuFrom: "default", memFrom: "limits.memory"},
		"negative is 0, warned":     {component: Redis, r: corev1.ResourceRequirements{Limits: list("cpu", "-1", "memory", "-1Gi")}, want: Inputs{}, warnings: 2, cpuFrom: "limits.cpu", memFrom: "limits.memory"},
		"too large is clamped, warned": {component: Redis, r: corev1.ResourceRequirements{Limits: list("cpu", "1e20", "memory", "1e30")},
			want: Inputs{MilliCPU: 9223372036854775807, MemoryMiB: 9223372036854775807 >> 20}, warnings: 2, cpuFrom: "limits.cpu", memFrom: "limits.memory"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			x := &explainer{}
			in := x.inputs(c.component, c.r)
			if in.Inputs != c.want || in.cpuFrom != c.cpuFrom || in.memoryFrom != c.memFrom {
				t.Errorf("got %+v from %s and %s, want %+v from %s and %s", in.Inputs, in.cpuFrom, in.memoryFrom, c.want, c.cpuFrom, c.memFrom)
			}
			if len(x.warnings) != c.warnings {
				t.Errorf("warnings %q, want %d", x.warnings, c.warnings)
			}
		})
	}
}

func TestComponentString(t *testing.T) {
	want := []string{"app", "tasks", "broker", "database", "redis", "cache", "loadBalancer", "pooler"}
	for i, c := range components {
		if c.String() != want[i] {
			t.Errorf("%d: %q, want %q", i, c, want[i])
		}
	}
	if s := Component(42).String(); s != "Component(42)" {
		t.Errorf("unknown component: %q", s)
	}
}
