package resources

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// PodDisruptionBudget lets a node drain evict at most one of component's pods at a time.
// Desired makes one only for Deployments of more than one replica (and the autoscaled app):
// for a single replica it would either block every drain or protect nothing.
func PodDisruptionBudget(ws *v1alpha1.WebStack, name, component string) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   typeMeta(policyV1, "PodDisruptionBudget"),
		ObjectMeta: objectMeta(ws, name, component),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: SelectorLabels(ws, component)},
		},
	}
}
