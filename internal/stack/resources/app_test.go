package resources

import (
	"slices"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

func TestAppEnvMatchesTuning(t *testing.T) {
	cases := map[string]struct {
		opts []option
		// gunicorn is GUNICORN_CMD_ARGS with the tuned worker count in place of %w.
		gunicorn string
		// cacheTimeout is CACHE_DEFAULT_TIMEOUT; "" means unset.
		cacheTimeout string
	}{
		"defaults": {
			gunicorn:     "--workers 3 --threads 1 --bind 0.0.0.0:8000 --timeout 30 --graceful-timeout 30",
			cacheTimeout: "300",
		},
		"explicit workers and threads, another port": {
			opts:         []option{withWorkers(8), withThreads(4), withAppPort(9000)},
			gunicorn:     "--workers 8 --threads 4 --bind 0.0.0.0:9000 --timeout 30 --graceful-timeout 30",
			cacheTimeout: "300",
		},
		"fractional server timeout rounds up": {
			opts:         []option{withServerTimeout(90*time.Second + 500*time.Millisecond), withRedisTTL(90 * time.Second)},
			gunicorn:     "--workers 3 --threads 1 --bind 0.0.0.0:8000 --timeout 91 --graceful-timeout 91",
			cacheTimeout: "90",
		},
		"autoscaling keeps the per-pod numbers": {
			opts:         []option{withAutoscaling(2, 10)},
			gunicorn:     "--workers 3 --threads 1 --bind 0.0.0.0:8000 --timeout 30 --graceful-timeout 30",
			cacheTimeout: "300",
		},
		"no cache Redis, no cache timeout": {
			opts:     []option{withoutRedis()},
			gunicorn: "--workers 3 --threads 1 --bind 0.0.0.0:8000 --timeout 30 --graceful-timeout 30",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ws := webStack(t, tc.opts...)
			tr := tuning.For(ws)
			objs, err := Desired(inputsFor(t, ws))
			if err != nil {
				t.Fatal(err)
			}
			c := container(t, find[*appsv1.Deployment](t, objs, "Deployment/shop-app").Spec.Template)
			if got, _ := env(t, c, EnvWebConcurrency); got != strconv.Itoa(int(tr.App.WorkersPerPod)) {
				t.Errorf("WEB_CONCURRENCY %q, tuning says %d workers", got, tr.App.WorkersPerPod)
			}
			if got, _ := env(t, c, EnvGunicornArgs); got != tc.gunicorn {
				t.Errorf("GUNICORN_CMD_ARGS\n got %q\nwant %q", got, tc.gunicorn)
			}
			got, set := env(t, c, EnvRedisCacheTimeout)
			if got != tc.cacheTimeout || set != (tc.cacheTimeout != "") {
				t.Errorf("CACHE_DEFAULT_TIMEOUT %q (set %t), want %q", got, set, tc.cacheTimeout)
			}
		})
	}
}

