package tuning

import (
	"fmt"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// tasks derives the task workers' layout (only called with tasks):
//
//	concurrency = tasks.concurrency if > 0, else
//	              min(max(1, floor(cores)), max(1, floor(memory / tasks.memoryPerWorker))),
//	              at least 1 and at most 256
//	pods        = tasks.replicas (default 1)
//	beat        = 1 with tasks.beat, else 0
func (x *explainer) tasks(t *v1alpha1.TasksSpec) TasksResult {
	in := x.inputs(Tasks, t.Resources)
	r := TasksResult{Inputs: in.Inputs, Resources: in.resources}

	if t.Concurrency > 0 {
		r.Concurrency = t.Concurrency
		x.line("tasks.concurrency", itoa(r.Concurrency), "tasks.concurrency = %d (explicit)", t.Concurrency)
	} else {
		cpuTerm := max(1, in.MilliCPU/1000)
		cpuExpr := fmt.Sprintf("max(1, floor(%s cores))", cores(in.MilliCPU))
		n, expl := perPod(in, cpuTerm, cpuExpr, t.MemoryPerWorker, "tasks.concurrency")
		r.Concurrency = n
		x.line("tasks.concurrency", itoa(n), "%s; %s", expl, in.note())
	}

	r.Pods = max(0, t.TaskReplicas())
	if t.Replicas == nil {
		x.line("tasks.pods", itoa(r.Pods), "tasks.replicas unset: %d (default)", r.Pods)
	} else {
		x.line("tasks.pods", itoa(r.Pods), "tasks.replicas = %d", *t.Replicas)
	}

	if t.Beat {
		r.Beat = 1
	}
	return r
}
