package tuning

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/manifest"
)

// fuzzSpec is what one fuzz input sets in a WebStack spec. Empty quantities are unset.
type fuzzSpec struct {
	appCPU, appMemory, memoryPerWorker string
	workers, threads                   int32
	replicas, maxReplicas              int32 // maxReplicas > 0 sets autoscaling, else replicas >= 0 sets replicas
	tasks                              bool
	taskCPU, taskMemory                string
	taskReplicas, concurrency          int32
	beat                               bool
	brokerMemory                       string
	databaseOn                         bool
	databaseMemory                     string
	maxConnections                     int32
	redisOn                            bool
	redisMemory                        string
	persistence                        uint8
	cacheOn                            bool
	cacheMemory                        string
	lbReplicas                         int32
	lbCPU                              string
	// requests picks, per component bit, requests instead of limits for the quantities.
	requests uint8
}

// build makes the spec; ok is false when a quantity does not parse.
func (f fuzzSpec) build() (ws *v1alpha1.WebStack, ok bool) {
	ok = true
	res := func(bit uint, cpu, memory string) corev1.ResourceRequirements {
		l := corev1.ResourceList{}
		for name, s := range map[corev1.ResourceName]string{corev1.ResourceCPU: cpu, corev1.ResourceMemory: memory} {
			if s == "" {
				continue
			}
			q, err := resource.ParseQuantity(s)
			if err != nil {
				ok = false
				continue
			}
			l[name] = q
		}
		if len(l) == 0 {
			return corev1.ResourceRequirements{}
		}
		if f.requests&(1<<bit) != 0 {
			return corev1.ResourceRequirements{Requests: l}
		}
		return corev1.ResourceRequirements{Limits: l}
	}
	ws = rawWebStack(func(ws *v1alpha1.WebStack) {
		s := &ws.Spec
		s.App.Resources = res(0, f.appCPU, f.appMemory)
		if f.memoryPerWorker != "" {
			q, err := resource.ParseQuantity(f.memoryPerWorker)
			ok = ok && err == nil
			s.App.MemoryPerWorker = &q
		}
		s.App.Workers, s.App.Threads = f.workers, f.threads
		switch {
		case f.maxReplicas > 0:
			s.App.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: 1, MaxReplicas: f.maxReplicas}
		case f.replicas >= 0:
			s.App.Replicas = ptr(f.replicas)
		}
		if f.tasks {
			t := ensureTasks(ws)
			t.Resources = res(1, f.taskCPU, f.taskMemory)
			t.Replicas, t.Concurrency, t.Beat = ptr(f.taskReplicas), f.concurrency, f.beat
			t.Broker.Resources = res(2, "", f.brokerMemory)
		}
		s.Database.Enabled = ptr(f.databaseOn)
		s.Database.Resources = res(3, "", f.databaseMemory)
		s.Database.MaxConnections = f.maxConnections
		s.Redis.Enabled = ptr(f.redisOn)
		s.Redis.Resources = res(4, "", f.redisMemory)
		s.Redis.Persistence = []v1alpha1.RedisPersistence{v1alpha1.PersistenceNone, v1alpha1.PersistenceRDB, v1alpha1.PersistenceAOF}[f.persistence%3]
		s.Cache.Enabled = ptr(f.cacheOn)
		s.Cache.Resources = res(5, "", f.cacheMemory)
		s.LoadBalancer.Replicas = f.lbReplicas
		s.LoadBalancer.Resources = res(6, f.lbCPU, "")
	})
	return ws, ok
}

