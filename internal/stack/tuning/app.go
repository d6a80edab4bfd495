package tuning

import (
	"fmt"
	"math"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// maxWorkersPerPod is the most app workers (and task worker processes) per pod: the maximum
// app.workers and tasks.concurrency accept. Derived counts are capped at it too, so that a
// very large pod gets the same layout a user could have written.
const maxWorkersPerPod = 256

// Defaults used when the spec arrives without the schema defaults applied.
var (
	defaultMemoryPerWorker = resource.MustParse("128Mi")
	defaultServerTimeout   = 30 * time.Second
	defaultQueueTimeout    = 10 * time.Second
)

// defaultTargetCPUUtilization is the autoscaler's target when the spec leaves it 0.
const defaultTargetCPUUtilization = 70

// graceHeadroom is added to the server and queue timeouts for the pod's own shutdown.
const graceHeadroom = 5 * time.Second

// app derives the app's process layout:
//
//	workersPerPod    = app.workers if > 0, else
//	                   min(floor(2 x cores) + 1, max(1, floor(memory / app.memoryPerWorker))),
//	                   at least 1 and at most 256
//	threadsPerWorker = app.threads (default 1)
//	maxPods          = app.autoscaling.maxReplicas when autoscaling is set, else app.replicas (default 2)
//	terminationGracePeriodSeconds = ceil(timeouts.server + timeouts.queue + 5s)
func (x *explainer) app(spec *v1alpha1.WebStackSpec) AppResult {
	a := &spec.App
	in := x.inputs(App, a.Resources)
	r := AppResult{Inputs: in.Inputs, Resources: in.resources}

	if a.Workers > 0 {
		r.WorkersPerPod = a.Workers
		x.line("app.workersPerPod", itoa(r.WorkersPerPod), "app.workers = %d (explicit)", a.Workers)
	} else {
		// floor(2 x cores) + 1 = floor(millicores / 500) + 1, which cannot overflow.
		cpuTerm := satAdd(in.MilliCPU/500, 1)
		cpuExpr := fmt.Sprintf("floor(2 x %s cores) + 1", cores(in.MilliCPU))
		n, expl := perPod(in, cpuTerm, cpuExpr, a.MemoryPerWorker, "app.workers")
		r.WorkersPerPod = n
		x.line("app.workersPerPod", itoa(n), "%s; %s", expl, in.note())
	}

	r.ThreadsPerWorker = a.Threads
	if r.ThreadsPerWorker < 1 {
		r.ThreadsPerWorker = 1
		x.line("app.threadsPerWorker", "1", "app.threads unset: 1 (default)")
	} else {
		x.line("app.threadsPerWorker", itoa(r.ThreadsPerWorker), "app.threads = %d", a.Threads)
	}

	switch {
	case a.Autoscaling != nil:
		r.MaxPods = max(0, a.Autoscaling.MaxReplicas)
		r.TargetCPUUtilizationPercentage = a.Autoscaling.TargetCPUUtilizationPercentage
		if r.TargetCPUUtilizationPercentage == 0 {
			r.TargetCPUUtilizationPercentage = defaultTargetCPUUtilization
		}
		x.line("app.maxPods", itoa(r.MaxPods), "app.autoscaling.maxReplicas = %d", a.Autoscaling.MaxReplicas)
	case a.Replicas != nil:
		r.MaxPods = max(0, *a.Replicas)
		x.line("app.maxPods", itoa(r.MaxPods), "app.replicas = %d", *a.Replicas)
	default:
		r.MaxPods = a.AppReplicas()
		x.line("app.maxPods", itoa(r.MaxPods), "app.replicas unset: %d (default)", r.MaxPods)
	}

	t := &spec.LoadBalancer.Timeouts
	server := duration(t.Server, defaultServerTimeout)
	queue := duration(t.Queue, defaultQueueTimeout)
	r.ServerTimeoutSeconds = int32(min(ceilSeconds(server), math.MaxInt32))
	r.TerminationGracePeriodSeconds = ceilSeconds(server, queue, graceHeadroom)
	x.line("app.terminationGracePeriodSeconds", itoa(r.TerminationGracePeriodSeconds),
		"ceil(timeouts.server %s + timeouts.queue %s + %s) = %ds: a stopping pod finishes every request HAProxy may still hold",
		seconds(server), seconds(queue), seconds(graceHeadroom), r.TerminationGracePeriodSeconds)
	return r
}

// perPod is the derived number of worker processes of a pod:
// min(cpuTerm, max(1, floor(memory / memoryPerWorker))), at least 1 and at most 256, and its
// explanation. A memoryPerWorker that is not positive (the API forbids it) puts no memory cap.
func perPod(in input, cpuTerm int64, cpuExpr string, memoryPerWorker *resource.Quantity, field string) (int32, string) {
	mpw := defaultMemoryPerWorker
	if memoryPerWorker != nil {
		mpw = *memoryPerWorker
	}
	var n int64
	var expl string
	if mpwBytes, ok := bytesOf(mpw); ok {
		memTerm := max(1, in.memoryBytes/mpwBytes)
		n = min(cpuTerm, memTerm)
		expl = fmt.Sprintf("min(%s, max(1, floor(%s / %s))) = min(%d, %d) = %d",
			cpuExpr, in.memory, mpw.String(), cpuTerm, memTerm, n)
	} else {
		n = cpuTerm
		expl = fmt.Sprintf("%s = %d (memoryPerWorker %s is not positive: no memory cap)", cpuExpr, n, mpw.String())
	}
	n = max(1, n)
	if n > maxWorkersPerPod {
		n = maxWorkersPerPod
		expl += fmt.Sprintf(", capped at %d (the most %s accepts)", maxWorkersPerPod, field)
	}
	return int32(n), expl
}

// duration is d, else def when unset; negative durations count as 0.
func duration(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return max(0, d.Duration)
}

// ceilSeconds is the sum of non-negative durations in whole seconds, rounded up, computed
// without overflowing time.Duration.
func ceilSeconds(ds ...time.Duration) int64 {
	var secs, nanos int64
	for _, d := range ds {
		secs += int64(d / time.Second)
		nanos += int64(d % time.Second)
	}
	return secs + ceilDiv(nanos, int64(time.Second))
}
