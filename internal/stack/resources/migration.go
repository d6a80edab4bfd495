package resources

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

const (
	// migrationTTLSeconds keeps a finished migration Job (and its logs) for an hour.
	migrationTTLSeconds = 3600
	// migrationBackoffLimit retries a failed migration twice before the Job fails.
	migrationBackoffLimit = 2
)

// MigrationJob runs app.migration.command with image before the app pods move to it: named
// MigrationJobName(ws, image), with the app's connection Secret, MigrationEnv and resources,
// labelled component "migration" (the database's NetworkPolicy admits it). It is retried
// twice and deleted an hour after it finished. Its pod template is immutable: the
// controller creates it once per image and command, and never applies it again. Call it
// only with app.migration set.
func MigrationJob(in Inputs, image string) *batchv1.Job {
	ws := in.WebStack
	var command []string
	if m := ws.Spec.App.Migration; m != nil {
		command = clone(m.Command)
	}
	container := corev1.Container{
		Name:         "migrate",
		Image:        image,
		Command:      command,
		Env:          MigrationEnv(ws, in.Tuning),
		EnvFrom:      envFrom(ws),
		Resources:    *in.Tuning.App.Resources.DeepCopy(),
		VolumeMounts: []corev1.VolumeMount{mount(tmpVolume, tmpPath)},
	}
	spec := appPodSpec(ws, 30, container)
	spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.Job{
		TypeMeta:   typeMeta(batchV1, "Job"),
		ObjectMeta: objectMeta(ws, MigrationJobName(ws, image), ComponentMigration),
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr(int32(migrationBackoffLimit)),
			TTLSecondsAfterFinished: ptr(int32(migrationTTLSeconds)),
			Template:                podTemplate(ws, ComponentMigration, nil, spec),
		},
	}
}

// MigrationEnv is the migration container's environment: CACHE_DEFAULT_TIMEOUT with the
// cache Redis and, with the database, DATABASE_URL from the connection Secret's
// DATABASE_DIRECT_URL: migrations take locks and may use session features, so they go to
// PostgreSQL, not through the pooler (the database's NetworkPolicy admits the Job). Then
// app.env, whose variables win.
func MigrationEnv(ws *v1alpha1.WebStack, t tuning.Result) []corev1.EnvVar {
	env := redisEnv(t)
	if ws.Spec.Database.IsEnabled() {
		env = append(env, secretEnv(DatabaseURLKey, ConnectionSecretName(ws), DatabaseDirectURLKey))
	}
	return mergeEnv(env, ws.Spec.App.Env)
}
