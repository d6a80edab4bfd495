package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Pinned official images used when a component sets no image of its own.
const (
	DefaultHAProxyImage = "haproxy:2.6.12"
	DefaultVarnishImage = "varnish:7.1.1"
	DefaultRedisImage   = "redis:7.0.15"
)

// postgresImages pins one official postgres image per supported major version.
var postgresImages = map[string]string{
	"15": "postgres:15.10",
	"16": "postgres:16.6",
	"17": "postgres:17.2",
}

// DefaultPostgresImage returns the pinned official image of a PostgreSQL major version,
// or "" for a version the API does not accept.
func DefaultPostgresImage(version string) string { return postgresImages[version] }

// WebStack is one Django-style web application with everything it needs in front of and
// behind it: HAProxy, Varnish, the app pods, Celery workers, a cache Redis, a broker Redis
// and PostgreSQL, provisioned, wired together and tuned from this one spec.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ws,categories=all
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="App",type=string,JSONPath=`.status.components.app.replicas`,description="App pods ready/desired"
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 40",message="metadata.name must be at most 40 characters: child objects add suffixes such as -loadbalancer; choose a shorter name"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must start with a letter and contain only lowercase letters, digits and '-' (it names Services); choose a name like 'shop'"
type WebStack struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired stack.
	// +required
	Spec WebStackSpec `json:"spec"`

	// status is what the operator observed and derived; written by the operator only.
	// +optional
	Status WebStackStatus `json:"status,omitempty"`
}

// WebStackList is a list of WebStacks.
//
// +kubebuilder:object:root=true
type WebStackList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WebStack `json:"items"`
}

func init() {
	SchemeBuilder.Register(&WebStack{}, &WebStackList{})
}

// WebStackSpec is the desired stack. Only app.image is required; every other number is
// either given here or derived by the operator and shown in status.tuning.
type WebStackSpec struct {
	// app is the web application (gunicorn/Django pods) that serves requests.
	// +required
	App AppSpec `json:"app"`

	// tasks runs background workers (Celery) with their own broker Redis. Absent means no
	// task workers and no broker.
	// +optional
	Tasks *TasksSpec `json:"tasks,omitempty"`

	// loadBalancer is HAProxy, always deployed: the public entry point and the queue in
	// front of the app pods.
	// +kubebuilder:default={}
	// +optional
	LoadBalancer LoadBalancerSpec `json:"loadBalancer,omitempty"`

	// cache is Varnish, the HTTP cache between HAProxy and the app.
	// +kubebuilder:default={}
	// +optional
	Cache CacheSpec `json:"cache,omitempty"`

	// redis is the cache Redis used by the app (it evicts; the task broker is separate).
	// +kubebuilder:default={}
	// +optional
	Redis RedisSpec `json:"redis,omitempty"`

	// database is PostgreSQL.
	// +kubebuilder:default={}
	// +optional
	Database DatabaseSpec `json:"database,omitempty"`
}

