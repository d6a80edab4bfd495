package resources

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// appContainer is the name of the app container, which AppImageOf reads.
const appContainer = "app"

// Environment variables the operator sets for the app.
const (
	// EnvWebConcurrency is gunicorn's default worker count (status.tuning.app.workersPerPod).
	EnvWebConcurrency = "WEB_CONCURRENCY"
	// EnvGunicornArgs are gunicorn's workers, threads, bind address and timeouts.
	EnvGunicornArgs = "GUNICORN_CMD_ARGS"
	// EnvRedisCacheTimeout is redis.defaultTTL in seconds, for Django's CACHES TIMEOUT; set with
	// the cache Redis.
	EnvRedisCacheTimeout = "CACHE_DEFAULT_TIMEOUT"
	// EnvVarnishURL is the Varnish pods' headless Service (http://<ws>-cache-headless:8080),
	// set with the cache: HAProxy hashes each URL to one replica, so a PURGE must go to every
	// address the name resolves to, not through a ClusterIP Service.
	EnvVarnishURL = "VARNISH_URL"
)

// appObjects are the app's Deployment, headless Service, the HorizontalPodAutoscaler
// with autoscaling, and the PodDisruptionBudget with autoscaling or more than one replica.
func appObjects(in Inputs, conn *corev1.Secret) []Object {
	ws := in.WebStack
	a := &ws.Spec.App
	objs := []Object{
		AppDeployment(ws, in.Tuning, in.AppImage, connectionHash(conn), in.HealthHost),
		AppHeadlessService(ws),
	}
	if a.Autoscaling != nil {
		objs = append(objs, AppHorizontalPodAutoscaler(ws, in.Tuning))
	}
	if a.Autoscaling != nil || a.AppReplicas() > 1 {
		objs = append(objs, PodDisruptionBudget(ws, AppName(ws), ComponentApp))
	}
	return objs
}

// AppDeployment runs the app image on app.replicas pods spread over nodes (replicas unset,
// left to the HorizontalPodAutoscaler, with autoscaling), with the app's command and args,
// the connection Secret and AppEnv. Probes GET healthCheckPath:
//
//   - startup: every 5s, up to 5 minutes for the app to boot (migrations of the image are
//     not the app's to run: a Job runs them);
//   - readiness: every 5s, 3 failures take the pod out of HAProxy's DNS;
//   - liveness: 3 failures in a row, each allowed timeouts.server to answer, restart it, so
//     that a pod whose workers are all busy with slow requests is not killed for it.
//
// Every probe sends healthHost as its Host header (the same as HAProxy's and Varnish's
// checks, so that the app allows one name; none when empty). The grace period is tuning's
// (timeouts.server + timeouts.queue + 5s). connHash is the hash of the connection Secret's
// keys.
func AppDeployment(ws *v1alpha1.WebStack, t tuning.Result, image, connHash, healthHost string) *appsv1.Deployment {
	a := &ws.Spec.App
	server := max(1, t.App.ServerTimeoutSeconds)
	container := corev1.Container{
		Name:         appContainer,
		Image:        image,
		Command:      clone(a.Command),
		Args:         clone(a.Args),
		Ports:        []corev1.ContainerPort{tcpPort(portHTTP, a.Port)},
		Env:          AppEnv(ws, t),
		EnvFrom:      envFrom(ws),
		Resources:    *t.App.Resources.DeepCopy(),
		VolumeMounts: []corev1.VolumeMount{mount(tmpVolume, tmpPath)},
		StartupProbe: httpProbe(a.HealthCheckPath, portHTTP, timing{period: 5, timeout: 5, failures: 60}),
		ReadinessProbe: httpProbe(a.HealthCheckPath, portHTTP,
			timing{period: 5, timeout: 5, failures: 3}),
		LivenessProbe: httpProbe(a.HealthCheckPath, portHTTP,
			timing{period: max(10, server), timeout: server, failures: 3}),
	}
	if healthHost != "" {
		for _, p := range []*corev1.Probe{container.StartupProbe, container.ReadinessProbe, container.LivenessProbe} {
			p.HTTPGet.HTTPHeaders = []corev1.HTTPHeader{{Name: "Host", Value: healthHost}}
		}
	}
	spec := appPodSpec(ws, t.App.TerminationGracePeriodSeconds, container)
	spec.TopologySpreadConstraints = spreadOverNodes(ws, ComponentApp)
	template := podTemplate(ws, ComponentApp, map[string]string{v1alpha1.ConnectionHashAnnotation: connHash}, spec)
	var replicas *int32
	if a.Autoscaling == nil {
		replicas = ptr(a.AppReplicas())
	}
	return deployment(ws, AppName(ws), ComponentApp, replicas, surgeFirst(), template)
}

// AppImageOf is the image of the app container of a (live) app Deployment, "" when it has
// none.
func AppImageOf(d *appsv1.Deployment) string {
	if d == nil {
		return ""
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == appContainer {
			return c.Image
		}
	}
	return ""
}

