package resources

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

func TestBeatCommand(t *testing.T) {
	cases := map[string]struct {
		worker []string
		want   []string
		err    string
	}{
		"celery worker":                      {worker: []string{"celery", "-A", "shop", "worker"}, want: []string{"celery", "-A", "shop", "beat"}},
		"worker options are dropped":         {worker: []string{"celery", "-A", "shop", "worker", "-l", "info", "--autoscale=10,3"}, want: []string{"celery", "-A", "shop", "beat"}},
		"through python -m":                  {worker: []string{"python", "-m", "celery", "--app=shop", "worker"}, want: []string{"python", "-m", "celery", "--app=shop", "beat"}},
		"the first worker is the subcommand": {worker: []string{"celery", "-A", "shop", "worker", "-n", "worker"}, want: []string{"celery", "-A", "shop", "beat"}},
		"a script has no beat":               {worker: []string{"/app/bin/run-worker"}, err: `no "worker" argument`},
		"worker inside a word is not one":    {worker: []string{"celery", "-A", "shop", "workers"}, err: `no "worker" argument`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := BeatCommand(tc.worker)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if &got[0] == &tc.worker[0] {
				t.Error("the beat command shares the worker command's array")
			}
		})
	}
}

func TestTasksDeployment(t *testing.T) {
	cases := map[string]struct {
		opts     []option
		appImage string
		image    string
		args     []string
		grace    int64
	}{
		"defaults: app image, default queue": {
			opts:  []option{withTasks(2)},
			image: "registry.example.com/shop:1.4", args: []string{"--concurrency=1", "--queues=default"}, grace: 120,
		},
		"own image and queues": {
			opts:  []option{withTasks(1), withTasksImage("registry.example.com/worker:7"), withQueues("default", "invoices")},
			image: "registry.example.com/worker:7", args: []string{"--concurrency=1", "--queues=default,invoices"}, grace: 120,
		},
		"the app's image, held back during a migration": {
			opts: []option{withTasks(1), withTasksImage("registry.example.com/shop:1.4"), withMigration("manage.py", "migrate")}, appImage: "registry.example.com/shop:1.3",
			image: "registry.example.com/shop:1.3", args: []string{"--concurrency=1", "--queues=default"}, grace: 120,
		},
		"own image is not held back": {
			opts: []option{withTasks(1), withTasksImage("registry.example.com/worker:7"), withMigration("manage.py", "migrate")}, appImage: "registry.example.com/shop:1.3",
			image: "registry.example.com/worker:7", args: []string{"--concurrency=1", "--queues=default"}, grace: 120,
		},
		"long HAProxy timeouts lengthen the warm shutdown": {
			opts:  []option{withTasks(1), withServerTimeout(5 * time.Minute)},
			image: "registry.example.com/shop:1.4", args: []string{"--concurrency=1", "--queues=default"}, grace: 315,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ws := webStack(t, tc.opts...)
			in := inputsFor(t, ws)
			if tc.appImage != "" {
				in.AppImage = tc.appImage
			}
			objs, err := Desired(in)
			if err != nil {
				t.Fatal(err)
			}
			d := find[*appsv1.Deployment](t, objs, "Deployment/shop-tasks")
			c := container(t, d.Spec.Template)
			if c.Image != tc.image {
				t.Errorf("image %q, want %q", c.Image, tc.image)
			}
			if !slices.Equal(c.Command, ws.Spec.Tasks.Command) || !slices.Equal(c.Args, tc.args) {
				t.Errorf("command %q args %q, want %q %q", c.Command, c.Args, ws.Spec.Tasks.Command, tc.args)
			}
			if want := "--concurrency=" + itoa32(tuning.For(ws).Tasks.Concurrency); c.Args[0] != want {
				t.Errorf("concurrency %q, tuning says %q", c.Args[0], want)
			}
			if *d.Spec.Replicas != ws.Spec.Tasks.TaskReplicas() {
				t.Errorf("replicas %d, want %d", *d.Spec.Replicas, ws.Spec.Tasks.TaskReplicas())
			}
			if got := *d.Spec.Template.Spec.TerminationGracePeriodSeconds; got != tc.grace {
				t.Errorf("grace %ds, want %ds", got, tc.grace)
			}
			if _, set := env(t, c, EnvGunicornArgs); set {
				t.Error("task workers get GUNICORN_CMD_ARGS")
			}
			if got, _ := env(t, c, EnvRedisCacheTimeout); got != "300" {
				t.Errorf("CACHE_DEFAULT_TIMEOUT %q, want 300", got)
			}
		})
	}
}

func TestBeatDeployment(t *testing.T) {
	objs := desired(t, withTasks(3), withBeat(), withTasksCommand("celery", "-A", "shop", "worker", "-l", "info"))
	d := find[*appsv1.Deployment](t, objs, "Deployment/shop-beat")
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("replicas %d strategy %q, want exactly one pod, Recreate", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	c := container(t, d.Spec.Template)
	if want := []string{"celery", "-A", "shop", "beat"}; !slices.Equal(c.Command, want) {
		t.Errorf("command %q, want %q", c.Command, want)
	}
	if want := []string{"--schedule=/tmp/celerybeat-schedule", "--pidfile="}; !slices.Equal(c.Args, want) {
		t.Errorf("args %q, want %q", c.Args, want)
	}
	if c.Image != "registry.example.com/shop:1.4" {
		t.Errorf("image %q", c.Image)
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" }) {
		t.Error("beat's schedule directory /tmp is not writable")
	}
}

func itoa32(n int32) string { return strconv.Itoa(int(n)) }