func TestUserEnvWins(t *testing.T) {
	ws := webStack(t,
		withEnv(corev1.EnvVar{Name: "DJANGO_SETTINGS_MODULE", Value: "shop.settings"},
			corev1.EnvVar{Name: EnvWebConcurrency, Value: "7"},
			corev1.EnvVar{Name: EnvRedisCacheTimeout, Value: "60"}),
		withTasks(1))
	ws.Spec.App.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "shop-settings"}}}}
	objs, err := Desired(inputsFor(t, ws))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		workload string
		want     []string // NAME=value in order
	}{
		"app: ours first, then the user's; the user's WEB_CONCURRENCY replaces ours": {
			workload: "Deployment/shop-app",
			want:     []string{"GUNICORN_CMD_ARGS=--workers 3 --threads 1 --bind 0.0.0.0:8000 --timeout 30 --graceful-timeout 30", "DATABASE_DISABLE_SERVER_SIDE_CURSORS=true", "VARNISH_URL=http://shop-cache-headless:8080", "DJANGO_SETTINGS_MODULE=shop.settings", "WEB_CONCURRENCY=7", "CACHE_DEFAULT_TIMEOUT=60"},
		},
		"task workers: no gunicorn variables": {
			workload: "Deployment/shop-tasks",
			want:     []string{"DATABASE_DISABLE_SERVER_SIDE_CURSORS=true", "DJANGO_SETTINGS_MODULE=shop.settings", "WEB_CONCURRENCY=7", "CACHE_DEFAULT_TIMEOUT=60"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := container(t, find[*appsv1.Deployment](t, objs, tc.workload).Spec.Template)
			var got []string
			for _, e := range c.Env {
				got = append(got, e.Name+"="+e.Value)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("env\n got %q\nwant %q", got, tc.want)
			}
			if len(c.EnvFrom) != 2 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "shop-connection" ||
				c.EnvFrom[1].ConfigMapRef == nil || c.EnvFrom[1].ConfigMapRef.Name != "shop-settings" {
				t.Errorf("envFrom %+v, want the connection Secret, then the user's ConfigMap (the later source wins)", c.EnvFrom)
			}
		})
	}
}

func TestAppDeployment(t *testing.T) {
	cases := map[string]struct {
		opts     []option
		appImage string
		replicas *int32
		image    string
		liveness int32 // timeoutSeconds
	}{
		"defaults":                               {replicas: ptr(int32(2)), image: "registry.example.com/shop:1.4", liveness: 30},
		"fixed replicas":                         {opts: []option{withReplicas(5)}, replicas: ptr(int32(5)), image: "registry.example.com/shop:1.4", liveness: 30},
		"autoscaling leaves replicas to the HPA": {opts: []option{withAutoscaling(2, 10)}, image: "registry.example.com/shop:1.4", liveness: 30},
		"held at the old image during a migration": {
			opts: []option{withMigration("manage.py", "migrate")}, appImage: "registry.example.com/shop:1.3",
			replicas: ptr(int32(2)), image: "registry.example.com/shop:1.3", liveness: 30,
		},
		"slow server: liveness waits as long as HAProxy": {
			opts: []option{withServerTimeout(2 * time.Minute)}, replicas: ptr(int32(2)), image: "registry.example.com/shop:1.4", liveness: 120,
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
			d := find[*appsv1.Deployment](t, objs, "Deployment/shop-app")
			if (d.Spec.Replicas == nil) != (tc.replicas == nil) || d.Spec.Replicas != nil && *d.Spec.Replicas != *tc.replicas {
				t.Errorf("replicas %v, want %v", d.Spec.Replicas, tc.replicas)
			}
			p := d.Spec.Template
			c := container(t, p)
			if c.Image != tc.image || AppImageOf(d) != tc.image {
				t.Errorf("image %q (AppImageOf %q), want %q", c.Image, AppImageOf(d), tc.image)
			}
			if got := *p.Spec.TerminationGracePeriodSeconds; got != tuning.For(ws).App.TerminationGracePeriodSeconds {
				t.Errorf("grace %d, tuning says %d", got, tuning.For(ws).App.TerminationGracePeriodSeconds)
			}
			for probe, pr := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
				if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Path != "/healthz" || pr.HTTPGet.Port.StrVal != portHTTP {
					t.Errorf("%s probe %+v, want GET /healthz on the http port", probe, pr)
					continue
				}
				// The Host HAProxy's and Varnish's checks send, which the app must allow
				// (Django's ALLOWED_HOSTS), not the pod IP the kubelet sends by default.
				if h := pr.HTTPGet.HTTPHeaders; len(h) != 1 || h[0].Name != "Host" || h[0].Value != "shop-app-headless.shop-ns.svc.cluster.local" {
					t.Errorf("%s probe headers %+v, want Host: shop-app-headless.shop-ns.svc.cluster.local", probe, h)
				}
			}
			if c.LivenessProbe.TimeoutSeconds != tc.liveness {
				t.Errorf("liveness timeout %ds, want %ds", c.LivenessProbe.TimeoutSeconds, tc.liveness)
			}
			if c.Ports[0].ContainerPort != ws.Spec.App.Port {
				t.Errorf("port %d, want %d", c.Ports[0].ContainerPort, ws.Spec.App.Port)
			}
			if len(p.Spec.TopologySpreadConstraints) != 1 || p.Spec.TopologySpreadConstraints[0].WhenUnsatisfiable != corev1.ScheduleAnyway {
				t.Errorf("topology spread %+v, want one ScheduleAnyway over nodes", p.Spec.TopologySpreadConstraints)
			}
		})
	}
}

