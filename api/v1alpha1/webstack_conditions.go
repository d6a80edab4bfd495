package v1alpha1

// Condition types on a WebStack.
const (
	// ConditionReady is True when the whole request path serves: every enabled component is
	// ready at the current generation.
	ConditionReady = "Ready"
	// ConditionProgressing is True while a rollout or a migration runs.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True when something needs a person's attention; the reason says what.
	ConditionDegraded = "Degraded"

	ConditionDatabaseReady     = "DatabaseReady"
	ConditionRedisReady        = "RedisReady"
	ConditionAppReady          = "AppReady"
	ConditionTasksReady        = "TasksReady"
	ConditionCacheReady        = "CacheReady"
	ConditionLoadBalancerReady = "LoadBalancerReady"
)

// Condition reasons.
const (
	// ReasonReady: the component (or the whole stack) is ready.
	ReasonReady = "Ready"
	// ReasonPending: the component's pods are not all ready yet.
	ReasonPending = "Pending"
	// ReasonDisabled: the component is turned off in the spec.
	ReasonDisabled = "Disabled"
	// ReasonComponentsNotReady: Ready is False because at least one component is not ready.
	ReasonComponentsNotReady = "ComponentsNotReady"
	// ReasonRollingOut: a Deployment or StatefulSet is moving to a new revision.
	ReasonRollingOut = "RollingOut"
	// ReasonMigrating: the migration Job for a new image is running.
	ReasonMigrating = "Migrating"
	// ReasonStable: nothing is rolling out.
	ReasonStable = "Stable"
	// ReasonMigrationFailed: the migration Job failed; the app keeps its old image.
	ReasonMigrationFailed = "MigrationFailed"
	// ReasonConnectionBudgetExceeded: database.maxConnections is below what the app and task
	// processes can open.
	ReasonConnectionBudgetExceeded = "ConnectionBudgetExceeded"
	// ReasonCredentialsFailed: the credential Secrets could not be read or created, or one
	// lacks a password key (restore it, or delete the Secret to have new passwords generated).
	ReasonCredentialsFailed = "CredentialsFailed"
	// ReasonMigrationJobFailed: the operator could not read or create the migration Job (or
	// read the app Deployment to decide whether one is needed). A Job that ran and failed is
	// ReasonMigrationFailed.
	ReasonMigrationJobFailed = "MigrationJobFailed"
	// ReasonRenderFailed: a component's config could not be rendered from the spec (a value
	// the daemon's config cannot hold); the message names it.
	ReasonRenderFailed = "RenderFailed"
	// ReasonBuildFailed: the child objects could not be built from the spec and the rendered
	// configs (for example a password missing from the credentials read).
	ReasonBuildFailed = "BuildFailed"
	// ReasonApplyFailed: the API server refused one of the child objects.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonPruneFailed: a child of a component no longer in the spec could not be listed or
	// deleted.
	ReasonPruneFailed = "PruneFailed"
	// ReasonVolumeExpansionFailed: a volume claim could not be read or grown to the size the
	// spec asks for.
	ReasonVolumeExpansionFailed = "VolumeExpansionFailed"
	// ReasonAsExpected: Degraded is False, nothing needs attention.
	ReasonAsExpected = "AsExpected"
)

// ComponentConditions maps each component condition type, in a stable order.
var ComponentConditions = []string{
	ConditionDatabaseReady,
	ConditionRedisReady,
	ConditionAppReady,
	ConditionTasksReady,
	ConditionCacheReady,
	ConditionLoadBalancerReady,
}
