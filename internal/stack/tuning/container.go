package tuning

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Component is one container of the stack whose CPU and memory the numbers derive from.
type Component int

// The components, in display order.
const (
	App Component = iota
	Tasks
	Broker
	Database
	Redis
	Cache
	LoadBalancer
	Pooler
)

// String is the component's name as in the spec and status.tuning, e.g. "loadBalancer".
func (c Component) String() string {
	switch c {
	case App:
		return "app"
	case Tasks:
		return "tasks"
	case Broker:
		return "broker"
	case Database:
		return "database"
	case Redis:
		return "redis"
	case Cache:
		return "cache"
	case LoadBalancer:
		return "loadBalancer"
	case Pooler:
		return "pooler"
	}
	return fmt.Sprintf("Component(%d)", int(c))
}

// defaults are the CPU and memory of a component's container when the spec gives none. They
// are what ContainerResources puts on the container and what the numbers derive from, so the
// two always agree. An unknown component has none (zero quantities).
func (c Component) defaults() (cpu, memory resource.Quantity) {
	switch c {
	case App, Tasks:
		return resource.MustParse("1"), resource.MustParse("512Mi")
	case Broker, Redis:
		return resource.MustParse("250m"), resource.MustParse("256Mi")
	case Database:
		return resource.MustParse("1"), resource.MustParse("1Gi")
	case Cache:
		return resource.MustParse("500m"), resource.MustParse("512Mi")
	case LoadBalancer:
		return resource.MustParse("500m"), resource.MustParse("256Mi")
	case Pooler:
		return resource.MustParse("100m"), resource.MustParse("64Mi")
	}
	return resource.Quantity{}, resource.Quantity{}
}

// ContainerResources returns the resources of c's container: a deep copy of the user's r with
// the missing pieces filled from the component default. Without limits.cpu and requests.cpu,
// requests.cpu is the default CPU (no CPU limit is added). Without limits.memory and
// requests.memory, both requests.memory and limits.memory are the default memory. Anything the
// user set is kept as it is. r is never modified. An unknown component gets an unchanged copy.
func ContainerResources(c Component, r corev1.ResourceRequirements) corev1.ResourceRequirements {
	out := *r.DeepCopy()
	if c < App || c > Pooler {
		return out
	}
	cpu, memory := c.defaults()
	if !has(out, corev1.ResourceCPU) {
		if out.Requests == nil {
			out.Requests = corev1.ResourceList{}
		}
		out.Requests[corev1.ResourceCPU] = cpu
	}
	if !has(out, corev1.ResourceMemory) {
		if out.Requests == nil {
			out.Requests = corev1.ResourceList{}
		}
		if out.Limits == nil {
			out.Limits = corev1.ResourceList{}
		}
		out.Requests[corev1.ResourceMemory] = memory.DeepCopy()
		out.Limits[corev1.ResourceMemory] = memory.DeepCopy()
	}
	return out
}

// has reports whether r limits or requests the resource.
func has(r corev1.ResourceRequirements, name corev1.ResourceName) bool {
	_, inLimits := r.Limits[name]
	_, inRequests := r.Requests[name]
	return inLimits || inRequests
}

// input is a component's CPU and memory after defaults, with where each came from so that
// the explanations can say so.
type input struct {
	Inputs
	// memoryBytes is the memory in bytes (Inputs.MemoryMiB is it rounded down to MiB).
	memoryBytes int64
	// cpu and memory are the quantities as the user (or the default) wrote them.
	cpu, memory string
	// cpuFrom and memoryFrom say where they came from: "limits.cpu", "requests.cpu", "default".
	cpuFrom, memoryFrom string
	// resources are the container's resources, ContainerResources of the user's.
	resources corev1.ResourceRequirements
}

// note describes the inputs of a worker count, e.g. "cpu 1 (default), memory 1Gi (limits.memory)".
func (in input) note() string {
	return fmt.Sprintf("%s, memory %s (%s)", in.cpuNote(), in.memory, in.memoryFrom)
}

