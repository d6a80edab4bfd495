package testutil

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// Option changes a WebStack fixture.
type Option func(*v1alpha1.WebStack)

// WebStack returns a WebStack named name with only app.image set, changed by opts. It is not
// defaulted: create it through the API server, or run manifest.Validate on it.
func WebStack(name string, opts ...Option) *v1alpha1.WebStack {
	ws := &v1alpha1.WebStack{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "WebStack"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.WebStackSpec{App: v1alpha1.AppSpec{Image: "registry.example.com/shop:1.4"}},
	}
	for _, o := range opts {
		o(ws)
	}
	return ws
}

// InNamespace sets the namespace.
func InNamespace(ns string) Option { return func(ws *v1alpha1.WebStack) { ws.Namespace = ns } }

// WithImage sets app.image.
func WithImage(image string) Option { return func(ws *v1alpha1.WebStack) { ws.Spec.App.Image = image } }

// WithReplicas sets app.replicas.
func WithReplicas(n int32) Option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.App.Replicas = ptr.To(n) }
}

// WithAutoscaling sets app.autoscaling between min and max pods.
func WithAutoscaling(min, max int32) Option {
	return func(ws *v1alpha1.WebStack) {
		ws.Spec.App.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: min, MaxReplicas: max}
	}
}

// WithMigration sets app.migration.command.
func WithMigration(command ...string) Option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.App.Migration = &v1alpha1.MigrationSpec{Command: command} }
}

// WithTasks adds Celery workers with n replicas.
func WithTasks(n int32) Option {
	return func(ws *v1alpha1.WebStack) {
		ws.Spec.Tasks = &v1alpha1.TasksSpec{Command: []string{"celery", "-A", "shop", "worker"}, Replicas: ptr.To(n)}
	}
}

// WithBeat turns on the task scheduler (needs WithTasks first).
func WithBeat() Option { return func(ws *v1alpha1.WebStack) { ws.Spec.Tasks.Beat = true } }

// WithoutCache disables Varnish.
func WithoutCache() Option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Cache.Enabled = ptr.To(false) }
}

// WithoutRedis disables the cache Redis.
func WithoutRedis() Option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Redis.Enabled = ptr.To(false) }
}

// WithPooling sets database.pooling.mode (Transaction, Session or None).
func WithPooling(mode v1alpha1.PoolingMode) Option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Database.Pooling.Mode = mode }
}

// WithoutDatabase disables PostgreSQL.
func WithoutDatabase() Option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Database.Enabled = ptr.To(false) }
}

// WithDeletionPolicy sets database.deletionPolicy.
func WithDeletionPolicy(p v1alpha1.DeletionPolicy) Option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Database.DeletionPolicy = p }
}

// WithMaxConnections sets database.maxConnections.
func WithMaxConnections(n int32) Option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Database.MaxConnections = n }
}

// WithDatabaseMemory sets the database container's memory request and limit.
func WithDatabaseMemory(q string) Option {
	return func(ws *v1alpha1.WebStack) {
		m := resource.MustParse(q)
		ws.Spec.Database.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: m}
		ws.Spec.Database.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: m}
	}
}

// WithCacheRule appends a Varnish rule caching pathPrefix for ttl.
func WithCacheRule(pathPrefix, ttl string) Option {
	return func(ws *v1alpha1.WebStack) {
		d, err := time.ParseDuration(ttl)
		if err != nil {
			panic(err) // a typo in a test fixture
		}
		ws.Spec.Cache.Rules = append(ws.Spec.Cache.Rules, v1alpha1.CacheRule{PathPrefix: pathPrefix, TTL: &metav1.Duration{Duration: d}})
	}
}

// WithRedisPersistence sets redis.persistence.
func WithRedisPersistence(p v1alpha1.RedisPersistence) Option {
	return func(ws *v1alpha1.WebStack) { ws.Spec.Redis.Persistence = p }
}
