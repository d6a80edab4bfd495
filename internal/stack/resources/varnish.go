package resources

import (
	"fmt"
	"path"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

const (
	// varnishWorkDir holds varnishd's working directory (-n defaults to a directory in it):
	// the shared memory log and the compiled VCL, which varnishd loads with dlopen, so the
	// volume must allow exec (an emptyDir does).
	varnishWorkDir = "/var/lib/varnish"
	// varnishGraceSeconds: varnishd exits promptly on SIGTERM.
	varnishGraceSeconds = 30
	// varnishAdminVolume holds the admin CLI's secret, shared by varnishd and the agent.
	varnishAdminVolume = "admin"
)

// cacheObjects are Varnish's ConfigMap, Deployment, Service (for the app's PURGE and BAN),
// headless Service (HAProxy hashes URLs over its pods) and PodDisruptionBudget (with more
// than one replica).
func cacheObjects(in Inputs) ([]Object, error) {
	ws := in.WebStack
	vcl, err := required(render.FileVCL, in.Configs.VCL)
	if err != nil {
		return nil, missing("cache", err)
	}
	args := in.Configs.VarnishArgs
	if len(args) == 0 {
		return nil, missing("cache", fmt.Errorf("the rendered config has no %s: pass render.Render's result for this spec", render.FileVarnishArgs))
	}
	if in.AgentImage != "" && !slices.Contains(args, "-T") {
		return nil, missing("cache", fmt.Errorf("the agent needs varnishd's admin CLI: render with render.Options.VarnishAdmin (stack.Build does with an agent image)"))
	}
	// The hash of the arguments as `render --configs` writes them, one per line: they are
	// startup-only. The agent loads a new VCL into the running varnishd; without it, the
	// VCL rolls the pods too.
	argsFile := strings.Join(args, "\n") + "\n"
	hash := ConfigHash(render.FileVarnishArgs, argsFile)
	if in.AgentImage == "" {
		hash = ConfigHash(render.FileVCL, vcl, render.FileVarnishArgs, argsFile)
	}
	objs := []Object{
		VarnishConfigMap(ws, vcl),
		VarnishDeployment(ws, in.Tuning, args, hash, in.AgentImage),
		VarnishHeadlessService(ws),
	}
	if ws.Spec.Cache.Replicas > 1 {
		objs = append(objs, PodDisruptionBudget(ws, CacheName(ws), ComponentCache))
	}
	return objs, nil
}

// VarnishConfigMap holds default.vcl.
func VarnishConfigMap(ws *v1alpha1.WebStack, vcl string) *corev1.ConfigMap {
	return configMap(ws, CacheConfigName(ws), ComponentCache, map[string]string{render.FileVCL: vcl})
}

// VarnishDeployment runs `varnishd <args>` (args from VarnishArgs, which hold -F for the
// foreground and -f for the VCL mounted from the ConfigMap) on cache.replicas pods spread
// over nodes. Probes ask Varnish's own health path, answered without the app. cfgHash is
// ConfigHash of the startup-only varnishd.args (of default.vcl too without an agent).
//
// With agentImage, an init container writes a random secret for the admin CLI (-T on
// loopback, -S on an emptyDir) and the agent beside varnishd loads every new default.vcl
// with vcl.inline and vcl.use: the cache survives.
func VarnishDeployment(ws *v1alpha1.WebStack, t tuning.Result, args []string, cfgHash, agentImage string) *appsv1.Deployment {
	c := &ws.Spec.Cache
	container := corev1.Container{
		Name:           "varnish",
		Image:          c.Image,
		Command:        []string{"varnishd"},
		Args:           args,
		Ports:          []corev1.ContainerPort{tcpPort(portHTTP, render.VarnishPort)},
		Resources:      *t.Cache.Resources.DeepCopy(),
		ReadinessProbe: httpProbe(render.VarnishHealthPath, portHTTP, timing{period: 5, timeout: 2, failures: 2}),
		LivenessProbe:  httpProbe(render.VarnishHealthPath, portHTTP, timing{period: 10, timeout: 5, failures: 3}),
		VolumeMounts: []corev1.VolumeMount{
			readOnlyMount("config", path.Dir(render.VarnishVCLPath)),
			mount("workdir", varnishWorkDir),
			mount(tmpVolume, tmpPath),
		},
	}
	volumes := []corev1.Volume{
		configMapVolume("config", CacheConfigName(ws)),
		emptyDir("workdir"),
		emptyDir(tmpVolume),
	}
	containers := []corev1.Container{container}
	var initContainers []corev1.Container
	if agentImage != "" {
		admin := mount(varnishAdminVolume, path.Dir(render.VarnishSecretPath))
		containers[0].VolumeMounts = append(containers[0].VolumeMounts, readOnlyMount(varnishAdminVolume, path.Dir(render.VarnishSecretPath)))
		volumes = append(volumes, emptyDir(varnishAdminVolume), emptyDir(agentVolume))
		containers = append(containers, agentContainer(agentImage, "varnish", render.VarnishVCLPath, t,
			[]corev1.VolumeMount{readOnlyMount("config", path.Dir(render.VarnishVCLPath)), admin}, nil,
			"--admin", render.VarnishAdminAddress, "--secret", render.VarnishSecretPath))
		secret := corev1.Container{
			Name:            "admin-secret",
			Image:           agentImage,
			Args:            []string{"agent", "secret", render.VarnishSecretPath},
			Resources:       *t.Agent.Resources.DeepCopy(),
			VolumeMounts:    []corev1.VolumeMount{admin},
			SecurityContext: RestrictedContainerSecurityContext(VarnishUID),
		}
		initContainers = append(initContainers, secret)
	}
	spec := podSpec(VarnishUID, VarnishUID, varnishGraceSeconds, volumes, containers...)
	spec.InitContainers = initContainers
	spec.TopologySpreadConstraints = spreadOverNodes(ws, ComponentCache)
	template := podTemplate(ws, ComponentCache, hashAnnotations(v1alpha1.ConfigHashAnnotation, cfgHash), spec)
	return deployment(ws, CacheName(ws), ComponentCache, ptr(c.Replicas), surgeFirst(), template)
}

// VarnishHeadlessService publishes the ready Varnish pods' addresses for HAProxy's
// server-template, which hashes each URL to one of them, and for the app's PURGE, which must
// reach every replica (VARNISH_URL). The cache has no ClusterIP Service: a PURGE through one
// would reach a single replica.
func VarnishHeadlessService(ws *v1alpha1.WebStack) *corev1.Service {
	return service(ws, CacheHeadlessName(ws), ComponentCache, true, servicePort(portHTTP, render.VarnishPort, portHTTP))
}
