package resources

import (
	"path"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

const (
	portPooler = "pgbouncer"
	// pgbouncerBinary is the binary in the pooler image (CloudNativePG's links it there;
	// Debian's package has it in /usr/sbin).
	pgbouncerBinary = "/usr/bin/pgbouncer"
	// poolerGraceSeconds is how long a stopping pooler pod may take. PgBouncer 1.23 and later
	// answer SIGTERM with a "super safe shutdown": stop accepting, serve the connected clients
	// until they disconnect. Django closes a persistent connection at the end of a request
	// once it is older than CONN_MAX_AGE (60s in the example app), so 90s lets busy clients
	// leave on their own; idle ones reconnect at their next request.
	poolerGraceSeconds = 90
	// poolerAuthMode makes the auth file readable by the pod's group (fsGroup) only.
	poolerAuthMode int32 = 0o440
)

// poolerObjects are PgBouncer's ConfigMap, auth Secret, Service, Deployment and, with two
// replicas or more, its PodDisruptionBudget (with database.pooling mode Transaction or
// Session).
func poolerObjects(in Inputs) ([]Object, error) {
	ws := in.WebStack
	conf, err := required(render.FilePooler, in.Configs.Pooler)
	if err != nil {
		return nil, missing("pooler", err)
	}
	auth, err := PoolerAuthSecret(ws, in.Credentials)
	if err != nil {
		return nil, err
	}
	objs := []Object{
		configMap(ws, PoolerConfigName(ws), ComponentPooler, map[string]string{render.FilePooler: conf}),
		auth,
		PoolerService(ws),
		PoolerDeployment(ws, in.Tuning, ConfigHash(render.FilePooler, conf), credentialsHash(in.Credentials.DatabaseApp)),
	}
	if in.Tuning.Pooler.Replicas >= 2 {
		objs = append(objs, PodDisruptionBudget(ws, PoolerName(ws), ComponentPooler))
	}
	return objs, nil
}

// PoolerAuthSecret is PgBouncer's auth file (render.PoolerAuthFile): the app role and its
// password, owned by the WebStack and mounted only in the pooler pods. A new app password
// changes it and, through the credentials hash, rolls the pooler pods.
func PoolerAuthSecret(ws *v1alpha1.WebStack, c Credentials) (*corev1.Secret, error) {
	if c.DatabaseApp == "" {
		return nil, missing("pooler auth secret", errEmptyAppPassword)
	}
	return &corev1.Secret{
		TypeMeta:   typeMeta(coreV1, "Secret"),
		ObjectMeta: objectMeta(ws, PoolerAuthName(ws), ComponentPooler),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{render.FilePoolerAuth: []byte(render.PoolerAuthFile(render.DefaultAppRole, c.DatabaseApp))},
	}, nil
}

// PoolerDeployment runs `/usr/bin/pgbouncer /etc/pgbouncer/config/pgbouncer.ini` (no
// entrypoint) on tuning's replicas, spread over nodes, rolled surge first (tuning counts the
// surge pod's server connections in max_connections), as the image's pgbouncer user.
// Readiness runs `SELECT 1` as the app role through this pod's PgBouncer to PostgreSQL with
// the image's psql: a pod is ready when a client's whole path works. Liveness only needs the
// port, so that a PostgreSQL restart never restarts the poolers. cfgHash is ConfigHash of
// pgbouncer.ini, credsHash the hash of the app password.
func PoolerDeployment(ws *v1alpha1.WebStack, t tuning.Result, cfgHash, credsHash string) *appsv1.Deployment {
	p := &ws.Spec.Database.Pooling
	query := []string{"psql", "-X", "-w", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", strconv.Itoa(render.PoolerPort),
		"-U", render.DefaultAppRole, "-d", render.DefaultAppDatabase, "-c", "SELECT 1"}
	container := corev1.Container{
		Name:    "pgbouncer",
		Image:   p.PgBouncerImage(),
		Command: []string{pgbouncerBinary},
		Args:    []string{render.PoolerConfigPath},
		Ports:   []corev1.ContainerPort{tcpPort(portPooler, render.PoolerPort)},
		Env: []corev1.EnvVar{
			secretEnv("PGPASSWORD", DatabaseCredentialsName(ws), AppPasswordKey),
			{Name: "PGCONNECT_TIMEOUT", Value: "3"},
		},
		Resources:      *t.Pooler.Resources.DeepCopy(),
		ReadinessProbe: execProbe(query, timing{period: 10, timeout: 5, failures: 3}),
		LivenessProbe:  tcpProbe(portPooler, timing{period: 10, timeout: 5, failures: 6}),
		VolumeMounts: []corev1.VolumeMount{
			readOnlyMount("config", path.Dir(render.PoolerConfigPath)),
			readOnlyMount("auth", path.Dir(render.PoolerAuthFilePath)),
			mount(tmpVolume, tmpPath),
		},
	}
	volumes := []corev1.Volume{
		configMapVolume("config", PoolerConfigName(ws), corev1.KeyToPath{Key: render.FilePooler, Path: render.FilePooler}),
		{Name: "auth", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  PoolerAuthName(ws),
			DefaultMode: ptr(poolerAuthMode),
		}}},
		emptyDir(tmpVolume),
	}
	spec := podSpec(PoolerUID, PoolerGID, poolerGraceSeconds, volumes, container)
	spec.TopologySpreadConstraints = spreadOverNodes(ws, ComponentPooler)
	template := podTemplate(ws, ComponentPooler, map[string]string{v1alpha1.ConfigHashAnnotation: cfgHash, v1alpha1.CredentialsHashAnnotation: credsHash}, spec)
	return deployment(ws, PoolerName(ws), ComponentPooler, ptr(t.Pooler.Replicas), surgeFirst(), template)
}

// PoolerService is PgBouncer's ClusterIP Service on PostgreSQL's port, the host of
// DATABASE_URL with pooling.
func PoolerService(ws *v1alpha1.WebStack) *corev1.Service {
	return service(ws, PoolerName(ws), ComponentPooler, false, servicePort(portPostgres, render.PostgresPort, portPooler))
}

// EnvDisableServerSideCursors is "true" for the app, task and beat containers in
// transaction mode: a server-side cursor lives in one PostgreSQL session, which transaction
// pooling does not keep, so Django's DISABLE_SERVER_SIDE_CURSORS must be on.
const EnvDisableServerSideCursors = "DATABASE_DISABLE_SERVER_SIDE_CURSORS"

// poolingEnv is DATABASE_DISABLE_SERVER_SIDE_CURSORS=true in transaction mode, else nothing.
func poolingEnv(ws *v1alpha1.WebStack) []corev1.EnvVar {
	db := &ws.Spec.Database
	if !db.IsPooled() || db.Pooling.PoolingModeOrDefault() != v1alpha1.PoolingTransaction {
		return nil
	}
	return []corev1.EnvVar{{Name: EnvDisableServerSideCursors, Value: "true"}}
}
