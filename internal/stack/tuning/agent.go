package tuning

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// The in-pod agent's fixed resources: it polls one file every few seconds and speaks to one
// daemon on loopback, a few MiB of Go heap.
var (
	agentCPU    = resource.MustParse("10m")
	agentMemory = resource.MustParse("32Mi")
)

// AgentResult is the in-pod agent's container, beside Varnish, HAProxy and the cache Redis.
type AgentResult struct {
	// Resources are the agent container's resources: requests of agentCPU and agentMemory and
	// a memory limit of agentMemory (Guaranteed memory, no CPU limit).
	Resources corev1.ResourceRequirements
}

// agent derives the agent's container: fixed, small, and its own container, so that the
// daemon beside it keeps every number derived from its own container; a pod's budget is the
// daemon's container plus this. It has no line: status.tuning holds the derived numbers,
// and these are constants.
func agent() AgentResult {
	return AgentResult{Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: agentCPU.DeepCopy(), corev1.ResourceMemory: agentMemory.DeepCopy()},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: agentMemory.DeepCopy()},
	}}
}
