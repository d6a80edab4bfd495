package v1alpha1

// Names the operator puts on objects, which people and other programs (kubectl, tests,
// dashboards) see and may match on.
const (
	// DataFinalizer is on a WebStack whose database.deletionPolicy is Delete: it removes the
	// volume claims and credential Secrets (which are never owned, so garbage collection alone
	// never deletes them) before the WebStack goes. With Retain there is no finalizer and the
	// data stays for a WebStack of the same name to adopt.
	DataFinalizer = "webstack.dev/delete-data"

	// FieldManager is the field manager of every server-side apply the operator makes: the
	// name managedFields shows for the fields it owns.
	FieldManager = "webstack-operator"

	// ConfigHashAnnotation is on the pod template of every component with rendered config: a
	// hash of what its daemon reads only at start (with the in-pod agent; of the whole config
	// without it), so a change of those inputs rolls exactly those pods, while what the agent
	// applies in place (a VCL, haproxy.cfg, Redis memory, reloadable PostgreSQL parameters)
	// rolls nothing.
	ConfigHashAnnotation = "webstack.dev/config-hash"

	// ConnectionHashAnnotation is on the app, task and beat pod templates: a hash of the
	// connection Secret's keys and values, so that pods restart to load the new variables when
	// a component is turned on or off or a password changes. A hash (64 bits of sha256) of
	// values that hold 256-bit random passwords tells nothing about them.
	ConnectionHashAnnotation = "webstack.dev/connection-hash"

	// CredentialsHashAnnotation is on the pod templates of PostgreSQL, the cache Redis and the
	// broker: a hash of their passwords, so that a new password (a deleted credential Secret
	// made anew) restarts the server, which then accepts it.
	CredentialsHashAnnotation = "webstack.dev/credentials-hash"

	// AppliedHashAnnotation is on every child the operator applies: a hash of everything it
	// last applied. A live object that holds every field the operator would send can still
	// differ from what it would send now when it stopped sending a field (say DATABASE_URL
	// after the database was disabled): the hash catches that, since the operator's cache
	// strips the managedFields that would tell.
	AppliedHashAnnotation = "webstack.dev/applied-hash"
)
