package resources

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// The non-root users the containers run as. Every pod passes the Pod Security "restricted"
// profile, which needs runAsNonRoot; the kubelet can only check that for a numeric uid, so
// each container names one. Each is the image's own user, so that files the image owns stay
// readable and writable; everything a daemon writes is on an emptyDir or a volume claim,
// which the pod's fsGroup makes group-writable.
const (
	// PostgresUID is the postgres user of the official postgres image (docker-library/postgres:
	// `groupadd -r postgres --gid=999; useradd -r -g postgres --uid=999`). Its entrypoint
	// runs initdb and the server as this user when the container does not start as root.
	PostgresUID int64 = 999
	// RedisUID is the redis user of the official redis image (docker-library/redis:
	// `groupadd -r -g 999 redis; useradd -r -g redis -u 999 redis`). The image starts as root
	// and drops to it with gosu; starting as 999 directly skips that step.
	RedisUID int64 = 999
	// HAProxyUID is the haproxy user of the official haproxy image (docker-library/haproxy:
	// `groupadd --gid 99 --system haproxy; useradd --uid 99 ...` and `USER haproxy` since 2.4).
	HAProxyUID int64 = 99
	// VarnishUID is the varnish user of the official varnish image (varnish/docker-varnish:
	// `adduser --uid 1000 --system --group varnish` and `USER varnish`). Images before that
	// pin (such as 7.1.1, whose Debian package picks a system uid) run as 1000 just as well:
	// varnishd started by a non-root user uses no jail, and its only writable paths (the
	// working directory and /tmp for the VCL compiler) are emptyDirs.
	VarnishUID int64 = 1000
	// PoolerUID and PoolerGID are the pgbouncer user and group of CloudNativePG's pgbouncer
	// image (cloudnative-pg/pgbouncer-containers: `groupadd -r --gid 996 pgbouncer; useradd -r
	// --uid 998 --gid 996 pgbouncer` and `USER pgbouncer`).
	PoolerUID int64 = 998
	PoolerGID int64 = 996
	// AppUID runs the app, task, beat and migration containers. The app image is the user's
	// and its user is unknown (often root, or a name such as "app" that the kubelet cannot
	// check): 1000 is the usual first user of an image, and the image's files only need to
	// be readable by it. The root filesystem is read-only; /tmp is writable.
	AppUID int64 = 1000
)

// AppUser is the uid and gid of the app image's containers (app, tasks, beat, migration):
// app.securityContext's runAsUser and runAsGroup, AppUID by default; runAsGroup defaults
// to runAsUser.
func AppUser(ws *v1alpha1.WebStack) (uid, gid int64) {
	uid = AppUID
	sc := ws.Spec.App.SecurityContext
	if sc != nil && sc.RunAsUser != nil {
		uid = *sc.RunAsUser
	}
	gid = uid
	if sc != nil && sc.RunAsGroup != nil {
		gid = *sc.RunAsGroup
	}
	return uid, gid
}

// RestrictedPodSecurityContext is the pod half of the restricted profile: runAsNonRoot with
// uid, runAsGroup and fsGroup fsGroup (volumes become group-writable, changed only when the
// volume's root does not match already), and the runtime's default seccomp profile.
func RestrictedPodSecurityContext(uid, fsGroup int64) *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:        ptr(true),
		RunAsUser:           ptr(uid),
		RunAsGroup:          ptr(fsGroup),
		FSGroup:             ptr(fsGroup),
		FSGroupChangePolicy: ptr(corev1.FSGroupChangeOnRootMismatch),
		SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// RestrictedContainerSecurityContext is the container half of the restricted profile, for
// every container: runAsNonRoot with uid, no privilege escalation, every capability dropped
// (every port is above 1024), the default seccomp profile, and a read-only root filesystem
// (every daemon here writes only to emptyDirs and volume claims).
func RestrictedContainerSecurityContext(uid int64) *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptr(true),
		RunAsUser:                ptr(uid),
		AllowPrivilegeEscalation: ptr(false),
		Privileged:               ptr(false),
		ReadOnlyRootFilesystem:   ptr(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func ptr[T any](v T) *T { return &v }
