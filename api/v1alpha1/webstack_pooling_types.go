package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
)

// DefaultPgBouncerImage is the pinned PgBouncer image of database.pooling.image:
// CloudNativePG's image (Debian slim with the PGDG pgbouncer package and postgresql-client,
// rebuilt for every Debian security update, multi-arch). The pooler runs /usr/bin/pgbouncer
// as the image's pgbouncer user (uid 998, gid 996); its readiness probe uses the image's psql.
const DefaultPgBouncerImage = "ghcr.io/cloudnative-pg/pgbouncer:1.25.2"

// PoolingMode is how PgBouncer shares PostgreSQL connections among the app's.
// +kubebuilder:validation:Enum=Transaction;Session;None
type PoolingMode string

// Pooling modes.
const (
	// PoolingTransaction gives a client a server connection for one transaction at a time.
	PoolingTransaction PoolingMode = "Transaction"
	// PoolingSession gives a client a server connection until it disconnects.
	PoolingSession PoolingMode = "Session"
	// PoolingNone runs no pooler: the app connects to PostgreSQL directly.
	PoolingNone PoolingMode = "None"
)

// PoolingSpec is the connection pooler (PgBouncer) between the app and PostgreSQL.
//
// +kubebuilder:validation:XValidation:rule="!has(self.mode) || self.mode != 'None' || (!has(self.replicas) && !has(self.resources))",message="database.pooling.replicas and database.pooling.resources need a pooler: remove them, or set database.pooling.mode to Transaction or Session"
type PoolingSpec struct {
	// mode is Transaction, Session or None. Default Transaction. The CRD default also applies
	// to existing stacks when the operator is upgraded: their app then connects through the
	// pooler; set None to keep direct connections.
	//
	// Transaction: a client holds a PostgreSQL connection only during a transaction, so a
	// few server connections (sized from the database's CPU) serve every app and task
	// process. The app must not rely on session state: server-side cursors (the operator
	// sets DATABASE_DISABLE_SERVER_SIDE_CURSORS=true; Django's DISABLE_SERVER_SIDE_CURSORS
	// must follow it, or QuerySet.iterator() fails), SET without LOCAL, session advisory
	// locks (pg_advisory_lock; pg_advisory_xact_lock is fine), LISTEN across transactions,
	// temporary tables kept across transactions and named prepared statements.
	//
	// Session: a client holds a PostgreSQL connection until it disconnects (every session
	// feature works), so PostgreSQL may need as many connections as the app has processes.
	//
	// None: no pooler; DATABASE_URL is PostgreSQL and max_connections counts every app and
	// task process (today's behaviour).
	//
	// The migration Job always connects directly (DATABASE_DIRECT_URL).
	// +kubebuilder:default=Transaction
	// +optional
	Mode PoolingMode `json:"mode,omitempty"`

	// image is the PgBouncer image; it must have /usr/bin/pgbouncer and psql and run as uid
	// 998. Default ghcr.io/cloudnative-pg/pgbouncer:1.25.2 (pinned).
	// +kubebuilder:default="ghcr.io/cloudnative-pg/pgbouncer:1.25.2"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`

	// replicas is the number of pooler pods, 1 to 16. Absent means derived: 2 when the app
	// can have 2 pods or more, else 1 (see status.tuning.pooler.replicas). The server pool is
	// split across them, so more replicas do not raise max_connections much.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// resources are the CPU and memory of the PgBouncer container. When absent the operator
	// uses cpu 100m and memory 64Mi (PgBouncer is one single-threaded process).
	// +kubebuilder:validation:XValidation:rule="!has(self.limits) || !has(self.requests) || !('memory' in self.limits) || !('memory' in self.requests) || quantity(string(self.limits['memory'])).compareTo(quantity(string(self.requests['memory']))) >= 0",message="resources.limits.memory must not be below resources.requests.memory: raise the limit or lower the request"
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty,omitzero"`
}

// IsPooled reports whether the app reaches PostgreSQL through PgBouncer: the database is
// enabled and pooling.mode is not None (the schema default is Transaction).
func (s *DatabaseSpec) IsPooled() bool {
	return s.IsEnabled() && s.Pooling.Mode != PoolingNone
}

// PoolingModeOrDefault is pooling.mode, Transaction when unset (the schema default).
func (s *PoolingSpec) PoolingModeOrDefault() PoolingMode {
	if s.Mode == "" {
		return PoolingTransaction
	}
	return s.Mode
}

// PgBouncerImage is pooling.image, else DefaultPgBouncerImage.
func (s *PoolingSpec) PgBouncerImage() string {
	if s.Image != "" {
		return s.Image
	}
	return DefaultPgBouncerImage
}

// PoolerTuning is the derived PgBouncer sizing.
type PoolerTuning struct {
	// replicas is the number of pooler pods.
	Replicas int32 `json:"replicas"`
	// poolSize is default_pool_size: PostgreSQL connections per pooler pod.
	PoolSize int32 `json:"poolSize"`
	// reservePoolSize is reserve_pool_size: extra connections per pooler pod for clients that
	// waited longer than reserve_pool_timeout.
	ReservePoolSize int32 `json:"reservePoolSize"`
	// maxClientConnections is max_client_conn per pooler pod.
	MaxClientConnections int32 `json:"maxClientConnections"`
}
