package tuning

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// The example of the issue: an all-defaults spec with app autoscaling up to 10 pods and 2
// task replicas without beat, with the default pooler: max_connections comes from the
// pooler's server pools (2 replicas + 1 rollout surge) x (pool 3 + reserve 1) + 10 = 22, not
// from the 32 app and task processes.
func TestStatusOfTheIssueExample(t *testing.T) {
	ws := webStack(t, withAutoscaling(2, 10), withTasks(2))
	got := For(ws).Status()
	want := v1alpha1.TuningStatus{
		App:          v1alpha1.AppTuning{WorkersPerPod: 3, ThreadsPerWorker: 1, MaxPods: 10, TerminationGracePeriodSeconds: 45},
		Tasks:        &v1alpha1.TasksTuning{Concurrency: 1, Pods: 2},
		Database:     &v1alpha1.DatabaseTuning{MaxConnections: 22, SharedBuffers: "256Mi", EffectiveCacheSize: "768Mi", WorkMem: "11Mi", MaintenanceWorkMem: "64Mi"},
		Pooler:       &v1alpha1.PoolerTuning{Replicas: 2, PoolSize: 3, ReservePoolSize: 1, MaxClientConnections: 100},
		Redis:        &v1alpha1.RedisTuning{MaxMemory: "192Mi", MaxMemoryPolicy: "allkeys-lru"},
		Broker:       &v1alpha1.RedisTuning{MaxMemory: "128Mi", MaxMemoryPolicy: "noeviction"},
		Cache:        &v1alpha1.CacheTuning{Storage: "307Mi", Transient: "51Mi"},
		LoadBalancer: v1alpha1.LoadBalancerTuning{MaxConnections: 4096, Threads: 1, ServerMaxConnections: 2, ServerSlots: 16},
		Warnings:     []string{},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("status.tuning:\n got %+v\nwant %+v", got, want)
	}

	out, err := yaml.Marshal(map[string]any{"tuning": got})
	if err != nil {
		t.Fatal(err)
	}
	wantYAML := `tuning:
  app:
    maxPods: 10
    terminationGracePeriodSeconds: 45
    threadsPerWorker: 1
    workersPerPod: 3
  broker:
    maxMemory: 128Mi
    maxMemoryPolicy: noeviction
  cache:
    storage: 307Mi
    transient: 51Mi
  database:
    effectiveCacheSize: 768Mi
    maintenanceWorkMem: 64Mi
    maxConnections: 22
    sharedBuffers: 256Mi
    workMem: 11Mi
  loadBalancer:
    maxConnections: 4096
    serverMaxConnections: 2
    serverSlots: 16
    threads: 1
  pooler:
    maxClientConnections: 100
    poolSize: 3
    replicas: 2
    reservePoolSize: 1
  redis:
    maxMemory: 192Mi
    maxMemoryPolicy: allkeys-lru
  tasks:
    concurrency: 1
    pods: 2
  warnings: []
`
	if string(out) != wantYAML {
		t.Errorf("YAML:\n%s\nwant:\n%s", out, wantYAML)
	}
}

func TestStatus(t *testing.T) {
	cases := map[string]struct {
		opts []option
		// absent are the components status.tuning leaves out.
		absent   []string
		warnings int
	}{
		"no tasks":          {absent: []string{"tasks", "broker"}},
		"database disabled": {opts: []option{withoutDatabase()}, absent: []string{"tasks", "broker", "database"}},
		"cache and redis disabled": {
			opts: []option{withTasks(1), withoutCache(), withoutRedis()}, absent: []string{"cache", "redis"},
		},
		"below the budget": {opts: []option{withMaxConnections(11)}, absent: []string{"tasks", "broker"}, warnings: 1},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := For(webStack(t, c.opts...)).Status()
			present := map[string]bool{
				"tasks": s.Tasks != nil, "broker": s.Broker != nil, "database": s.Database != nil,
				"redis": s.Redis != nil, "cache": s.Cache != nil,
			}
			for _, a := range c.absent {
				if present[a] {
					t.Errorf("%s is present, want it absent", a)
				}
				delete(present, a)
			}
			for p, ok := range present {
				if !ok {
					t.Errorf("%s is absent, want it present", p)
				}
			}
			if s.Warnings == nil || len(s.Warnings) != c.warnings {
				t.Errorf("warnings %#v, want %d (never nil)", s.Warnings, c.warnings)
			}
		})
	}
}

func TestStatusWarningsFitTheSchema(t *testing.T) {
	cases := map[string]struct {
		in   []string
		want []string
	}{
		"nil is an empty list": {in: nil, want: []string{}},
		"16 fit":               {in: numbered(16), want: numbered(16)},
		"17 are cut":           {in: numbered(17), want: append(numbered(15), "... and 2 more warnings")},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := Result{Warnings: c.in}
			got := r.Status().Warnings
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %#v, want %#v", got, c.want)
			}
			if len(c.in) > 0 && len(got) > 0 {
				got[0] = "changed"
				if c.in[0] == "changed" {
					t.Errorf("Status shares the warnings slice with the Result")
				}
			}
		})
	}
}

func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("warning %d", i+1)
	}
	return out
}

// The status prints memory always in Mi, even for whole GiB.
func TestStatusMemoryIsAlwaysMi(t *testing.T) {
	s := For(webStack(t, withResources(Database, list("memory", "8Gi"), nil))).Status()
	if s.Database.SharedBuffers != "2048Mi" || s.Database.EffectiveCacheSize != "6144Mi" {
		t.Errorf("sharedBuffers %s, effectiveCacheSize %s; want 2048Mi and 6144Mi", s.Database.SharedBuffers, s.Database.EffectiveCacheSize)
	}
	for _, v := range []string{s.Database.WorkMem, s.Database.MaintenanceWorkMem, s.Redis.MaxMemory, s.Cache.Storage, s.Cache.Transient} {
		if !strings.HasSuffix(v, "Mi") {
			t.Errorf("%q is not in Mi", v)
		}
	}
}
