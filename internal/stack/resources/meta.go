package resources

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// Group versions of the children, for their TypeMeta.
var (
	coreV1        = corev1.SchemeGroupVersion
	appsV1        = appsv1.SchemeGroupVersion
	batchV1       = batchv1.SchemeGroupVersion
	autoscalingV2 = autoscalingv2.SchemeGroupVersion
	networkingV1  = networkingv1.SchemeGroupVersion
	policyV1      = policyv1.SchemeGroupVersion
)

func typeMeta(gv schema.GroupVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: gv.String(), Kind: kind}
}

// ownerRef is the controller reference to ws that makes garbage collection delete a child
// with its WebStack.
func ownerRef(ws *v1alpha1.WebStack) metav1.OwnerReference {
	return *metav1.NewControllerRef(ws, v1alpha1.GroupVersion.WithKind("WebStack"))
}

// objectMeta is the metadata of an owned child of component.
func objectMeta(ws *v1alpha1.WebStack, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       ws.Namespace,
		Labels:          Labels(ws, component),
		OwnerReferences: []metav1.OwnerReference{ownerRef(ws)},
	}
}

// configMap is an owned ConfigMap of component.
func configMap(ws *v1alpha1.WebStack, name, component string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   typeMeta(coreV1, "ConfigMap"),
		ObjectMeta: objectMeta(ws, name, component),
		Data:       data,
	}
}

// missing wraps a missing rendered file with the component that needs it.
func missing(component string, err error) error {
	return fmt.Errorf("building the %s: %w", component, err)
}