// cpuNote describes the CPU, e.g. "cpu 500m (default)".
func (in input) cpuNote() string {
	return fmt.Sprintf("cpu %s (%s)", in.cpu, in.cpuFrom)
}

// memoryNote describes the memory of a memory split, with its value in MiB when written otherwise,
// e.g. "memory 1Gi = 1024Mi (default)".
func (in input) memoryNote() string {
	if mi(in.MemoryMiB) == in.memory {
		return fmt.Sprintf("memory %s (%s)", in.memory, in.memoryFrom)
	}
	return fmt.Sprintf("memory %s = %s (%s)", in.memory, mi(in.MemoryMiB), in.memoryFrom)
}

// Largest quantities the engine computes with: the int64 range of millicores and bytes.
var (
	maxMilliCPU = *resource.NewMilliQuantity(math.MaxInt64, resource.DecimalSI)
	maxBytes    = *resource.NewQuantity(math.MaxInt64, resource.BinarySI)
)

// inputs is the CPU and memory c computes with, given the user's resources r:
// cpu = limits.cpu, else requests.cpu, else the component default; memory likewise.
// CPU is rounded up to whole millicores and memory to whole bytes, as the kubelet does.
// Negative and out-of-range quantities (which the API server accepts in a CRD, but no pod
// would) are clamped, with a warning.
func (x *explainer) inputs(c Component, r corev1.ResourceRequirements) input {
	defCPU, defMemory := c.defaults()
	cpu, cpuFrom := pick(r, corev1.ResourceCPU, defCPU)
	memory, memoryFrom := pick(r, corev1.ResourceMemory, defMemory)

	in := input{cpu: cpu.String(), memory: memory.String(), cpuFrom: cpuFrom, memoryFrom: memoryFrom,
		resources: ContainerResources(c, r)}
	switch {
	case cpu.Sign() < 0:
		x.warn("%s %s %s is negative: computing with 0", c, resourcePath(cpuFrom), in.cpu)
	case cpu.Cmp(maxMilliCPU) > 0:
		in.MilliCPU = math.MaxInt64
		x.warn("%s %s %s is too large: computing with %dm", c, resourcePath(cpuFrom), in.cpu, in.MilliCPU)
	default:
		in.MilliCPU = cpu.MilliValue()
	}
	switch {
	case memory.Sign() < 0:
		x.warn("%s %s %s is negative: computing with 0", c, resourcePath(memoryFrom), in.memory)
	case memory.Cmp(maxBytes) > 0:
		in.memoryBytes = math.MaxInt64
		x.warn("%s %s %s is too large: computing with %s", c, resourcePath(memoryFrom), in.memory, mi(in.memoryBytes>>20))
	default:
		in.memoryBytes = memory.Value()
	}
	in.MemoryMiB = in.memoryBytes >> 20
	return in
}

// pick returns limits[name], else requests[name], else def, with where it came from.
func pick(r corev1.ResourceRequirements, name corev1.ResourceName, def resource.Quantity) (resource.Quantity, string) {
	if q, ok := r.Limits[name]; ok {
		return q.DeepCopy(), "limits." + string(name)
	}
	if q, ok := r.Requests[name]; ok {
		return q.DeepCopy(), "requests." + string(name)
	}
	return def, "default"
}

// resourcePath is the field a value came from, e.g. "resources.limits.cpu".
func resourcePath(from string) string {
	if from == "default" {
		return "default"
	}
	return "resources." + from
}

// bytesOf is q in bytes, rounded up, clamped to [0, MaxInt64]; ok is false when q is not
// positive.
func bytesOf(q resource.Quantity) (n int64, ok bool) {
	q = q.DeepCopy()
	switch {
	case q.Sign() <= 0:
		return 0, false
	case q.Cmp(maxBytes) > 0:
		return math.MaxInt64, true
	}
	return q.Value(), true
}
