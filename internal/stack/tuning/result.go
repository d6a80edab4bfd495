package tuning

import corev1 "k8s.io/api/core/v1"

// Result is every number derived from one WebStack spec. Disabled components are nil.
// Memory values are whole MiB (rounded down), CPU values millicores.
type Result struct {
	App          AppResult
	Tasks        *TasksResult
	Database     *DatabaseResult
	Pooler       *PoolerResult
	Redis        *RedisResult
	Broker       *RedisResult
	Cache        *CacheResult
	LoadBalancer LoadBalancerResult
	// Agent is the in-pod agent beside Varnish, HAProxy and the cache Redis.
	Agent AgentResult

	// Warnings are problems with explicit spec values (never silently corrected).
	Warnings []string
	// Lines are every value with its explanation, in display order (the `tune` table).
	Lines []Line
}

// Line is one derived value and how it was derived ("the formula with the numbers filled in").
type Line struct {
	// Path is the value's place in status.tuning, e.g. "database.maxConnections".
	Path string
	// Value is the value as status.tuning shows it, e.g. "42" or "256Mi".
	Value string
	// Explanation is the formula with the numbers filled in.
	Explanation string
}

// Inputs are the CPU and memory a component's container gets after defaults.
type Inputs struct {
	MilliCPU  int64
	MemoryMiB int64
}

// AppResult is the app's process layout.
type AppResult struct {
	Inputs Inputs
	// Resources are the container's resources as the pods get them (ContainerResources).
	Resources                     corev1.ResourceRequirements
	WorkersPerPod                 int32
	ThreadsPerWorker              int32
	MaxPods                       int32
	TerminationGracePeriodSeconds int64
	// ServerTimeoutSeconds is timeouts.server in whole seconds, rounded up: gunicorn's
	// --timeout and --graceful-timeout, and the liveness probe's timeout.
	ServerTimeoutSeconds int32
	// TargetCPUUtilizationPercentage is the autoscaler's target (with app.autoscaling).
	TargetCPUUtilizationPercentage int32
}

// TasksResult is the task workers' layout.
type TasksResult struct {
	Inputs Inputs
	// Resources are the container's resources as the pods get them (ContainerResources).
	Resources   corev1.ResourceRequirements
	Concurrency int32
	Pods        int32
	// Beat is 1 when a scheduler pod runs, else 0.
	Beat int32
}

// DatabaseResult is PostgreSQL's sizing.
type DatabaseResult struct {
	Inputs Inputs
	// Resources are the container's resources as the pods get them (ContainerResources).
	Resources corev1.ResourceRequirements
	// MaxConnections is max_connections (explicit or derived).
	MaxConnections int32
	// ConnectionBudget is what PostgreSQL must accept: the pooler's server connections (or,
	// without a pooler, every app and task process), plus 10 reserved.
	ConnectionBudget      int32
	SharedBuffersMiB      int64
	EffectiveCacheSizeMiB int64
	WorkMemMiB            int64
	MaintenanceWorkMemMiB int64
}

// RedisResult is one Redis' sizing (the cache Redis or the broker).
type RedisResult struct {
	Inputs Inputs
	// Resources are the container's resources as the pods get them (ContainerResources).
	Resources       corev1.ResourceRequirements
	MaxMemoryMiB    int64
	MaxMemoryPolicy string
	// AppendOnly is true when the append-only file is on (broker always; cache with AOF).
	AppendOnly bool
	// Snapshots is true when RDB snapshots are on (cache with RDB).
	Snapshots bool
	// DefaultTTLSeconds is redis.defaultTTL in whole seconds, rounded up: the app's
	// CACHE_DEFAULT_TIMEOUT (the cache Redis only).
	DefaultTTLSeconds int32
}

// CacheResult is Varnish's sizing.
type CacheResult struct {
	Inputs Inputs
	// Resources are the container's resources as the pods get them (ContainerResources).
	Resources    corev1.ResourceRequirements
	StorageMiB   int64
	TransientMiB int64
}

// LoadBalancerResult is HAProxy's sizing.
type LoadBalancerResult struct {
	Inputs Inputs
	// Resources are the container's resources as the pods get them (ContainerResources).
	Resources            corev1.ResourceRequirements
	MaxConnections       int32
	Threads              int32
	ServerMaxConnections int32
	ServerSlots          int32
}
