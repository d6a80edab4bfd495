package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// replicasHandoffManager takes over spec.replicas of the app Deployment when the spec moves
// from app.replicas to app.autoscaling. Our apply then stops sending replicas; were we its
// only manager, server-side apply would remove the field and the API server would default
// it to 1, scaling the app down before the autoscaler acts. With a second manager holding the
// current value, the field stays until the autoscaler changes it.
const replicasHandoffManager = "webstack-operator-replicas-handoff"

// handOffReplicas runs at the moment of the switch: the spec asks for autoscaling (dep has no
// replicas), the Deployment exists with a count, and its autoscaler does not exist yet. It
// writes once; afterwards the autoscaler exists and this does nothing.
func (r *WebStackReconciler) handOffReplicas(ctx context.Context, dep *appsv1.Deployment) error {
	if dep.Spec.Replicas != nil || dep.GetLabels()[resources.ComponentLabel] != resources.ComponentApp {
		return nil
	}
	var hpa autoscalingv2.HorizontalPodAutoscaler
	switch err := r.Client.Get(ctx, client.ObjectKeyFromObject(dep), &hpa); {
	case err == nil:
		return nil
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading the app's autoscaler: %w", err)
	}
	var live appsv1.Deployment
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(dep), &live); err != nil || live.Spec.Replicas == nil {
		return client.IgnoreNotFound(err)
	}
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apps/v1")
	u.SetKind("Deployment")
	u.SetNamespace(dep.Namespace)
	u.SetName(dep.Name)
	if err := unstructured.SetNestedField(u.Object, int64(*live.Spec.Replicas), "spec", "replicas"); err != nil {
		return err
	}
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(replicasHandoffManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("handing the app's replicas to its autoscaler: %w", err)
	}
	return nil
}
