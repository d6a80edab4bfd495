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

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// managedKind is a kind the reconciler owns and prunes: an empty object and list of it.
type managedKind struct {
	obj  client.Object
	list func() client.ObjectList
}

func managedKinds() []managedKind {
	return []managedKind{
		{&appsv1.Deployment{}, func() client.ObjectList { return &appsv1.DeploymentList{} }},
		{&appsv1.StatefulSet{}, func() client.ObjectList { return &appsv1.StatefulSetList{} }},
		{&corev1.Service{}, func() client.ObjectList { return &corev1.ServiceList{} }},
		{&corev1.ConfigMap{}, func() client.ObjectList { return &corev1.ConfigMapList{} }},
		{&corev1.Secret{}, func() client.ObjectList { return &corev1.SecretList{} }},
		{&policyv1.PodDisruptionBudget{}, func() client.ObjectList { return &policyv1.PodDisruptionBudgetList{} }},
		{&networkingv1.NetworkPolicy{}, func() client.ObjectList { return &networkingv1.NetworkPolicyList{} }},
		{&autoscalingv2.HorizontalPodAutoscaler{}, func() client.ObjectList { return &autoscalingv2.HorizontalPodAutoscalerList{} }},
	}
}

// ownerIndex indexes the cached children of every managed kind by the UID of the WebStack
// that controls them, so that prune lists a WebStack's children without scanning every
// object of its namespace.
const ownerIndex = "webstack.dev/controller-uid"

// indexByOwner registers ownerIndex for every kind prune lists.
func indexByOwner(ctx context.Context, indexer client.FieldIndexer) error {
	for _, k := range managedKinds() {
		if err := indexer.IndexField(ctx, k.obj, ownerIndex, controllerUID); err != nil {
			return fmt.Errorf("indexing %T by owner: %w", k.obj, err)
		}
	}
	return nil
}

// controllerUID is the UID of the WebStack that controls obj, if one does.
func controllerUID(obj client.Object) []string {
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.Kind != "WebStack" || ref.APIVersion != v1alpha1.GroupVersion.String() {
		return nil
	}
	return []string{string(ref.UID)}
}

// pruneChildren deletes children this WebStack owns that are no longer desired (a disabled
// component). Only objects with our controller reference are candidates: credential Secrets
// and volume claims are never owned, so they are never pruned.
func (r *WebStackReconciler) pruneChildren(ctx context.Context, s *scope) error {
	keep := map[string]bool{}
	for _, o := range s.plan.Objects {
		keep[o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName()] = true
	}
	for _, k := range managedKinds() {
		list := k.list()
		// Without deep copies: the items are only read, and deleted by name.
		if err := r.Client.List(ctx, list, client.InNamespace(s.ws.Namespace), client.MatchingFields{ownerIndex: string(s.ws.UID)}, client.UnsafeDisableDeepCopy); err != nil {
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
			r.applier.ForgetChild(obj)
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
