package resources

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// tmpVolume is the writable /tmp of every container that needs one.
const (
	tmpVolume = "tmp"
	tmpPath   = "/tmp"
)

// podTemplate is the pod template of component: its full labels, the annotations (config
// hashes; nil for none) and spec.
func podTemplate(ws *v1alpha1.WebStack, component string, annotations map[string]string, spec corev1.PodSpec) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: Labels(ws, component), Annotations: maps.Clone(annotations)},
		Spec:       spec,
	}
}

// podSpec is a restricted pod running containers as uid with fsGroup: no service account
// token (no container talks to the API server), no service links (the environment holds
// only what the operator and the user put there), and the grace period in seconds.
func podSpec(uid, fsGroup, grace int64, volumes []corev1.Volume, containers ...corev1.Container) corev1.PodSpec {
	for i := range containers {
		containers[i].SecurityContext = RestrictedContainerSecurityContext(uid)
	}
	return corev1.PodSpec{
		AutomountServiceAccountToken:  ptr(false),
		EnableServiceLinks:            ptr(false),
		SecurityContext:               RestrictedPodSecurityContext(uid, fsGroup),
		TerminationGracePeriodSeconds: ptr(grace),
		Containers:                    containers,
		Volumes:                       volumes,
	}
}

// appPodSpec is podSpec for a container of the app image (AppUser) with a writable /tmp.
func appPodSpec(ws *v1alpha1.WebStack, grace int64, container corev1.Container) corev1.PodSpec {
	uid, gid := AppUser(ws)
	return podSpec(uid, gid, grace, []corev1.Volume{emptyDir(tmpVolume)}, container)
}

// emptyDir is a scratch volume on the node's disk, deleted with the pod.
func emptyDir(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
}

// configMapVolume mounts ConfigMap cm; items, when given, select and rename keys.
func configMapVolume(name, cm string, items ...corev1.KeyToPath) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: cm},
		Items:                items,
	}}}
}

func mount(volume, path string) corev1.VolumeMount {
	return corev1.VolumeMount{Name: volume, MountPath: path}
}

func readOnlyMount(volume, path string) corev1.VolumeMount {
	return corev1.VolumeMount{Name: volume, MountPath: path, ReadOnly: true}
}

// tcpPort is a named container port.
func tcpPort(name string, port int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}
}

// probe timings.
type timing struct{ period, timeout, failures int32 }

// httpProbe GETs path on the named container port.
func httpProbe(path, port string, t timing) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString(port), Scheme: corev1.URISchemeHTTP}},
		PeriodSeconds:    t.period,
		TimeoutSeconds:   t.timeout,
		FailureThreshold: t.failures,
		SuccessThreshold: 1,
	}
}

// execProbe runs command in the container.
func execProbe(command []string, t timing) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: command}},
		PeriodSeconds:    t.period,
		TimeoutSeconds:   t.timeout,
		FailureThreshold: t.failures,
		SuccessThreshold: 1,
	}
}

// tcpProbe connects to the named container port.
func tcpProbe(port string, t timing) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(port)}},
		PeriodSeconds:    t.period,
		TimeoutSeconds:   t.timeout,
		FailureThreshold: t.failures,
		SuccessThreshold: 1,
	}
}

// spreadOverNodes spreads component's pods of one rollout over nodes as evenly as the
// scheduler can, without ever leaving a pod pending for it (ScheduleAnyway): losing one
// node then takes few of them.
func spreadOverNodes(ws *v1alpha1.WebStack, component string) []corev1.TopologySpreadConstraint {
	return []corev1.TopologySpreadConstraint{{
		MaxSkew:           1,
		TopologyKey:       corev1.LabelHostname,
		WhenUnsatisfiable: corev1.ScheduleAnyway,
		LabelSelector:     &metav1.LabelSelector{MatchLabels: SelectorLabels(ws, component)},
		// Only the pods of the same ReplicaSet: old pods of a rollout do not skew new ones.
		MatchLabelKeys: []string{"pod-template-hash"},
	}}
}

// secretEnv is an environment variable from key of Secret secret.
func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret},
		Key:                  key,
	}}}
}