// FuzzFor builds specs from fuzz inputs, keeps those the API server would admit, and checks
// that For neither panics nor gives a number that does not fit its container.
//
//	go test -fuzz=FuzzFor -fuzztime=60s ./internal/stack/tuning
func FuzzFor(f *testing.F) {
	seeds := []fuzzSpec{
		{databaseOn: true, redisOn: true, cacheOn: true, replicas: -1},
		{maxReplicas: 10, tasks: true, taskReplicas: 2, databaseOn: true, redisOn: true, cacheOn: true, threads: 1},
		{appCPU: "4", appMemory: "256Mi", workers: 0, threads: 4, replicas: 3, databaseOn: true, databaseMemory: "1000M", redisOn: true, persistence: 1, cacheOn: true, cacheMemory: "1G"},
		{appCPU: "1000", appMemory: "1Ti", maxReplicas: 1000, tasks: true, taskCPU: "500", taskMemory: "1Ti", taskReplicas: 1000, beat: true, databaseOn: true, requests: 0xff},
		{workers: 256, threads: 64, maxReplicas: 1000, databaseOn: true, maxConnections: 100000, lbReplicas: 1},
		{appMemory: "1", memoryPerWorker: "1", databaseOn: true, databaseMemory: "1", redisOn: true, redisMemory: "1", persistence: 2, cacheOn: true, cacheMemory: "1", tasks: true, brokerMemory: "1"},
		{appCPU: "1m", lbCPU: "1m", lbReplicas: 100, databaseOn: true, maxConnections: 1},
		{appCPU: "0", appMemory: "0", databaseMemory: "0", databaseOn: true, redisMemory: "0", redisOn: true, cacheMemory: "0", cacheOn: true},
		{appCPU: "1e3", appMemory: "1e12", lbCPU: "9e18", databaseOn: true, databaseMemory: "8Ei", redisOn: true, redisMemory: "9e18"},
		{appCPU: "-1", appMemory: "-1Gi", databaseOn: true, databaseMemory: "-1", tasks: true, taskCPU: "-2"},
		{tasks: true, concurrency: 256, taskReplicas: 0, memoryPerWorker: "512Mi", replicas: 0},
		{appCPU: "1500m", appMemory: "1536Mi", memoryPerWorker: "100M", requests: 0x55, tasks: true, taskMemory: "2Gi", lbCPU: "2500m", lbReplicas: 3, redisOn: true, cacheOn: true},
	}
	for _, s := range seeds {
		f.Add(s.appCPU, s.appMemory, s.memoryPerWorker, s.workers, s.threads, s.replicas, s.maxReplicas,
			s.tasks, s.taskCPU, s.taskMemory, s.taskReplicas, s.concurrency, s.beat, s.brokerMemory,
			s.databaseOn, s.databaseMemory, s.maxConnections, s.redisOn, s.redisMemory, s.persistence,
			s.cacheOn, s.cacheMemory, s.lbReplicas, s.lbCPU, s.requests)
	}
	f.Fuzz(func(t *testing.T, appCPU, appMemory, memoryPerWorker string, workers, threads, replicas, maxReplicas int32,
		tasks bool, taskCPU, taskMemory string, taskReplicas, concurrency int32, beat bool, brokerMemory string,
		databaseOn bool, databaseMemory string, maxConnections int32, redisOn bool, redisMemory string, persistence uint8,
		cacheOn bool, cacheMemory string, lbReplicas int32, lbCPU string, requests uint8) {
		spec := fuzzSpec{appCPU, appMemory, memoryPerWorker, workers, threads, replicas, maxReplicas,
			tasks, taskCPU, taskMemory, taskReplicas, concurrency, beat, brokerMemory,
			databaseOn, databaseMemory, maxConnections, redisOn, redisMemory, persistence,
			cacheOn, cacheMemory, lbReplicas, lbCPU, requests}
		ws, ok := spec.build()
		if !ok || manifest.Validate(ws) != nil {
			t.Skip("the API server would reject this spec")
		}
		before := ws.DeepCopy()
		r := For(ws)
		if !reflect.DeepEqual(ws, before) {
			t.Fatalf("For modified its input")
		}
		if again := For(ws); !reflect.DeepEqual(r, again) {
			t.Fatalf("For is not deterministic")
		}
		checkInvariants(t, ws, r)
		checkLinesMatchStatus(t, r)
		if s := r.Status(); s.Warnings == nil || len(s.Warnings) > maxStatusWarnings {
			t.Errorf("status warnings %#v: want a non-nil list of at most %d", s.Warnings, maxStatusWarnings)
		}

		// The containers the operator builds give the same numbers.
		filled := ws.DeepCopy()
		fill(filled)
		if err := manifest.Validate(filled); err != nil {
			t.Fatalf("the API server would reject the spec with ContainerResources: %v", err)
		}
		if a, b := numbersOf(r), numbersOf(For(filled)); a != b {
			t.Errorf("numbers from the spec and from the containers differ:\nspec %+v\npods %+v", a, b)
		}
	})
}

// fill replaces every container's resources with ContainerResources.
func fill(ws *v1alpha1.WebStack) {
	s := &ws.Spec
	s.App.Resources = ContainerResources(App, s.App.Resources)
	if s.Tasks != nil {
		s.Tasks.Resources = ContainerResources(Tasks, s.Tasks.Resources)
		s.Tasks.Broker.Resources = ContainerResources(Broker, s.Tasks.Broker.Resources)
	}
	s.Database.Resources = ContainerResources(Database, s.Database.Resources)
	s.Redis.Resources = ContainerResources(Redis, s.Redis.Resources)
	s.Cache.Resources = ContainerResources(Cache, s.Cache.Resources)
	s.LoadBalancer.Resources = ContainerResources(LoadBalancer, s.LoadBalancer.Resources)
}

