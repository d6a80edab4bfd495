package resources

import (
	"maps"
	"path"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// Paths in the PostgreSQL container.
const (
	postgresConfigDir = "/etc/postgresql"
	// postgresDataMount is the volume claim; PGDATA is a subdirectory, because initdb needs
	// an empty directory and a volume's root may hold lost+found.
	postgresDataMount = "/var/lib/postgresql/data"
	postgresPGData    = postgresDataMount + "/pgdata"
	// postgresSocketDir holds the server's Unix socket (the image's default).
	postgresSocketDir = "/var/run/postgresql"
	// postgresGraceSeconds lets a fast shutdown (the image stops with SIGINT) write its
	// shutdown checkpoint.
	postgresGraceSeconds = 120
	portPostgres         = "postgres"
)

// PrepareScriptKey is the key in the database ConfigMap of PrepareScript.
const PrepareScriptKey = "prepare.sh"

// PrepareScript runs in the database pod's init container, before the server, on every
// start. On an empty data directory it runs initdb (UTF8, locale C, local connections
// trusted, TCP with SCRAM). Then it starts the server on a private Unix socket only, runs
// init.sql (the app role with the password of APP_PASSWORD, its database, the extensions,
// and the superuser's password of POSTGRES_PASSWORD), and stops it. So the passwords the
// server accepts are always those of the credentials Secret, and an extension added to the
// spec exists before the app starts. Passwords pass through the environment only, never a
// command line or a file. It calls initdb, pg_ctl and psql from PATH, which is where the
// official image and Debian's packages (with their bin directory on PATH) put them.
// WEBSTACK_CONFIG_DIR is where postgresql.conf, pg_hba.conf and init.sql are.
const PrepareScript = `#!/bin/sh
# Prepares PostgreSQL's data directory before the server starts. Written by webstack-operator: do not edit.
set -eu
: "${PGDATA:?PGDATA is not set}" "${WEBSTACK_CONFIG_DIR:?WEBSTACK_CONFIG_DIR is not set}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	echo "prepare: initialising $PGDATA"
	initdb --pgdata="$PGDATA" --username=` + render.PostgresSuperuser + ` --encoding=UTF8 --locale=C \
		--auth-local=trust --auth-host=scram-sha-256 --no-instructions
fi
socket=$(mktemp -d)
pg_ctl --pgdata="$PGDATA" --wait --silent --timeout=600 start \
	-o "-c config_file=$WEBSTACK_CONFIG_DIR/` + render.FilePostgres + ` -c hba_file=$WEBSTACK_CONFIG_DIR/` + render.FilePgHBA + ` -c listen_addresses= -c unix_socket_directories=$socket"
status=0
psql -X -q -v ON_ERROR_STOP=1 -h "$socket" --username=` + render.PostgresSuperuser + ` --dbname=postgres \
	-f "$WEBSTACK_CONFIG_DIR/` + render.FileInitSQL + `" || status=$?
pg_ctl --pgdata="$PGDATA" --wait --silent --mode=fast stop
rmdir "$socket"
if [ "$status" -ne 0 ]; then
	echo "prepare: init.sql failed (exit $status)" >&2
	exit "$status"
fi
echo "prepare: roles, database and extensions match the spec"
`

// databaseObjects are PostgreSQL's ConfigMap, StatefulSet, Service and headless Service.
func databaseObjects(in Inputs) ([]Object, error) {
	ws := in.WebStack
	data := map[string]string{PrepareScriptKey: PrepareScript}
	for name, content := range map[string]string{render.FilePostgres: in.Configs.Postgres, render.FilePgHBA: in.Configs.PgHBA, render.FileInitSQL: in.Configs.InitSQL} {
		s, err := required(name, content)
		if err != nil {
			return nil, missing("database", err)
		}
		data[name] = s
	}
	cm := configMap(ws, DatabaseConfigName(ws), ComponentDatabase, data)
	// The agent reloads postgresql.conf: only its parameters that take a restart are
	// hashed (pg_hba.conf, init.sql and prepare.sh are read at start). Without the agent,
	// every change rolls the pod.
	hashed := data
	if in.AgentImage != "" {
		hashed = maps.Clone(data)
		hashed[render.FilePostgres] = render.PostgresRestartOnly(data[render.FilePostgres])
	}
	return []Object{
		cm,
		PostgresStatefulSet(ws, in.Tuning, filesHash(hashed), credentialsHash(in.Credentials.DatabaseSuperuser, in.Credentials.DatabaseApp), in.AgentImage),
		DatabaseService(ws),
		DatabaseHeadlessService(ws),
	}, nil
}

// PostgresStatefulSet runs PostgreSQL on one pod with its data on a volume claim of
// database.storage, kept or deleted with the StatefulSet as database.deletionPolicy says.
// An init container runs PrepareScript on every start (initdb on an empty volume; the
// passwords of the credentials Secret, the app's database and the extensions), then the
// server runs as `postgres -c config_file=... -c hba_file=...` with nothing from the image's
// entrypoint. Only the init container sees the passwords. pg_isready over TCP as the app role
// (which never logs: it hangs up when asked for a password) is the probe; the startup probe
// allows 15 minutes for crash recovery. cfgHash is the hash of the ConfigMap (with
// postgresql.conf reduced to the parameters that take a restart when the agent runs),
// credsHash the hash of the database passwords: a new password restarts the pod, whose init
// container then sets it. With agentImage, the agent beside the server reloads
// postgresql.conf (pg_reload_conf() through the Unix socket, as the trusted local superuser)
// and reports the parameters pending a restart.
func PostgresStatefulSet(ws *v1alpha1.WebStack, t tuning.Result, cfgHash, credsHash, agentImage string) *appsv1.StatefulSet {
	db := &ws.Spec.Database
	isReady := []string{"pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(render.PostgresPort),
		"-U", render.DefaultAppRole, "-d", render.DefaultAppDatabase}
	env := []corev1.EnvVar{
		{Name: "PGDATA", Value: postgresPGData},
		{Name: "WEBSTACK_CONFIG_DIR", Value: postgresConfigDir},
	}
	mounts := []corev1.VolumeMount{
		mount(dataVolume, postgresDataMount),
		readOnlyMount("config", postgresConfigDir),
		mount("run", postgresSocketDir),
		mount("shm", "/dev/shm"),
		mount(tmpVolume, tmpPath),
	}
	prepare := corev1.Container{
		Name:    "prepare",
		Image:   db.PostgresImage(),
		Command: []string{"/bin/sh", path.Join(postgresConfigDir, PrepareScriptKey)},
		Env: append(slices.Clone(env),
			secretEnv("POSTGRES_PASSWORD", DatabaseCredentialsName(ws), SuperuserPasswordKey),
			secretEnv("APP_PASSWORD", DatabaseCredentialsName(ws), AppPasswordKey)),
		Resources:    *t.Database.Resources.DeepCopy(),
		VolumeMounts: slices.Clone(mounts),
	}
	container := corev1.Container{
		Name:    "postgres",
		Image:   db.PostgresImage(),
		Command: []string{"postgres"},
		Args: []string{
			"-c", "config_file=" + path.Join(postgresConfigDir, render.FilePostgres),
			"-c", "hba_file=" + path.Join(postgresConfigDir, render.FilePgHBA)},
		Ports:          []corev1.ContainerPort{tcpPort(portPostgres, render.PostgresPort)},
		Env:            env,
		Resources:      *t.Database.Resources.DeepCopy(),
		StartupProbe:   execProbe(isReady, timing{period: 10, timeout: 5, failures: 90}),
		ReadinessProbe: execProbe(isReady, timing{period: 5, timeout: 3, failures: 3}),
		LivenessProbe:  execProbe(isReady, timing{period: 10, timeout: 5, failures: 6}),
		VolumeMounts:   mounts,
	}
	volumes := []corev1.Volume{
		configMapVolume("config", DatabaseConfigName(ws),
			corev1.KeyToPath{Key: render.FilePostgres, Path: render.FilePostgres},
			corev1.KeyToPath{Key: render.FilePgHBA, Path: render.FilePgHBA},
			corev1.KeyToPath{Key: render.FileInitSQL, Path: render.FileInitSQL},
			corev1.KeyToPath{Key: PrepareScriptKey, Path: PrepareScriptKey}),
		emptyDir("run"),
		// Parallel queries use POSIX shared memory; the runtime's /dev/shm is 64Mi.
		{Name: "shm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		emptyDir(tmpVolume),
	}
	containers := []corev1.Container{container}
	if agentImage != "" {
		volumes = append(volumes, emptyDir(agentVolume))
		containers = append(containers, agentContainer(agentImage, "postgres", path.Join(postgresConfigDir, render.FilePostgres), t,
			[]corev1.VolumeMount{readOnlyMount("config", postgresConfigDir), mount("run", postgresSocketDir)}, nil,
			"--socket", postgresSocketDir, "--port", strconv.Itoa(render.PostgresPort)))
	}
	spec := podSpec(PostgresUID, PostgresUID, postgresGraceSeconds, volumes, containers...)
	prepare.SecurityContext = RestrictedContainerSecurityContext(PostgresUID)
	spec.InitContainers = []corev1.Container{prepare}
	template := podTemplate(ws, ComponentDatabase, map[string]string{v1alpha1.ConfigHashAnnotation: cfgHash, v1alpha1.CredentialsHashAnnotation: credsHash}, spec)
	return statefulSet(ws, DatabaseName(ws), ComponentDatabase, DatabaseHeadlessName(ws), databaseStorage(ws), template)
}

// DatabaseService is PostgreSQL's Service, the host of DATABASE_URL. It is headless: its
// name resolves to the ready pod's address. A ClusterIP would only add a virtual IP, proxy
// rules on every node and API server work at creation (about 15% per stack, measured:
// docs/benchmarks.md) for one pod that clients reach directly just as well.
func DatabaseService(ws *v1alpha1.WebStack) *corev1.Service {
	return service(ws, DatabaseName(ws), ComponentDatabase, true, servicePort(portPostgres, render.PostgresPort, portPostgres))
}

// DatabaseHeadlessService governs the StatefulSet (stable pod DNS names).
func DatabaseHeadlessService(ws *v1alpha1.WebStack) *corev1.Service {
	return service(ws, DatabaseHeadlessName(ws), ComponentDatabase, true, servicePort(portPostgres, render.PostgresPort, portPostgres))
}
