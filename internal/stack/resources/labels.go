package resources

import (
	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// Recommended labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/).
const (
	NameLabel      = "app.kubernetes.io/name"
	InstanceLabel  = "app.kubernetes.io/instance"
	ComponentLabel = "app.kubernetes.io/component"
	PartOfLabel    = "app.kubernetes.io/part-of"
	ManagedByLabel = "app.kubernetes.io/managed-by"
)

// Values of the fixed labels.
const (
	// NameValue is app.kubernetes.io/name and app.kubernetes.io/part-of of every object.
	NameValue = "webstack"
	// ManagedByValue is app.kubernetes.io/managed-by of every object the operator creates;
	// the manager's cache holds only objects with it.
	ManagedByValue = "webstack-operator"
)

// Labels are the labels of every object of component: name webstack, instance <ws>,
// component, part-of webstack, managed-by webstack-operator.
func Labels(ws *v1alpha1.WebStack, component string) map[string]string {
	l := SelectorLabels(ws, component)
	l[PartOfLabel] = NameValue
	l[ManagedByLabel] = ManagedByValue
	return l
}

// SelectorLabels are the immutable subset that selects component's pods: name, instance
// and component. Selectors of Deployments and StatefulSets cannot change, so this set never
// grows.
func SelectorLabels(ws *v1alpha1.WebStack, component string) map[string]string {
	l := InstanceLabels(ws)
	l[ComponentLabel] = component
	return l
}

// InstanceLabels select every object and pod of one WebStack (name and instance), for
// listing its children and for the default-deny NetworkPolicy.
func InstanceLabels(ws *v1alpha1.WebStack) map[string]string {
	return map[string]string{NameLabel: NameValue, InstanceLabel: ws.Name}
}