// AppEnv is the app container's environment: WEB_CONCURRENCY and GUNICORN_CMD_ARGS from
// tuning, CACHE_DEFAULT_TIMEOUT with the cache Redis, DATABASE_DISABLE_SERVER_SIDE_CURSORS
// in transaction pooling, VARNISH_URL with the cache, then
// app.env. A variable of app.env replaces the operator's variable of the same name instead of
// repeating the name.
func AppEnv(ws *v1alpha1.WebStack, t tuning.Result) []corev1.EnvVar {
	env := []corev1.EnvVar{
		{Name: EnvWebConcurrency, Value: strconv.Itoa(int(t.App.WorkersPerPod))},
		{Name: EnvGunicornArgs, Value: GunicornArgs(ws, t)},
	}
	env = append(env, redisEnv(t)...)
	env = append(env, poolingEnv(ws)...)
	if ws.Spec.Cache.IsEnabled() {
		// The short name: the app resolves it with its pod's DNS search path.
		env = append(env, corev1.EnvVar{Name: EnvVarnishURL, Value: "http://" + CacheHeadlessName(ws) + ":" + strconv.Itoa(render.VarnishPort)})
	}
	return mergeEnv(env, ws.Spec.App.Env)
}

// WorkerEnv is the environment of task and beat containers: AppEnv without the gunicorn
// variables, which mean nothing to them.
func WorkerEnv(ws *v1alpha1.WebStack, t tuning.Result) []corev1.EnvVar {
	return mergeEnv(append(redisEnv(t), poolingEnv(ws)...), ws.Spec.App.Env)
}

// GunicornArgs are `--workers N --threads T --bind 0.0.0.0:<port> --timeout S
// --graceful-timeout S`, with S = timeouts.server in whole seconds (rounded up): a worker
// silent for longer than HAProxy waits is restarted, and a stopping worker gets as long to
// finish its request as HAProxy gives it.
func GunicornArgs(ws *v1alpha1.WebStack, t tuning.Result) string {
	server := strconv.Itoa(int(t.App.ServerTimeoutSeconds))
	return "--workers " + strconv.Itoa(int(t.App.WorkersPerPod)) +
		" --threads " + strconv.Itoa(int(t.App.ThreadsPerWorker)) +
		" --bind 0.0.0.0:" + strconv.Itoa(int(ws.Spec.App.Port)) +
		" --timeout " + server +
		" --graceful-timeout " + server
}

// redisEnv is CACHE_DEFAULT_TIMEOUT with the cache Redis, else nothing.
func redisEnv(t tuning.Result) []corev1.EnvVar {
	if t.Redis == nil {
		return nil
	}
	return []corev1.EnvVar{{Name: EnvRedisCacheTimeout, Value: strconv.Itoa(int(t.Redis.DefaultTTLSeconds))}}
}

// mergeEnv is ours without the names user sets, then user (copied), in order.
func mergeEnv(ours, user []corev1.EnvVar) []corev1.EnvVar {
	set := make(map[string]bool, len(user))
	for _, e := range user {
		set[e.Name] = true
	}
	var env []corev1.EnvVar
	for _, e := range ours {
		if !set[e.Name] {
			env = append(env, e)
		}
	}
	for _, e := range user {
		env = append(env, *e.DeepCopy())
	}
	return env
}

// envFrom is the connection Secret, then app.envFrom: of two sources with the same key, the
// later one wins, so the user's sources override the operator's URLs.
func envFrom(ws *v1alpha1.WebStack) []corev1.EnvFromSource {
	from := []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: ConnectionSecretName(ws)},
	}}}
	for _, f := range ws.Spec.App.EnvFrom {
		from = append(from, *f.DeepCopy())
	}
	return from
}

// AppHeadlessService publishes the ready app pods' addresses for HAProxy's server-template.
// The app has no ClusterIP Service: nothing in the stack calls it but HAProxy, and a client
// in the cluster goes through the load balancer's Service (or resolves this one). A ClusterIP
// costs a Service IP, proxy rules on every node, and API server work at each creation (its
// allocation scans every allocated IP: docs/benchmarks.md).
func AppHeadlessService(ws *v1alpha1.WebStack) *corev1.Service {
	return service(ws, AppHeadlessName(ws), ComponentApp, true, servicePort(portHTTP, ws.Spec.App.Port, portHTTP))
}

// AppHorizontalPodAutoscaler scales the app Deployment between app.autoscaling's bounds on
// the average CPU utilisation of its requests, with tuning's target. Call it only with
// autoscaling set.
func AppHorizontalPodAutoscaler(ws *v1alpha1.WebStack, t tuning.Result) *autoscalingv2.HorizontalPodAutoscaler {
	a := ws.Spec.App.Autoscaling
	if a == nil {
		a = &v1alpha1.AutoscalingSpec{}
	}
	return &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   typeMeta(autoscalingV2, "HorizontalPodAutoscaler"),
		ObjectMeta: objectMeta(ws, AppName(ws), ComponentApp),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: appsV1.String(), Kind: "Deployment", Name: AppName(ws)},
			MinReplicas:    ptr(max(1, a.MinReplicas)),
			MaxReplicas:    max(1, a.MinReplicas, a.MaxReplicas),
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(t.App.TargetCPUUtilizationPercentage)},
				},
			}},
		},
	}
}

func clone(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}
