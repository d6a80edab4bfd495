package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/webstack-dev/webstack-operator/internal/stack"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// CacheOptions keep the manager's memory independent of unrelated objects in the cluster:
// managedFields are stripped from everything cached, and every kind the operator creates is
// cached only for objects carrying its managed-by label (WebStacks are cached whole). The
// strings cached children repeat are shared (internStrings).
func CacheOptions() cache.Options {
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
	return cache.Options{
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

// Options are the reconciler's settings from the manager's flags.
type Options struct {
	// SkipUnchanged skips applies of children that already match (see WebStackReconciler).
	SkipUnchanged bool
	// ClusterDomain is the cluster's DNS domain; empty means cluster.local.
	ClusterDomain string
}

// Setup registers the WebStack reconciler with the manager.
func Setup(mgr ctrl.Manager, o Options) error {
	if o.ClusterDomain == "" {
		o.ClusterDomain = stack.DefaultClusterDomain
	}
	r := &WebStackReconciler{
		Client:        mgr.GetClient(),
		APIReader:     mgr.GetAPIReader(),
		Scheme:        mgr.GetScheme(),
		Recorder:      mgr.GetEventRecorder("webstack-operator"),
		SkipUnchanged: o.SkipUnchanged,
		ClusterDomain: o.ClusterDomain,
	}
	return r.SetupWithManager(mgr)
}
