package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/webstack-dev/webstack-operator/controllers/resources"
)

// managedLists are the kinds the reconciler owns and prunes, as list types.
func managedLists() []client.ObjectList {
	return []client.ObjectList{
		&appsv1.DeploymentList{}, &appsv1.StatefulSetList{}, &corev1.ServiceList{},
		&corev1.ConfigMapList{}, &corev1.SecretList{}, &policyv1.PodDisruptionBudgetList{},
		&networkingv1.NetworkPolicyList{}, &autoscalingv2.HorizontalPodAutoscalerList{},
	}
}

// pruneChildren deletes children this WebStack owns that are no longer desired (a disabled
// component). Only objects with our controller reference are candidates: credential Secrets
// and volume claims are never owned, so they are never pruned.
func (r *WebStackReconciler) pruneChildren(ctx context.Context, s *scope) error {
	keep := map[string]bool{}
	for _, o := range s.desired {
		keep[o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName()] = true
	}
	for _, list := range managedLists() {
		if err := r.Client.List(ctx, list, client.InNamespace(s.ws.Namespace), client.MatchingLabels(resources.InstanceLabels(s.ws))); err != nil {
			return fmt.Errorf("listing children: %w", err)
		}
		items, err := metaItems(list)
		if err != nil {
			return err
		}
		for _, obj := range items {
			ref := metav1.GetControllerOf(obj)
			if ref == nil || ref.UID != s.ws.UID {
				continue
			}
			gvk, err := apiutil.GVKForObject(obj, r.Scheme)
			if err != nil {
				return err
			}
			if keep[gvk.Kind+"/"+obj.GetName()] {
				continue
			}
			if err := r.Client.Delete(ctx, obj, client.PropagationPolicy("Background")); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("pruning %s %s: %w", gvk.Kind, obj.GetName(), err)
			}
			s.changes.pruned = append(s.changes.pruned, gvk.Kind+" "+obj.GetName())
		}
	}
	return nil
}

// metaItems returns the items of a typed list as client.Objects.
func metaItems(list client.ObjectList) ([]client.Object, error) {
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, fmt.Errorf("reading list: %w", err)
	}
	out := make([]client.Object, 0, len(items))
	for _, it := range items {
		o, ok := it.(client.Object)
		if !ok {
			return nil, fmt.Errorf("list item %T is not an object", it)
		}
		out = append(out, o)
	}
	return out, nil
}
