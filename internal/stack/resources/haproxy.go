package resources

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// Where the official haproxy image reads its configuration.
const (
	haproxyConfigDir  = "/usr/local/etc/haproxy"
	haproxyConfigPath = haproxyConfigDir + "/" + render.FileHAProxy
	// haproxyRunDir is a writable run directory (sockets, if a stats socket is added).
	haproxyRunDir = "/var/run/haproxy"
	// haproxyMasterSocket is the master CLI, which the agent reloads HAProxy through.
	haproxyMasterSocket = haproxyRunDir + "/master.sock"
)

// Named container ports of HAProxy.
const (
	portHTTP  = "http"
	portApp   = "app"
	portStats = "stats"
)

// loadBalancerObjects are HAProxy's ConfigMap, Deployment, public Service, the app
// listener's Service (with the cache) and PodDisruptionBudget (with more than one replica).
func loadBalancerObjects(in Inputs) ([]Object, error) {
	ws := in.WebStack
	cfg, err := required(render.FileHAProxy, in.Configs.HAProxy)
	if err != nil {
		return nil, missing("load balancer", err)
	}
	// The agent reloads HAProxy hitlessly on any change of haproxy.cfg: nothing in it is
	// startup-only. Without the agent, every change rolls the pods.
	hash := ""
	if in.AgentImage == "" {
		hash = ConfigHash(render.FileHAProxy, cfg)
	}
	objs := []Object{
		HAProxyConfigMap(ws, cfg),
		HAProxyDeployment(ws, in.Tuning, hash, in.AgentImage),
		HAProxyService(ws),
	}
	if ws.Spec.Cache.IsEnabled() {
		objs = append(objs, HAProxyAppListenerService(ws))
	}
	if ws.Spec.LoadBalancer.Replicas > 1 {
		objs = append(objs, PodDisruptionBudget(ws, LoadBalancerName(ws), ComponentLoadBalancer))
	}
	return objs, nil
}

// HAProxyConfigMap holds haproxy.cfg.
func HAProxyConfigMap(ws *v1alpha1.WebStack, haproxyCfg string) *corev1.ConfigMap {
	return configMap(ws, LoadBalancerConfigName(ws), ComponentLoadBalancer, map[string]string{render.FileHAProxy: haproxyCfg})
}

// HAProxyDeployment runs `haproxy -W -db -S master.sock -f haproxy.cfg` (master-worker, in
// the foreground, with the master CLI on the run directory) on loadBalancer.replicas pods
// spread over nodes. With agentImage, the agent beside it reloads HAProxy through the master
// CLI when haproxy.cfg changes: new workers take over the listening sockets, the old ones
// finish their requests. cfgHash (empty for none) is ConfigHash of haproxy.cfg without an
// agent. Probes ask the stats listener's health
// path. The grace period is the app's (timeouts.server + timeouts.queue + 5s): the image
// stops HAProxy with SIGUSR1, a soft stop that lets every request in flight finish.
func HAProxyDeployment(ws *v1alpha1.WebStack, t tuning.Result, cfgHash, agentImage string) *appsv1.Deployment {
	lb := &ws.Spec.LoadBalancer
	container := corev1.Container{
		Name:    "haproxy",
		Image:   lb.Image,
		Command: []string{"haproxy", "-W", "-db", "-S", haproxyMasterSocket, "-f", haproxyConfigPath},
		Ports: []corev1.ContainerPort{
			tcpPort(portHTTP, render.HAProxyFrontendPort),
			tcpPort(portApp, render.HAProxyAppListenerPort),
			tcpPort(portStats, render.HAProxyStatsPort),
		},
		Resources:      *t.LoadBalancer.Resources.DeepCopy(),
		ReadinessProbe: httpProbe(render.HAProxyHealthPath, portStats, timing{period: 5, timeout: 2, failures: 2}),
		LivenessProbe:  httpProbe(render.HAProxyHealthPath, portStats, timing{period: 10, timeout: 5, failures: 3}),
		VolumeMounts: []corev1.VolumeMount{
			readOnlyMount("config", haproxyConfigDir),
			mount("run", haproxyRunDir),
			mount(tmpVolume, tmpPath),
		},
	}
	volumes := []corev1.Volume{
		configMapVolume("config", LoadBalancerConfigName(ws)),
		emptyDir("run"),
		emptyDir(tmpVolume),
	}
	containers := []corev1.Container{container}
	if agentImage != "" {
		volumes = append(volumes, emptyDir(agentVolume))
		containers = append(containers, agentContainer(agentImage, "haproxy", haproxyConfigPath, t,
			[]corev1.VolumeMount{readOnlyMount("config", haproxyConfigDir), mount("run", haproxyRunDir)}, nil,
			"--master-socket", haproxyMasterSocket))
	}
	spec := podSpec(HAProxyUID, HAProxyUID, t.App.TerminationGracePeriodSeconds, volumes, containers...)
	spec.TopologySpreadConstraints = spreadOverNodes(ws, ComponentLoadBalancer)
	template := podTemplate(ws, ComponentLoadBalancer, hashAnnotations(v1alpha1.ConfigHashAnnotation, cfgHash), spec)
	return deployment(ws, LoadBalancerName(ws), ComponentLoadBalancer, ptr(lb.Replicas), surgeFirst(), template)
}

// HAProxyService is the stack's entry point: loadBalancer.service's type, port and
// annotations, to HAProxy's public frontend. A NodePort or LoadBalancer Service sends
// traffic only to HAProxy pods on the node it arrived at (externalTrafficPolicy Local; a
// LoadBalancer gets a health-check node port from the API server for it), so that HAProxy
// sees the client's address and the per-client limits limit clients, not nodes.
func HAProxyService(ws *v1alpha1.WebStack) *corev1.Service {
	s := &ws.Spec.LoadBalancer.Service
	svc := service(ws, LoadBalancerName(ws), ComponentLoadBalancer, false, servicePort(portHTTP, s.Port, portHTTP))
	if s.Type != "" {
		svc.Spec.Type = corev1.ServiceType(s.Type)
	}
	if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	if len(s.Annotations) > 0 {
		svc.Annotations = make(map[string]string, len(s.Annotations))
		for k, v := range s.Annotations {
			svc.Annotations[k] = v
		}
	}
	return svc
}

// HAProxyAppListenerService is the ClusterIP Service of HAProxy's app listener, where
// Varnish sends its misses (a stable address: Varnish resolves it once per VCL load).
func HAProxyAppListenerService(ws *v1alpha1.WebStack) *corev1.Service {
	return service(ws, LoadBalancerAppName(ws), ComponentLoadBalancer, false,
		servicePort(portApp, render.HAProxyAppListenerPort, portApp))
}