// AppSpec is the web application.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.replicas) && has(self.autoscaling))",message="app.replicas and app.autoscaling are mutually exclusive: remove app.replicas when autoscaling is set"
type AppSpec struct {
	// image is the container image of the application, e.g. registry.example.com/shop:1.4. Required.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +required
	Image string `json:"image"`

	// port is the TCP port the application listens on inside its pod. Default 8000.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=8000
	// +optional
	Port int32 `json:"port,omitempty"`

	// command overrides the image's entrypoint, e.g. [gunicorn, shop.wsgi]. Optional: the
	// image's own entrypoint is used when absent. Workers, threads and the bind address reach
	// gunicorn through WEB_CONCURRENCY and GUNICORN_CMD_ARGS.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=1024
	// +listType=atomic
	// +optional
	Command []string `json:"command,omitempty"`

	// args are the arguments to command (or to the image's entrypoint). Optional.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=1024
	// +listType=atomic
	// +optional
	Args []string `json:"args,omitempty"`

	// replicas is the fixed number of app pods, 0 to 1000. Default 2 when autoscaling is not
	// set (applied by the operator, so that it never conflicts with autoscaling). Must not be
	// set together with autoscaling.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// autoscaling scales the app pods on CPU with a HorizontalPodAutoscaler. Must not be set
	// together with replicas.
	// +optional
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`

	// workers is the number of gunicorn worker processes per pod, 0 to 256. Absent or 0 means
	// derived from the pod's CPU and memory (see status.tuning.app.workersPerPod).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=256
	// +optional
	Workers int32 `json:"workers,omitempty"`

	// threads is the number of threads per gunicorn worker, 1 to 64. Default 1.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +kubebuilder:default=1
	// +optional
	Threads int32 `json:"threads,omitempty"`

	// memoryPerWorker is the memory one gunicorn worker needs (a quantity, e.g. 128Mi); it
	// caps the derived worker count at memory / memoryPerWorker. Default 128Mi.
	// +kubebuilder:default="128Mi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="app.memoryPerWorker must be positive, e.g. 128Mi"
	// +optional
	MemoryPerWorker *resource.Quantity `json:"memoryPerWorker,omitempty"`

	// resources are the CPU and memory of each app container. When absent the operator uses
	// cpu 1 and memory 512Mi, and derives the worker count from those.
	// +kubebuilder:validation:XValidation:rule="!has(self.limits) || !has(self.requests) || !('memory' in self.limits) || !('memory' in self.requests) || quantity(string(self.limits['memory'])).compareTo(quantity(string(self.requests['memory']))) >= 0",message="resources.limits.memory must not be below resources.requests.memory: raise the limit or lower the request"
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty,omitzero"`

	// env are extra environment variables for the app container (and its migration Job and
	// task workers), at most 128. The operator's own variables (DATABASE_URL, ...) come first;
	// a variable of the same name here wins.
	// +kubebuilder:validation:MaxItems=128
	// +listType=atomic
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// envFrom are extra sources of environment variables (ConfigMaps, Secrets), at most 32.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`

	// healthCheckPath is the HTTP path that answers 200 when an app pod is healthy; used by
	// the pod probes, HAProxy and Varnish. Default /healthz. It must answer 200 to the Host
	// header the checks send: the app's headless Service name,
	// <name>-app-headless.<namespace>.svc.<cluster domain> (e.g.
	// shop-app-headless.web.svc.cluster.local). Add it to Django's ALLOWED_HOSTS, or serve
	// the path before the host check (a middleware ahead of CommonMiddleware), or every
	// check gets 400 and no pod becomes ready.
	// +kubebuilder:default="/healthz"
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^/[A-Za-z0-9._~%!$&()*+,;=:@/-]*$`
	// +optional
	HealthCheckPath string `json:"healthCheckPath,omitempty"`

	// securityContext sets the numeric user and group the app image runs as (app, task,
	// beat and migration containers), for images whose user is not uid 1000. The pods keep
	// the restricted profile: runAsNonRoot, no privilege escalation, no capabilities, a
	// read-only root filesystem. Default uid 1000, gid 1000.
	// +optional
	SecurityContext *AppSecurityContext `json:"securityContext,omitempty"`

	// migration runs a Job with the new image (e.g. manage.py migrate) before app pods move to
	// a new image. Absent means no migration step.
	// +optional
	Migration *MigrationSpec `json:"migration,omitempty"`
}

// AppSecurityContext is the numeric user and group of the app image.
type AppSecurityContext struct {
	// runAsUser is the uid the app's containers run as, 1 to 2147483647 (never 0: the pods
	// run as non-root). Default 1000.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=2147483647
	// +optional
	RunAsUser *int64 `json:"runAsUser,omitempty"`

	// runAsGroup is the gid the app's containers run as, and the pods' fsGroup, 0 to
	// 2147483647 (0 suits images built to run as an arbitrary uid in the root group).
	// Default: runAsUser when it is set, else 1000.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	// +optional
	RunAsGroup *int64 `json:"runAsGroup,omitempty"`
}

// AutoscalingSpec scales the app on CPU utilisation.
//
// +kubebuilder:validation:XValidation:rule="self.maxReplicas >= self.minReplicas",message="app.autoscaling.maxReplicas must be at least minReplicas"
type AutoscalingSpec struct {
	// minReplicas is the lowest number of app pods, at least 1. Default 2.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=2
	// +optional
	MinReplicas int32 `json:"minReplicas,omitempty"`

	// maxReplicas is the highest number of app pods, minReplicas to 1000. Required. The
	// database connection budget is sized for this many pods.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +required
	MaxReplicas int32 `json:"maxReplicas"`

	// targetCPUUtilizationPercentage is the average CPU use, in percent of the request, that
	// the autoscaler aims for, 1 to 100. Default 70.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=70
	// +optional
	TargetCPUUtilizationPercentage int32 `json:"targetCPUUtilizationPercentage,omitempty"`
}

// MigrationSpec is the schema migration step.
type MigrationSpec struct {
	// command is run in a Job with the new app image before the rollout, e.g.
	// [python, manage.py, migrate, --noinput]. Required, non-empty.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=1024
	// +listType=atomic
	// +required
	Command []string `json:"command"`
}

// TasksSpec is the background task workers (Celery) and their broker.
//
// +kubebuilder:validation:XValidation:rule="!has(self.beat) || !self.beat || self.command.exists(c, c == 'worker')",message="tasks.beat needs a tasks.command with a 'worker' argument (e.g. [celery, -A, shop, worker]): the scheduler runs the same command with 'beat' in its place"
type TasksSpec struct {
	// image is the container image of the task workers. Default: app.image.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`

	// command starts a worker, e.g. [celery, -A, shop, worker]. Required, non-empty. The
	// operator appends the concurrency and the queues.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=1024
	// +listType=atomic
	// +required
	Command []string `json:"command"`

	// replicas is the number of task worker pods, 0 to 1000. Default 1.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=1
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// concurrency is the number of worker processes per pod, 0 to 256. Absent or 0 means
	// derived from the pod's CPU and memory (see status.tuning.tasks.concurrency).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=256
	// +optional
	Concurrency int32 `json:"concurrency,omitempty"`

	// memoryPerWorker is the memory one task worker process needs; it caps the derived
	// concurrency. Default 128Mi.
	// +kubebuilder:default="128Mi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="tasks.memoryPerWorker must be positive, e.g. 128Mi"
	// +optional
	MemoryPerWorker *resource.Quantity `json:"memoryPerWorker,omitempty"`

	// queues are the queue names the workers consume, at most 32, each matching
	// ^[a-zA-Z0-9._-]+$. Default [default]. Celery itself sends tasks to a queue named
	// "celery" unless told otherwise: set CELERY_TASK_DEFAULT_QUEUE = "default" in the app's
	// settings (or list "celery" here), or queued tasks are never consumed.
	// +kubebuilder:default={default}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z0-9._-]+$`
	// +listType=set
	// +optional
	Queues []string `json:"queues,omitempty"`

	// beat runs one extra scheduler pod (celery beat) for periodic tasks. Default false.
	// +kubebuilder:default=false
	// +optional
	Beat bool `json:"beat,omitempty"`

	// resources are the CPU and memory of each task worker container. When absent the
	// operator uses cpu 1 and memory 512Mi.
	// +kubebuilder:validation:XValidation:rule="!has(self.limits) || !has(self.requests) || !('memory' in self.limits) || !('memory' in self.requests) || quantity(string(self.limits['memory'])).compareTo(quantity(string(self.requests['memory']))) >= 0",message="resources.limits.memory must not be below resources.requests.memory: raise the limit or lower the request"
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty,omitzero"`

	// broker is the dedicated Redis that holds the task queue: it never evicts and keeps an
	// append-only file on a volume, so queued tasks survive restarts.
	// +kubebuilder:default={}
	// +optional
	Broker BrokerSpec `json:"broker,omitempty"`
}

