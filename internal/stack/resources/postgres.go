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

// Paths in the PostgreSQL container.
const (
	postgresConfigDir = "/etc/postgresql"
	// postgresDataMount is the volume claim; PGDATA is a subdirectory, because initdb needs
	// an empty directory and a volume's root may hold lost+found.
	postgresDataMount = "/var/lib/postgresql/data"
	postgresPGData    = postgresDataMount + "/pgdata"
	// postgresSocketDir holds the server's Unix socket (the image's default).
	postgresSocketDir = "/var/run/postgresql"
	// postgresInitDir is where the image's entrypoint runs scripts on first start.
	postgresInitDir = "/docker-entrypoint-initdb.d"
	// postgresGraceSeconds lets a fast shutdown (the image stops with SIGINT) write its
	// shutdown checkpoint.
	postgresGraceSeconds = 120
	portPostgres         = "postgres"
)

// InitScriptKey is the key in the database ConfigMap of the script that runs init.sql.
const InitScriptKey = "init.sh"

// InitScript runs init.sql as the superuser through the local socket, with the app role's
// password from the APP_PASSWORD variable (the credentials Secret) as a psql variable, never
// written to a file. The image's entrypoint runs it once, when it initialises an empty data
// directory; a failure fails the initialisation. It has neither `exec` nor `set` because
// the entrypoint may source it instead of running it.
const InitScript = `#!/bin/sh
# Run once by the postgres image's entrypoint on an empty data directory: creates the app
# role and database (init.sql). Written by webstack-operator: do not edit.
psql -X -v ON_ERROR_STOP=1 -v ` + render.InitSQLPasswordVariable + `="$APP_PASSWORD" --username ` + render.PostgresSuperuser +
	` --dbname postgres -f ` + postgresConfigDir + "/" + render.FileInitSQL + `
`

// databaseObjects are PostgreSQL's ConfigMap, StatefulSet, Service and headless Service.
func databaseObjects(in Inputs) ([]Object, error) {
	ws := in.WebStack
	data := map[string]string{InitScriptKey: InitScript}
	for name, content := range map[string]string{render.FilePostgres: in.Configs.Postgres, render.FilePgHBA: in.Configs.PgHBA, render.FileInitSQL: in.Configs.InitSQL} {
		s, err := required(name, content)
		if err != nil {
			return nil, missing("database", err)
		}
		data[name] = s
	}
	cm := configMap(ws, DatabaseConfigName(ws), ComponentDatabase, data)
	return []Object{
		cm,
		PostgresStatefulSet(ws, in.Tuning, filesHash(data)),
		DatabaseService(ws),
		DatabaseHeadlessService(ws),
	}, nil
}

// PostgresStatefulSet runs PostgreSQL on one pod with its data on a volume claim of
// database.storage, kept or deleted with the StatefulSet as database.deletionPolicy says.
// The server reads postgresql.conf and pg_hba.conf from the ConfigMap (-c config_file,
// -c hba_file); the superuser password (POSTGRES_PASSWORD) and the app password
// (APP_PASSWORD, for InitScript) come from the credentials Secret. pg_isready over TCP as
// the app role (which never logs: it hangs up when asked for a password) is the probe:
// ready only once the real server listens (not the entrypoint's socket-only first-start
// server); the startup probe allows 15 minutes for initdb or crash recovery. cfgHash is
// the hash of the whole ConfigMap.
func PostgresStatefulSet(ws *v1alpha1.WebStack, t tuning.Result, cfgHash string) *appsv1.StatefulSet {
	db := &ws.Spec.Database
	isReady := []string{"pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(render.PostgresPort),
		"-U", render.DefaultAppRole, "-d", render.DefaultAppDatabase}
	container := corev1.Container{
		Name:  "postgres",
		Image: db.PostgresImage(),
		// The image's entrypoint (initdb, init scripts) runs before the server.
		Args: []string{"postgres",
			"-c", "config_file=" + path.Join(postgresConfigDir, render.FilePostgres),
			"-c", "hba_file=" + path.Join(postgresConfigDir, render.FilePgHBA)},
		Ports: []corev1.ContainerPort{tcpPort(portPostgres, render.PostgresPort)},
		Env: []corev1.EnvVar{
			secretEnv("POSTGRES_PASSWORD", DatabaseCredentialsName(ws), SuperuserPasswordKey),
			secretEnv("APP_PASSWORD", DatabaseCredentialsName(ws), AppPasswordKey),
			{Name: "PGDATA", Value: postgresPGData},
		},
		Resources:      *t.Database.Resources.DeepCopy(),
		StartupProbe:   execProbe(isReady, timing{period: 10, timeout: 5, failures: 90}),
		ReadinessProbe: execProbe(isReady, timing{period: 5, timeout: 3, failures: 3}),
		LivenessProbe:  execProbe(isReady, timing{period: 10, timeout: 5, failures: 6}),
		VolumeMounts: []corev1.VolumeMount{
			mount(dataVolume, postgresDataMount),
			readOnlyMount("config", postgresConfigDir),
			readOnlyMount("initdb", postgresInitDir),
			mount("run", postgresSocketDir),
			mount("shm", "/dev/shm"),
			mount(tmpVolume, tmpPath),
		},
	}
	volumes := []corev1.Volume{
		configMapVolume("config", DatabaseConfigName(ws),
			corev1.KeyToPath{Key: render.FilePostgres, Path: render.FilePostgres},
			corev1.KeyToPath{Key: render.FilePgHBA, Path: render.FilePgHBA},
			corev1.KeyToPath{Key: render.FileInitSQL, Path: render.FileInitSQL}),
		configMapVolume("initdb", DatabaseConfigName(ws),
			corev1.KeyToPath{Key: InitScriptKey, Path: "10-webstack-init.sh", Mode: ptr(int32(0o555))}),
		emptyDir("run"),
		// Parallel queries use POSIX shared memory; the runtime's /dev/shm is 64Mi.
		{Name: "shm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		emptyDir(tmpVolume),
	}
	spec := podSpec(PostgresUID, PostgresUID, postgresGraceSeconds, volumes, container)
	template := podTemplate(ws, ComponentDatabase, map[string]string{v1alpha1.ConfigHashAnnotation: cfgHash}, spec)
	return statefulSet(ws, DatabaseName(ws), ComponentDatabase, DatabaseHeadlessName(ws), databaseStorage(ws), template)
}

// DatabaseService is PostgreSQL's ClusterIP Service, the host of DATABASE_URL.
func DatabaseService(ws *v1alpha1.WebStack) *corev1.Service {
	return service(ws, DatabaseName(ws), ComponentDatabase, false, servicePort(portPostgres, render.PostgresPort, portPostgres))
}

// DatabaseHeadlessService governs the StatefulSet (stable pod DNS names).
func DatabaseHeadlessService(ws *v1alpha1.WebStack) *corev1.Service {
	return service(ws, DatabaseHeadlessName(ws), ComponentDatabase, true, servicePort(portPostgres, render.PostgresPort, portPostgres))
}
