package resources

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// deployment is an owned Deployment of component named name. replicas nil leaves the count
// to a HorizontalPodAutoscaler.
func deployment(ws *v1alpha1.WebStack, name, component string, replicas *int32, strategy appsv1.DeploymentStrategy, template corev1.PodTemplateSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   typeMeta(appsV1, "Deployment"),
		ObjectMeta: objectMeta(ws, name, component),
		Spec: appsv1.DeploymentSpec{
			Replicas: replicas,
			Selector: &metav1.LabelSelector{MatchLabels: SelectorLabels(ws, component)},
			Strategy: strategy,
			Template: template,
		},
	}
}

// surgeFirst rolls a serving component without ever going below its replica count: a new
// pod (a quarter of the replicas at a time, at least one) must be ready before an old one
// stops.
func surgeFirst() appsv1.DeploymentStrategy {
	return appsv1.DeploymentStrategy{
		Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxUnavailable: ptr(intstr.FromInt32(0)),
			MaxSurge:       ptr(intstr.FromString("25%")),
		},
	}
}

// recreate stops the old pod before the new one starts: for singletons that must never run
// twice (celery beat would schedule every periodic task twice).
func recreate() appsv1.DeploymentStrategy {
	return appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
}

// statefulSet is an owned single-replica StatefulSet of component with one volume claim
// template, "data", of storage, which outlives the StatefulSet.
func statefulSet(ws *v1alpha1.WebStack, name, component, serviceName string, storage v1alpha1.StorageSpec, template corev1.PodTemplateSpec) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		TypeMeta:   typeMeta(appsV1, "StatefulSet"),
		ObjectMeta: objectMeta(ws, name, component),
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr(int32(1)),
			ServiceName: serviceName,
			Selector:    &metav1.LabelSelector{MatchLabels: SelectorLabels(ws, component)},
			Template:    template,
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{
				volumeClaimTemplate(ws, component, storage),
			},
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				// Never deleted with the StatefulSet (a disabled component, a persistence change):
				// only a WebStack deleted with deletionPolicy Delete removes claims, through
				// the operator's finalizer.
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
		},
	}
}

// service is an owned Service of component selecting its pods. headless makes it a
// headless Service (clusterIP None) that publishes only ready pods.
func service(ws *v1alpha1.WebStack, name, component string, headless bool, ports ...corev1.ServicePort) *corev1.Service {
	s := &corev1.Service{
		TypeMeta:   typeMeta(coreV1, "Service"),
		ObjectMeta: objectMeta(ws, name, component),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: SelectorLabels(ws, component),
			Ports:    ports,
		},
	}
	if headless {
		s.Spec.ClusterIP = corev1.ClusterIPNone
		s.Spec.PublishNotReadyAddresses = false
	}
	return s
}

// servicePort is a TCP Service port to the named container port.
func servicePort(name string, port int32, targetPort string) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, TargetPort: intstr.FromString(targetPort), Protocol: corev1.ProtocolTCP}
}
