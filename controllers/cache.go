package controllers

import (
	"unique"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// CacheOptions keep the manager's memory independent of unrelated objects in the cluster:
// managedFields are stripped from everything cached, and every kind the operator creates is
// cached only for objects carrying its managed-by label (WebStacks are cached whole). The
// strings cached children repeat are shared (internStrings). With namespaces, the cache (and
// so the operator) sees only those namespaces, which namespaced Roles can then grant.
func CacheOptions(namespaces ...string) cache.Options {
	ours := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{resources.ManagedByLabel: resources.ManagedByValue})}
	byObject := map[client.Object]cache.ByObject{}
	for _, o := range []client.Object{
		&appsv1.Deployment{}, &appsv1.StatefulSet{}, &corev1.Service{}, &corev1.ConfigMap{},
		&corev1.Secret{}, &corev1.PersistentVolumeClaim{}, &batchv1.Job{},
		&policyv1.PodDisruptionBudget{}, &networkingv1.NetworkPolicy{}, &autoscalingv2.HorizontalPodAutoscaler{},
	} {
		byObject[o] = ours
	}
	strip := cache.TransformStripManagedFields()
	var only map[string]cache.Config
	if len(namespaces) > 0 {
		only = make(map[string]cache.Config, len(namespaces))
		for _, ns := range namespaces {
			only[ns] = cache.Config{}
		}
	}
	return cache.Options{
		DefaultNamespaces: only,
		DefaultTransform: func(obj any) (any, error) {
			obj, err := strip(obj)
			if err != nil {
				return nil, err
			}
			return internStrings(obj)
		},
		ByObject: byObject,
	}
}

// internStrings is a cache transform: the strings every cached child repeats (label and
// annotation keys and values, owner references, selectors, the namespace) are made to
// share one copy each. Decoding gives every object its own copies, about a kilobyte per
// child, which at 1000 WebStacks is tens of MiB of heap kept alive by the cache, and so
// more garbage collection under the soft memory limit. Values are unchanged.
func internStrings(obj any) (any, error) {
	o, ok := obj.(metav1.Object)
	if !ok {
		return obj, nil
	}
	internMeta(o)
	switch x := obj.(type) {
	case *appsv1.Deployment:
		internSelector(x.Spec.Selector)
		internMeta(&x.Spec.Template)
	case *appsv1.StatefulSet:
		internSelector(x.Spec.Selector)
		internMeta(&x.Spec.Template)
		for i := range x.Spec.VolumeClaimTemplates {
			internMeta(&x.Spec.VolumeClaimTemplates[i])
		}
	case *batchv1.Job:
		internSelector(x.Spec.Selector)
		internMeta(&x.Spec.Template)
	case *corev1.Service:
		x.Spec.Selector = internMap(x.Spec.Selector)
	case *policyv1.PodDisruptionBudget:
		internSelector(x.Spec.Selector)
	case *networkingv1.NetworkPolicy:
		internSelector(&x.Spec.PodSelector)
		for i := range x.Spec.Ingress {
			internPeers(x.Spec.Ingress[i].From)
		}
		for i := range x.Spec.Egress {
			internPeers(x.Spec.Egress[i].To)
		}
	}
	return obj, nil
}

func internMeta(o metav1.Object) {
	o.SetNamespace(intern(o.GetNamespace()))
	if l := o.GetLabels(); l != nil {
		o.SetLabels(internMap(l))
	}
	if a := o.GetAnnotations(); a != nil {
		o.SetAnnotations(internMap(a))
	}
	refs := o.GetOwnerReferences()
	for i := range refs {
		refs[i].APIVersion, refs[i].Kind, refs[i].Name = intern(refs[i].APIVersion), intern(refs[i].Kind), intern(refs[i].Name)
	}
}

func internSelector(s *metav1.LabelSelector) {
	if s != nil {
		s.MatchLabels = internMap(s.MatchLabels)
	}
}

func internPeers(peers []networkingv1.NetworkPolicyPeer) {
	for i := range peers {
		internSelector(peers[i].PodSelector)
		internSelector(peers[i].NamespaceSelector)
	}
}

// internMap returns a copy of m with interned keys and values (assigning to an existing
// key keeps the map's old key, so a new map is needed).
func internMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[intern(k)] = intern(v)
	}
	return out
}

func intern(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}