// BrokerSpec is the task queue's Redis.
type BrokerSpec struct {
	// image is the broker's Redis image. Default redis:7.0.15 (pinned official image).
	// +kubebuilder:default="redis:7.0.15"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`

	// storage is the volume for the broker's append-only file. Default 1Gi.
	// +kubebuilder:default={}
	// +optional
	Storage StorageSpec `json:"storage,omitempty"`

	// resources are the CPU and memory of the broker container. When absent the operator
	// uses cpu 250m and memory 256Mi.
	// +kubebuilder:validation:XValidation:rule="!has(self.limits) || !has(self.requests) || !('memory' in self.limits) || !('memory' in self.requests) || quantity(string(self.limits['memory'])).compareTo(quantity(string(self.requests['memory']))) >= 0",message="resources.limits.memory must not be below resources.requests.memory: raise the limit or lower the request"
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty,omitzero"`
}

// StorageSpec is a persistent volume claim.
//
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.storageClassName) || (has(self.storageClassName) && self.storageClassName == oldSelf.storageClassName)",message="storage.storageClassName cannot change once set: create a new WebStack to move data to another storage class"
type StorageSpec struct {
	// size is the requested volume size, at least 1Gi. It may grow (the claim is expanded)
	// but never shrink. Default 1Gi.
	// +kubebuilder:default="1Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Gi')) >= 0",message="storage.size must be at least 1Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity(string(oldSelf))) >= 0",message="storage.size cannot shrink: volumes can only grow; set it back to at least its previous value"
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`

	// storageClassName is the StorageClass of the claim; empty means the cluster's default
	// class. Cannot change once set.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// DatabaseStorageSpec is the database's persistent volume claim: StorageSpec with a 10Gi default.
//
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.storageClassName) || (has(self.storageClassName) && self.storageClassName == oldSelf.storageClassName)",message="storage.storageClassName cannot change once set: create a new WebStack to move data to another storage class"
type DatabaseStorageSpec struct {
	// size is the requested volume size, at least 1Gi. It may grow (the claim is expanded)
	// but never shrink. Default 10Gi.
	// +kubebuilder:default="10Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Gi')) >= 0",message="storage.size must be at least 1Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity(string(oldSelf))) >= 0",message="storage.size cannot shrink: volumes can only grow; set it back to at least its previous value"
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`

	// storageClassName is the StorageClass of the claim; empty means the cluster's default
	// class. Cannot change once set.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// LoadBalancerAlgorithm is how HAProxy picks an app pod.
// +kubebuilder:validation:Enum=roundrobin;leastconn;source;uri
type LoadBalancerAlgorithm string

// Load balancing algorithms.
const (
	AlgorithmRoundRobin LoadBalancerAlgorithm = "roundrobin"
	AlgorithmLeastConn  LoadBalancerAlgorithm = "leastconn"
	AlgorithmSource     LoadBalancerAlgorithm = "source"
	AlgorithmURI        LoadBalancerAlgorithm = "uri"
)

// LoadBalancerSpec is HAProxy.
type LoadBalancerSpec struct {
	// image is the HAProxy image. Default haproxy:2.6.12 (pinned official image).
	// +kubebuilder:default="haproxy:2.6.12"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`

	// replicas is the number of HAProxy pods, 1 to 100. Default 2.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=2
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// algorithm is how HAProxy picks an app pod: roundrobin, leastconn, source or uri.
	// Default leastconn.
	// +kubebuilder:default=leastconn
	// +optional
	Algorithm LoadBalancerAlgorithm `json:"algorithm,omitempty"`

	// maxConnections is the most concurrent client connections one HAProxy pod accepts,
	// 1 to 500000. Default 4096. Each connection takes two file descriptors (client and
	// server side), and 2 x 500000 plus HAProxy's own (listeners, checks, DNS) still fits the
	// 1,048,576 descriptors a container may open.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=500000
	// +kubebuilder:default=4096
	// +optional
	MaxConnections int32 `json:"maxConnections,omitempty"`

	// timeouts are HAProxy's connect, client, server and queue timeouts.
	// +kubebuilder:default={}
	// +optional
	Timeouts TimeoutsSpec `json:"timeouts,omitempty"`

	// service is how the stack is exposed.
	// +kubebuilder:default={}
	// +optional
	Service ServiceSpec `json:"service,omitempty"`

	// rateLimit limits requests per second and concurrent connections per client IP.
	// +kubebuilder:default={}
	// +optional
	RateLimit RateLimitSpec `json:"rateLimit,omitempty"`

	// maxRequestBodySize is the largest request body HAProxy passes to the app (a quantity
	// of bytes, 1Ki to 64Gi); a request whose Content-Length is larger gets 413. Default
	// 100Mi. HAProxy also waits for the first 16 KiB of every body before it picks an app
	// pod, so that slow clients do not hold gunicorn workers; a chunked body without
	// Content-Length is bounded only by the app (e.g. Django's DATA_UPLOAD_MAX_MEMORY_SIZE).
	// +kubebuilder:default="100Mi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Ki')) >= 0 && quantity(string(self)).compareTo(quantity('64Gi')) <= 0",message="loadBalancer.maxRequestBodySize must be between 1Ki and 64Gi, e.g. 100Mi"
	// +optional
	MaxRequestBodySize *resource.Quantity `json:"maxRequestBodySize,omitempty"`

	// resources are the CPU and memory of each HAProxy container. When absent the operator
	// uses cpu 500m and memory 256Mi.
	// +kubebuilder:validation:XValidation:rule="!has(self.limits) || !has(self.requests) || !('memory' in self.limits) || !('memory' in self.requests) || quantity(string(self.limits['memory'])).compareTo(quantity(string(self.requests['memory']))) >= 0",message="resources.limits.memory must not be below resources.requests.memory: raise the limit or lower the request"
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty,omitzero"`
}

// TimeoutsSpec are HAProxy timeouts, each a positive Go duration string ("5s", "2m") of at
// most 24h: HAProxy's timers hold at most 2147483647 ms (24.8 days), and the operator adds
// server and queue up (the cache backend's timeout, Varnish's first-byte timeout, the pods'
// termination grace period).
type TimeoutsSpec struct {
	// connect is how long HAProxy waits to connect to a server, up to 24h. Default 5s.
	// +kubebuilder:default="5s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="timeouts.connect must be a positive duration such as 5s"
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('24h')",message="timeouts.connect must be at most 24h: HAProxy's timers overflow past 24.8 days (and server + queue is added up for the cache and the grace period); use a shorter duration"
	// +optional
	Connect *metav1.Duration `json:"connect,omitempty"`

	// client is how long a client may stay inactive, up to 24h. Default 30s.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="timeouts.client must be a positive duration such as 30s"
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('24h')",message="timeouts.client must be at most 24h: HAProxy's timers overflow past 24.8 days (and server + queue is added up for the cache and the grace period); use a shorter duration"
	// +optional
	Client *metav1.Duration `json:"client,omitempty"`

	// server is how long an app pod may take to answer, up to 24h. Default 30s.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="timeouts.server must be a positive duration such as 30s"
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('24h')",message="timeouts.server must be at most 24h: HAProxy's timers overflow past 24.8 days (and server + queue is added up for the cache and the grace period); use a shorter duration"
	// +optional
	Server *metav1.Duration `json:"server,omitempty"`

	// queue is how long a request may wait in HAProxy's queue for a free app worker before
	// it gets a 503, up to 24h. Default 10s.
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="timeouts.queue must be a positive duration such as 10s"
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('24h')",message="timeouts.queue must be at most 24h: HAProxy's timers overflow past 24.8 days (and server + queue is added up for the cache and the grace period); use a shorter duration"
	// +optional
	Queue *metav1.Duration `json:"queue,omitempty"`
}

// ServiceType is the kind of Service in front of HAProxy.
// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
type ServiceType string

// ServiceSpec is the HAProxy Service.
type ServiceSpec struct {
	// type is ClusterIP, NodePort or LoadBalancer. Default ClusterIP.
	// +kubebuilder:default=ClusterIP
	// +optional
	Type ServiceType `json:"type,omitempty"`

	// port is the Service port clients connect to, 1 to 65535. Default 80.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=80
	// +optional
	Port int32 `json:"port,omitempty"`

	// proxyProtocol says whether the load balancer in front of the Service sends the PROXY
	// protocol: None (default) or Required. Required makes HAProxy expect a PROXY protocol
	// header (v1 or v2) on every public connection and take the client's address from it,
	// so that logs, X-Forwarded-For and the per-client limits see the real client; turn it
	// on in the load balancer too (e.g. with a Service annotation), or every request fails.
	// Without it, NodePort and LoadBalancer Services keep the client's address with
	// externalTrafficPolicy Local.
	// +kubebuilder:default=None
	// +optional
	ProxyProtocol ProxyProtocol `json:"proxyProtocol,omitempty"`

	// annotations are added to the Service (e.g. for a cloud load balancer), at most 64.
	// Keys are Kubernetes qualified names (an optional DNS-subdomain prefix of at most 253
	// characters and "/", then a name of at most 63 characters: letters, digits, '-', '_'
	// and '.', starting and ending with a letter or digit); values at most 4096 characters.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 317 && k.indexOf('/') <= 253 && k.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'))",message="loadBalancer.service.annotations keys must be qualified names such as example.com/my-key (a DNS-subdomain prefix, '/', and a name of at most 63 letters, digits, '-', '_' or '.'); fix the key"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 4096)",message="loadBalancer.service.annotations values must be at most 4096 characters; shorten the value"
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ProxyProtocol is whether HAProxy's public listener expects the PROXY protocol.
// +kubebuilder:validation:Enum=None;Required
type ProxyProtocol string

// PROXY protocol modes.
const (
	ProxyProtocolNone     ProxyProtocol = "None"
	ProxyProtocolRequired ProxyProtocol = "Required"
)

// RateLimitSpec limits requests and connections per client IP.
type RateLimitSpec struct {
	// requestsPerSecond is the most requests per second one client IP may send; past it
	// HAProxy answers 429. 0 turns the limit off. Default 0.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	// +kubebuilder:default=0
	// +optional
	RequestsPerSecond int32 `json:"requestsPerSecond,omitempty"`

	// connectionsPerClient is the most connections one client IP may hold open at once to
	// one HAProxy pod, 0 to 500000; past it new connections are closed at once. 0 turns the
	// cap off. Default 500. Behind a proxy in the cluster (an Ingress controller) every
	// request comes from the proxy's address: raise it or set 0 there.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=500000
	// +kubebuilder:default=500
	// +optional
	ConnectionsPerClient *int32 `json:"connectionsPerClient,omitempty"`
}

// CacheSpec is Varnish.
type CacheSpec struct {
	// enabled deploys Varnish between HAProxy and the app. Default true.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// image is the Varnish image. Default varnish:7.1.1 (pinned official image).
	// +kubebuilder:default="varnish:7.1.1"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`

	// replicas is the number of Varnish pods, 1 to 100. HAProxy hashes each URL to one of
	// them. Default 2.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=2
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// defaultTTL is how long a cacheable response without a matching rule is kept, a
	// non-negative duration of at most 8760h (a year). Default 2m.
	// +kubebuilder:default="2m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('8760h')",message="cache.defaultTTL must be at most 8760h (a year); use a shorter duration"
	// +optional
	DefaultTTL *metav1.Duration `json:"defaultTTL,omitempty"`

	// grace is how long a stale object may still be served while a fresh one is fetched
	// (or while the app is down), a non-negative duration of at most 8760h (a year). Default 1h.
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('8760h')",message="cache.grace must be at most 8760h (a year); use a shorter duration"
	// +optional
	Grace *metav1.Duration `json:"grace,omitempty"`

	// rules set the caching of paths, at most 64; the first matching rule wins.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Rules []CacheRule `json:"rules,omitempty"`

	// resources are the CPU and memory of each Varnish container. When absent the operator
	// uses cpu 500m and memory 512Mi; 3/5 of memory becomes cache storage.
	// +kubebuilder:validation:XValidation:rule="!has(self.limits) || !has(self.requests) || !('memory' in self.limits) || !('memory' in self.requests) || quantity(string(self.limits['memory'])).compareTo(quantity(string(self.requests['memory']))) >= 0",message="resources.limits.memory must not be below resources.requests.memory: raise the limit or lower the request"
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty,omitzero"`
}

// CacheRule is how one set of paths is cached. Exactly one of pathPrefix and pathRegex,
// and exactly one of ttl and pass.
//
// +kubebuilder:validation:XValidation:rule="has(self.pathPrefix) != has(self.pathRegex)",message="cache.rules: set exactly one of pathPrefix and pathRegex"
// +kubebuilder:validation:XValidation:rule="has(self.ttl) != (has(self.pass) && self.pass)",message="cache.rules: set exactly one of ttl and pass: true"
type CacheRule struct {
	// pathPrefix matches request paths that start with it, e.g. /static/. Must start with "/".
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^/[A-Za-z0-9._~%!$&()*+,;=:@/-]*$`
	// +optional
	PathPrefix string `json:"pathPrefix,omitempty"`

	// pathRegex matches request paths (and query) with a regular expression (PCRE2, as in
	// VCL), e.g. ^/api/, at most 512 characters. Must not contain double quotes or control
	// characters, nor end in an unescaped backslash. The operator accepts the common PCRE2
	// syntax (classes, groups, (?:...), lookahead, (?i), anchors, quantifiers, \d \w \s \b
	// and escaped punctuation) and refuses the rest with a message naming the rule, so that
	// Varnish never gets a VCL it cannot compile.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[^"\x00-\x1f\x7f]+$`
	// +kubebuilder:validation:XValidation:rule=`!self.matches('(^|[^\\\\])(\\\\\\\\)*\\\\$')`,message="cache.rules[].pathRegex must not end in an unescaped backslash: escape it as \\\\ or remove it"
	// +optional
	PathRegex string `json:"pathRegex,omitempty"`

	// ttl is how long matching responses are cached, a non-negative duration such as 24h, at most 8760h (a year).
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('8760h')",message="cache.rules[].ttl must be at most 8760h (a year); use a shorter duration"
	// +optional
	TTL *metav1.Duration `json:"ttl,omitempty"`

	// pass: true never caches matching requests (they always go to the app). Default false.
	// +optional
	Pass bool `json:"pass,omitempty"`

	// ignoreCookies strips the Cookie request header and the Set-Cookie response header on
	// matching paths, so they can be cached even for logged-in users. Default false.
	// +optional
	IgnoreCookies bool `json:"ignoreCookies,omitempty"`
}

// RedisPersistence is how the cache Redis keeps data across restarts.
// +kubebuilder:validation:Enum=None;RDB;AOF
type RedisPersistence string

// Redis persistence modes.
const (
	PersistenceNone RedisPersistence = "None"
	PersistenceRDB  RedisPersistence = "RDB"
	PersistenceAOF  RedisPersistence = "AOF"
)

// RedisSpec is the cache Redis.
//
// +kubebuilder:validation:XValidation:rule="!has(self.persistence) || self.persistence == 'None' || has(self.storage)",message="redis.persistence RDB or AOF needs redis.storage: set redis.storage.size or persistence: None"
type RedisSpec struct {
	// enabled deploys the cache Redis. Default true.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// image is the Redis image. Default redis:7.0.15 (pinned official image).
	// +kubebuilder:default="redis:7.0.15"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`

	// maxMemoryPolicy is Redis' eviction policy: one of noeviction, allkeys-lru,
	// allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random,
	// volatile-ttl. Empty means derived (allkeys-lru, right for a cache).
	// +kubebuilder:validation:Enum="";noeviction;allkeys-lru;allkeys-lfu;allkeys-random;volatile-lru;volatile-lfu;volatile-random;volatile-ttl
	// +optional
	MaxMemoryPolicy string `json:"maxMemoryPolicy,omitempty"`

	// persistence is None (memory only), RDB (snapshots) or AOF (append-only file, fsync
	// every second). RDB and AOF keep data on a volume. Default None.
	// +kubebuilder:default=None
	// +optional
	Persistence RedisPersistence `json:"persistence,omitempty"`

	// defaultTTL is the cache timeout handed to the app (CACHE_DEFAULT_TIMEOUT), a
	// non-negative duration of at most 8760h (a year). Default 5m.
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('8760h')",message="redis.defaultTTL must be at most 8760h (a year); use a shorter duration"
	// +optional
	DefaultTTL *metav1.Duration `json:"defaultTTL,omitempty"`

	// storage is the volume used when persistence is RDB or AOF. Default 1Gi.
	// +kubebuilder:default={}
	// +optional
	Storage *StorageSpec `json:"storage,omitempty"`

	// resources are the CPU and memory of the Redis container. When absent the operator uses
	// cpu 250m and memory 256Mi.
	// +kubebuilder:validation:XValidation:rule="!has(self.limits) || !has(self.requests) || !('memory' in self.limits) || !('memory' in self.requests) || quantity(string(self.limits['memory'])).compareTo(quantity(string(self.requests['memory']))) >= 0",message="resources.limits.memory must not be below resources.requests.memory: raise the limit or lower the request"
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty,omitzero"`
}

// PostgresVersion is a supported PostgreSQL major version.
// +kubebuilder:validation:Enum="15";"16";"17"
type PostgresVersion string

// DeletionPolicy says what happens to data when the WebStack is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

// Deletion policies.
const (
	DeletionRetain DeletionPolicy = "Retain"
	DeletionDelete DeletionPolicy = "Delete"
)

// ParameterValue is one postgresql.conf value.
// +kubebuilder:validation:MaxLength=256
// +kubebuilder:validation:Pattern=`^[^\x00-\x1f\x7f]*$`
type ParameterValue string

// DatabaseSpec is PostgreSQL.
//
// +kubebuilder:validation:XValidation:rule="!has(self.image) || !has(self.version) || !self.image.matches('^(docker[.]io/)?(library/)?postgres:[0-9]+([.-][-._a-zA-Z0-9]*)?(@.*)?$') || self.image.find('postgres:[0-9]+') == 'postgres:' + self.version",message="database.image is an official postgres image of another major version than database.version: use a postgres:<version>.x image or set database.version to the image's major version"
type DatabaseSpec struct {
	// enabled deploys PostgreSQL. Default true.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// image is the PostgreSQL image, at most 512 characters. Default: the pinned official
	// image of version (postgres:15.10, postgres:16.6 or postgres:17.2). An official image
	// (postgres:<major>...) must be of version's major version.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`

	// version is the PostgreSQL major version: "15", "16" or "17". Default "16". It cannot
	// change once the WebStack exists: PostgreSQL does not start on the data files of another
	// major version. To move to another version, dump the database (pg_dump) and restore it
	// into a new WebStack with the new version.
	// +kubebuilder:default="16"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="database.version cannot change: PostgreSQL does not start on data files of another major version; set it back, then pg_dump the database and restore it into a new WebStack with the new version (in-place upgrades are not supported yet)"
	// +optional
	Version PostgresVersion `json:"version,omitempty"`

	// storage is the data volume, at least 1Gi; it may grow but never shrink. Default 10Gi.
	// +kubebuilder:default={size:"10Gi"}
	// +optional
	Storage DatabaseStorageSpec `json:"storage,omitempty"`

	// maxConnections is PostgreSQL's max_connections, 0 to 100000. Absent or 0 means derived
	// (see status.tuning.database.maxConnections): with pooling, from the pooler's server
	// pools; with pooling.mode None, from every app and task process. A value below that
	// budget is kept but reported as Degraded.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000
	// +optional
	MaxConnections int32 `json:"maxConnections,omitempty"`

	// extensions are created in the app database, e.g. [pg_trgm, btree_gin], at most 32,
	// each at most 63 characters matching ^[a-z_][a-z0-9_]*$.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z_][a-z0-9_]*$`
	// +listType=set
	// +optional
	Extensions []string `json:"extensions,omitempty"`

	// parameters are postgresql.conf overrides, e.g. {random_page_cost: "1.1"}, at most 64,
	// applied after the operator's own settings. Each key is a parameter name of at most 63
	// characters matching ^[a-z_][a-z0-9_]*([.][a-z_][a-z0-9_]*)*$ (custom ones dotted), each
	// value at most 256 characters without control characters.
	//
	// These keys cannot be set, because the operator owns them or because they would let a
	// WebStack read or run files, or weaken the server's security: include, include_dir,
	// include_if_exists, listen_addresses, port, data_directory, hba_file, ident_file,
	// config_file, external_pid_file, dynamic_library_path, krb_server_keyfile,
	// password_encryption, max_connections (use maxConnections), shared_buffers (set the
	// memory in resources instead), and every key that starts with ssl, archive_ or
	// unix_socket_, or ends in _command or _preload_libraries (restore_command,
	// shared_preload_libraries, ...).
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 63 && k.matches('^[a-z_][a-z0-9_]*([.][a-z_][a-z0-9_]*)*$'))",message="database.parameters keys must be PostgreSQL parameter names of at most 63 characters: lowercase letters, digits and '_', dotted parts for custom parameters (e.g. random_page_cost, auto_explain.log_min_duration)"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['include', 'include_dir', 'include_if_exists', 'listen_addresses', 'port', 'data_directory', 'hba_file', 'ident_file', 'config_file', 'external_pid_file', 'dynamic_library_path', 'krb_server_keyfile', 'password_encryption', 'max_connections', 'shared_buffers'] || k.startsWith('ssl') || k.startsWith('archive_') || k.startsWith('unix_socket_') || k.endsWith('_command') || k.endsWith('_preload_libraries')))",message="database.parameters may not set include*, listen_addresses, port, data_directory, hba_file, ident_file, config_file, external_pid_file, dynamic_library_path, krb_server_keyfile, password_encryption, max_connections, shared_buffers, ssl*, archive_*, unix_socket_*, *_command or *_preload_libraries: the operator owns them or they reach outside the database; remove the key (use database.maxConnections or database.resources for connections and memory)"
	// +optional
	Parameters map[string]ParameterValue `json:"parameters,omitempty"`

	// deletionPolicy says what happens to the data volume and the credentials when the
	// WebStack is deleted (or the database disabled): Retain keeps them, and a WebStack of
	// the same name adopts them again; Delete removes them. Default Retain.
	// +kubebuilder:default=Retain
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// resources are the CPU and memory of the PostgreSQL container. When absent the operator
	// uses cpu 1 and memory 1Gi; shared_buffers and friends are derived from the memory.
	// +kubebuilder:validation:XValidation:rule="!has(self.limits) || !has(self.requests) || !('memory' in self.limits) || !('memory' in self.requests) || quantity(string(self.limits['memory'])).compareTo(quantity(string(self.requests['memory']))) >= 0",message="resources.limits.memory must not be below resources.requests.memory: raise the limit or lower the request"
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty,omitzero"`

	// pooling is PgBouncer between the app and PostgreSQL: mode Transaction (the default),
	// Session or None. See PoolingSpec.
	// +kubebuilder:default={}
	// +optional
	Pooling PoolingSpec `json:"pooling,omitempty"`
}

// WebStackStatus is what the operator observed and derived.
type WebStackStatus struct {
	// observedGeneration is the metadata.generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Ready, Progressing, Degraded and one per component (DatabaseReady,
	// RedisReady, AppReady, TasksReady, CacheReady, LoadBalancerReady).
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// components are the desired and ready replicas of each enabled component.
	// +optional
	Components ComponentsStatus `json:"components,omitempty"`

	// tuning is every number the operator derived from the spec.
	// +optional
	Tuning *TuningStatus `json:"tuning,omitempty"`

	// endpoint is the URL of the HAProxy Service inside the cluster.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// connectionSecret names the Secret with DATABASE_URL, REDIS_URL, CACHE_URL and
	// CELERY_BROKER_URL for the app.
	// +optional
	ConnectionSecret string `json:"connectionSecret,omitempty"`
}

// ComponentsStatus are the replicas of each component; disabled components are absent.
type ComponentsStatus struct {
	// app is the app Deployment.
	// +optional
	App *ComponentStatus `json:"app,omitempty"`
	// tasks is the task worker Deployment.
	// +optional
	Tasks *ComponentStatus `json:"tasks,omitempty"`
	// beat is the task scheduler Deployment.
	// +optional
	Beat *ComponentStatus `json:"beat,omitempty"`
	// broker is the task broker Redis.
	// +optional
	Broker *ComponentStatus `json:"broker,omitempty"`
	// redis is the cache Redis.
	// +optional
	Redis *ComponentStatus `json:"redis,omitempty"`
	// database is PostgreSQL.
	// +optional
	Database *ComponentStatus `json:"database,omitempty"`
	// cache is Varnish.
	// +optional
	Cache *ComponentStatus `json:"cache,omitempty"`
	// loadBalancer is HAProxy.
	// +optional
	LoadBalancer *ComponentStatus `json:"loadBalancer,omitempty"`
}

// ComponentStatus is the replica count of one component.
type ComponentStatus struct {
	// desired is the number of pods the component should have.
	Desired int32 `json:"desired"`
	// ready is the number of its pods that are ready.
	Ready int32 `json:"ready"`
	// replicas is "ready/desired", for kubectl get.
	// +optional
	Replicas string `json:"replicas,omitempty"`
}

// TuningStatus is every number the operator derived; memory values are quantities in Mi.
type TuningStatus struct {
	// app is the derived app process layout.
	App AppTuning `json:"app"`
	// tasks is the derived task worker layout; absent without tasks.
	// +optional
	Tasks *TasksTuning `json:"tasks,omitempty"`
	// database is the derived PostgreSQL sizing; absent when the database is disabled.
	// +optional
	Database *DatabaseTuning `json:"database,omitempty"`
	// pooler is the derived PgBouncer sizing; absent without a pooler.
	// +optional
	Pooler *PoolerTuning `json:"pooler,omitempty"`
	// redis is the derived cache Redis sizing; absent when redis is disabled.
	// +optional
	Redis *RedisTuning `json:"redis,omitempty"`
	// broker is the derived broker Redis sizing; absent without tasks.
	// +optional
	Broker *RedisTuning `json:"broker,omitempty"`
	// cache is the derived Varnish sizing; absent when the cache is disabled.
	// +optional
	Cache *CacheTuning `json:"cache,omitempty"`
	// loadBalancer is the derived HAProxy sizing.
	LoadBalancer LoadBalancerTuning `json:"loadBalancer"`
	// warnings are problems with explicit values, e.g. a maxConnections below the budget.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	Warnings []string `json:"warnings"`
}

// AppTuning is the derived app process layout.
type AppTuning struct {
	// workersPerPod is the number of gunicorn workers per app pod.
	WorkersPerPod int32 `json:"workersPerPod"`
	// threadsPerWorker is the number of threads per gunicorn worker.
	ThreadsPerWorker int32 `json:"threadsPerWorker"`
	// maxPods is the most app pods that can run (replicas, or autoscaling.maxReplicas).
	MaxPods int32 `json:"maxPods"`
	// terminationGracePeriodSeconds lets a pod finish every request HAProxy may still hold.
	TerminationGracePeriodSeconds int64 `json:"terminationGracePeriodSeconds"`
}

// TasksTuning is the derived task worker layout.
type TasksTuning struct {
	// concurrency is the number of worker processes per task pod.
	Concurrency int32 `json:"concurrency"`
	// pods is the number of task worker pods.
	Pods int32 `json:"pods"`
}

// DatabaseTuning is the derived PostgreSQL sizing.
type DatabaseTuning struct {
	// maxConnections is max_connections.
	MaxConnections int32 `json:"maxConnections"`
	// sharedBuffers is shared_buffers.
	SharedBuffers string `json:"sharedBuffers"`
	// effectiveCacheSize is effective_cache_size.
	EffectiveCacheSize string `json:"effectiveCacheSize"`
	// workMem is work_mem.
	WorkMem string `json:"workMem"`
	// maintenanceWorkMem is maintenance_work_mem.
	MaintenanceWorkMem string `json:"maintenanceWorkMem"`
}

// RedisTuning is the derived sizing of a Redis.
type RedisTuning struct {
	// maxMemory is maxmemory.
	MaxMemory string `json:"maxMemory"`
	// maxMemoryPolicy is maxmemory-policy.
	MaxMemoryPolicy string `json:"maxMemoryPolicy"`
}

// CacheTuning is the derived Varnish sizing.
type CacheTuning struct {
	// storage is the malloc cache storage.
	Storage string `json:"storage"`
	// transient is the bounded Transient storage (short-lived and uncacheable objects).
	Transient string `json:"transient"`
}

// LoadBalancerTuning is the derived HAProxy sizing.
type LoadBalancerTuning struct {
	// maxConnections is HAProxy's global maxconn per pod.
	MaxConnections int32 `json:"maxConnections"`
	// threads is nbthread.
	Threads int32 `json:"threads"`
	// serverMaxConnections is maxconn per app server line, so that all HAProxy pods together
	// never send one app pod more concurrent requests than its workers can serve.
	ServerMaxConnections int32 `json:"serverMaxConnections"`
	// serverSlots is the number of app server slots (server-template).
	ServerSlots int32 `json:"serverSlots"`
}