// checkInvariants checks what must hold for every admitted spec.
func checkInvariants(t *testing.T, ws *v1alpha1.WebStack, r Result) {
	t.Helper()
	a := r.App
	if a.WorkersPerPod < 1 || a.WorkersPerPod > maxWorkersPerPod || a.ThreadsPerWorker < 1 || a.MaxPods < 0 || a.TerminationGracePeriodSeconds < 5 {
		t.Errorf("app %+v out of range", a)
	}
	if ws.Spec.App.Workers > 0 && a.WorkersPerPod != ws.Spec.App.Workers {
		t.Errorf("explicit workers %d became %d", ws.Spec.App.Workers, a.WorkersPerPod)
	}

	if (r.Tasks != nil) != (ws.Spec.Tasks != nil) || (r.Broker != nil) != (ws.Spec.Tasks != nil) {
		t.Errorf("tasks %v and broker %v for tasks %v", r.Tasks, r.Broker, ws.Spec.Tasks)
	}
	if tk := r.Tasks; tk != nil {
		if tk.Concurrency < 1 || tk.Concurrency > maxWorkersPerPod || tk.Pods < 0 || tk.Beat < 0 || tk.Beat > 1 {
			t.Errorf("tasks %+v out of range", tk)
		}
		if b := r.Broker; b.MaxMemoryMiB > b.Inputs.MemoryMiB/2 || b.MaxMemoryPolicy != brokerPolicy || !b.AppendOnly {
			t.Errorf("broker %+v", b)
		}
	}

	if (r.Database != nil) != ws.Spec.Database.IsEnabled() {
		t.Errorf("database %v for enabled %v", r.Database, ws.Spec.Database.IsEnabled())
	}
	if d := r.Database; d != nil {
		m := d.Inputs.MemoryMiB
		if d.ConnectionBudget < reservedConnections || d.MaxConnections < 1 || d.MaxConnections > maxDatabaseConnections {
			t.Errorf("connections %d, budget %d out of range", d.MaxConnections, d.ConnectionBudget)
		}
		if mc := ws.Spec.Database.MaxConnections; mc > 0 && d.MaxConnections != mc {
			t.Errorf("explicit maxConnections %d became %d", mc, d.MaxConnections)
		}
		if d.BelowBudget() && len(r.Warnings) == 0 {
			t.Errorf("below the budget without a warning: %+v", d)
		}
		if d.SharedBuffersMiB < 0 || d.SharedBuffersMiB+d.EffectiveCacheSizeMiB > m || d.SharedBuffersMiB+d.MaintenanceWorkMemMiB > m ||
			d.MaintenanceWorkMemMiB > maxMaintenanceWorkMemMiB || d.WorkMemMiB < minWorkMemMiB {
			t.Errorf("database memory split %+v does not fit %dMi", d, m)
		}
		// work_mem fills what shared_buffers leaves for every connection's 3 sorts, unless
		// the 4Mi floor bites.
		if used := satAdd(d.SharedBuffersMiB, satMul(d.WorkMemMiB, 3*int64(d.MaxConnections))); d.WorkMemMiB > minWorkMemMiB && used > m {
			t.Errorf("shared_buffers + 3 x work_mem x max_connections = %dMi exceeds %dMi", used, m)
		}
	}

	if (r.Redis != nil) != ws.Spec.Redis.IsEnabled() {
		t.Errorf("redis %v for enabled %v", r.Redis, ws.Spec.Redis.IsEnabled())
	}
	if c := r.Redis; c != nil {
		if c.MaxMemoryMiB < 0 || c.MaxMemoryMiB > c.Inputs.MemoryMiB || c.MaxMemoryPolicy == "" {
			t.Errorf("redis %+v", c)
		}
		if c.AppendOnly && c.Snapshots {
			t.Errorf("redis with both AOF and RDB: %+v", c)
		}
	}

	if (r.Cache != nil) != ws.Spec.Cache.IsEnabled() {
		t.Errorf("cache %v for enabled %v", r.Cache, ws.Spec.Cache.IsEnabled())
	}
	if c := r.Cache; c != nil && (c.StorageMiB < 0 || c.TransientMiB < 0 || c.StorageMiB+c.TransientMiB > c.Inputs.MemoryMiB) {
		t.Errorf("varnish %+v does not fit its memory", c)
	}

	lb := r.LoadBalancer
	if lb.Threads < 1 || lb.Threads > maxHAProxyThreads || lb.ServerSlots != serverSlots(a.MaxPods) || lb.ServerSlots < min(a.MaxPods, 1<<30) || lb.MaxConnections != ws.Spec.LoadBalancer.MaxConnections {
		t.Errorf("load balancer %+v", lb)
	}
	// serverMaxConnections is exactly ceil(workers x threads / replicas): all HAProxy pods
	// together can fill every worker thread of an app pod, and no more.
	perPod := int64(a.WorkersPerPod) * int64(a.ThreadsPerWorker)
	replicas := int64(ws.Spec.LoadBalancer.Replicas)
	if smc := int64(lb.ServerMaxConnections); smc < 1 || smc*replicas < perPod || (smc-1)*replicas >= perPod {
		t.Errorf("serverMaxConnections %d for %d worker threads and %d HAProxy replicas", smc, perPod, replicas)
	}
}
