package resources

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// The in-pod agent (`webstack-operator agent KIND`) beside Varnish, HAProxy, the cache Redis
// and PostgreSQL: it watches the mounted config and applies each change through the daemon's own
// interface, so that only startup-only inputs are hashed onto the pod template.
const (
	// AgentContainerName is the agent's container in each of those pods.
	AgentContainerName = "agent"
	// AgentPort serves the agent's GET /status (what it applied, what the daemon refused)
	// and GET /healthz (its liveness). It has no readiness probe: a refused config leaves
	// the daemon serving its last good one, so the pod stays in service.
	AgentPort = 9901
	// AgentStatusFile is where the agent also writes that status, on its own emptyDir.
	AgentStatusFile = agentStatusDir + "/status.json"

	portAgent      = "agent"
	agentVolume    = "agent"
	agentStatusDir = "/var/run/webstack-agent"
)

// agentContainer runs `agent kind --config config args...` from image (the operator's own
// image, whose entrypoint is the operator binary) with the mounts it shares with the daemon,
// env, and the fixed resources from tuning. The security context is set by podSpec.
func agentContainer(image, kind, config string, t tuning.Result, mounts []corev1.VolumeMount, env []corev1.EnvVar, args ...string) corev1.Container {
	return corev1.Container{
		Name:  AgentContainerName,
		Image: image,
		Args: append([]string{"agent", kind, "--config", config, "--status-file", AgentStatusFile,
			"--listen", ":" + strconv.Itoa(AgentPort)}, args...),
		Env:           env,
		Ports:         []corev1.ContainerPort{tcpPort(portAgent, AgentPort)},
		Resources:     *t.Agent.Resources.DeepCopy(),
		LivenessProbe: httpProbe("/healthz", portAgent, timing{period: 10, timeout: 5, failures: 3}),
		VolumeMounts:  append(mounts, mount(agentVolume, agentStatusDir)),
	}
}

// hashAnnotations are the pod template's annotations of name, hash pairs, leaving out the
// empty hashes; nil for none.
func hashAnnotations(pairs ...string) map[string]string {
	var a map[string]string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			continue
		}
		if a == nil {
			a = map[string]string{}
		}
		a[pairs[i]] = pairs[i+1]
	}
	return a
}
