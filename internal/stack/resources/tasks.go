package resources

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// taskGraceSeconds is the least grace period of a task worker: celery's warm shutdown
// (SIGTERM) stops taking tasks and waits for the running ones, and two minutes covers a
// typical task. Longer tasks should be idempotent with acks_late, so that a worker killed
// past the grace period has its task delivered again.
const taskGraceSeconds = 120

// beatScheduleFile is celery beat's schedule database: the root filesystem is read-only, so
// it lives on /tmp (an emptyDir that survives container restarts, not pod replacement; beat
// only records when each periodic task last ran there).
const beatScheduleFile = tmpPath + "/celerybeat-schedule"

// tasksObjects are the worker Deployment, its PodDisruptionBudget with more than one
// replica, the beat Deployment with tasks.beat, and the broker.
func tasksObjects(in Inputs, conn *corev1.Secret) ([]Object, error) {
	ws := in.WebStack
	t := ws.Spec.Tasks
	image := tasksImage(in)
	hash := connectionHash(conn)
	objs := []Object{TasksDeployment(ws, in.Tuning, image, hash)}
	if t.TaskReplicas() > 1 {
		objs = append(objs, PodDisruptionBudget(ws, TasksName(ws), ComponentTasks))
	}
	if t.Beat {
		beat, err := BeatDeployment(ws, in.Tuning, image, hash)
		if err != nil {
			return nil, err
		}
		objs = append(objs, beat)
	}
	broker, err := brokerObjects(in)
	if err != nil {
		return nil, err
	}
	return append(objs, broker...), nil
}

// tasksImage is tasks.image, or the image the app runs now when it is unset or the same as
// app.image: then the workers move to a new image together with the app, after its
// migration.
func tasksImage(in Inputs) string {
	ws := in.WebStack
	if img := ws.Spec.Tasks.Image; img != "" && img != ws.Spec.App.Image {
		return img
	}
	return in.AppImage
}

// TasksDeployment runs tasks.command with --concurrency=<tuning> and --queues=<tasks.queues>
// on tasks.replicas pods spread over nodes, with the app's connection Secret and WorkerEnv.
// Celery workers serve no HTTP, so there are no probes. The grace period is
// max(120s, the app's) for a warm shutdown. Call it only with tasks.
func TasksDeployment(ws *v1alpha1.WebStack, t tuning.Result, image, connHash string) *appsv1.Deployment {
	ts := ws.Spec.Tasks
	concurrency := int32(1)
	if t.Tasks != nil {
		concurrency = t.Tasks.Concurrency
	}
	args := []string{"--concurrency=" + strconv.Itoa(int(concurrency))}
	if len(ts.Queues) > 0 {
		args = append(args, "--queues="+strings.Join(ts.Queues, ","))
	}
	container := workerContainer(ws, t, "worker", image, clone(ts.Command), args)
	spec := appPodSpec(ws, max(taskGraceSeconds, t.App.TerminationGracePeriodSeconds), container)
	spec.TopologySpreadConstraints = spreadOverNodes(ws, ComponentTasks)
	template := podTemplate(ws, ComponentTasks, map[string]string{v1alpha1.ConnectionHashAnnotation: connHash}, spec)
	return deployment(ws, TasksName(ws), ComponentTasks, ptr(ts.TaskReplicas()), appsv1.DeploymentStrategy{}, template)
}

// BeatDeployment runs celery beat, the periodic task scheduler, on exactly one pod: the
// Recreate strategy stops the old pod before a new one starts, so no task is ever scheduled
// twice. Its command is BeatCommand(tasks.command) with the schedule on /tmp and no pid file
// (a pid file left by a crash would stop the restarted container). Call it only with tasks.
func BeatDeployment(ws *v1alpha1.WebStack, t tuning.Result, image, connHash string) (*appsv1.Deployment, error) {
	command, err := BeatCommand(ws.Spec.Tasks.Command)
	if err != nil {
		return nil, err
	}
	args := []string{"--schedule=" + beatScheduleFile, "--pidfile="}
	container := workerContainer(ws, t, "beat", image, command, args)
	spec := appPodSpec(ws, 30, container)
	template := podTemplate(ws, ComponentBeat, map[string]string{v1alpha1.ConnectionHashAnnotation: connHash}, spec)
	return deployment(ws, BeatName(ws), ComponentBeat, ptr(int32(1)), recreate(), template), nil
}

// BeatCommand derives celery beat's command from the worker's: the arguments before the
// "worker" sub-command (the program and celery's global options, such as -A shop), then
// "beat". The worker's own options after "worker" are dropped: beat refuses most of them
// (--autoscale, -P, -O). [celery, -A, shop, worker, -l, info] gives [celery, -A, shop, beat].
// A command without a "worker" argument has no beat equivalent: an error, which names the
// fields to fix.
func BeatCommand(worker []string) ([]string, error) {
	i := slices.Index(worker, "worker")
	if i < 0 {
		return nil, fmt.Errorf("tasks.beat is true but tasks.command %q has no \"worker\" argument to replace with \"beat\": write it as celery's [celery, -A, <app>, worker, ...] or turn beat off", worker)
	}
	return append(clone(worker[:i]), "beat"), nil
}

// workerContainer is a task, beat or migration container: the app's connection Secret,
// WorkerEnv, the task resources and a writable /tmp.
func workerContainer(ws *v1alpha1.WebStack, t tuning.Result, name, image string, command, args []string) corev1.Container {
	var resources corev1.ResourceRequirements
	if t.Tasks != nil {
		resources = *t.Tasks.Resources.DeepCopy()
	}
	return corev1.Container{
		Name:         name,
		Image:        image,
		Command:      command,
		Args:         args,
		Env:          WorkerEnv(ws, t),
		EnvFrom:      envFrom(ws),
		Resources:    resources,
		VolumeMounts: []corev1.VolumeMount{mount(tmpVolume, tmpPath)},
	}
}