func TestAppCommandAndArgsFromSpec(t *testing.T) {
	ws := webStack(t)
	ws.Spec.App.Command = []string{"gunicorn", "shop.wsgi"}
	ws.Spec.App.Args = []string{"--access-logfile", "-"}
	c := container(t, AppDeployment(ws, tuning.For(ws), ws.Spec.App.Image, "h", "").Spec.Template)
	if !slices.Equal(c.Command, ws.Spec.App.Command) || !slices.Equal(c.Args, ws.Spec.App.Args) {
		t.Errorf("command %q args %q, want %q %q", c.Command, c.Args, ws.Spec.App.Command, ws.Spec.App.Args)
	}
	c = container(t, AppDeployment(webStack(t), tuning.For(ws), ws.Spec.App.Image, "h", "").Spec.Template)
	if c.Command != nil || c.Args != nil {
		t.Errorf("without command the image's entrypoint runs; got command %q args %q", c.Command, c.Args)
	}
}

func TestAppHorizontalPodAutoscaler(t *testing.T) {
	h := find[*autoscalingv2.HorizontalPodAutoscaler](t, desired(t, withAutoscaling(3, 12), func(w *v1alpha1.WebStack) {
		w.Spec.App.Autoscaling.TargetCPUUtilizationPercentage = 55
	}), "HorizontalPodAutoscaler/shop-app")
	if *h.Spec.MinReplicas != 3 || h.Spec.MaxReplicas != 12 {
		t.Errorf("replicas %d..%d, want 3..12", *h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
	if ref := h.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != "shop-app" || ref.APIVersion != "apps/v1" {
		t.Errorf("target %+v", ref)
	}
	m := h.Spec.Metrics
	if len(m) != 1 || m[0].Resource == nil || m[0].Resource.Name != corev1.ResourceCPU || *m[0].Resource.Target.AverageUtilization != 55 {
		t.Errorf("metrics %+v, want cpu at 55%%", m)
	}
}

func TestAppImageOf(t *testing.T) {
	cases := map[string]struct {
		d    *appsv1.Deployment
		want string
	}{
		"nil":           {},
		"no app":        {d: &appsv1.Deployment{}},
		"app not first": {d: &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "sidecar", Image: "proxy"}, {Name: "app", Image: "shop:2"}}}}}}, want: "shop:2"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := AppImageOf(tc.d); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// VARNISH_URL names the cache's headless Service only while there is a cache.
func TestVarnishURL(t *testing.T) {
	for name, tc := range map[string]struct {
		opts []option
		want string
	}{
		"with the cache":    {want: "http://shop-cache-headless:8080"},
		"cache disabled":    {opts: []option{withoutCache()}, want: ""},
		"user's value wins": {opts: []option{withEnv(corev1.EnvVar{Name: "VARNISH_URL", Value: "http://varnish.example:6081"})}, want: "http://varnish.example:6081"},
	} {
		t.Run(name, func(t *testing.T) {
			got := ""
			for _, e := range AppEnv(webStack(t, tc.opts...), tuning.Result{}) {
				if e.Name == EnvVarnishURL {
					got = e.Value
				}
			}
			if got != tc.want {
				t.Errorf("VARNISH_URL = %q, want %q", got, tc.want)
			}
		})
	}
}
