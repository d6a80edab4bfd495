package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// syncFinalizer adds the finalizer when the policy is Delete and removes it when it is Retain.
func (r *WebStackReconciler) syncFinalizer(ctx context.Context, ws *v1alpha1.WebStack) error {
	want := ws.Spec.Database.DeletionPolicy == v1alpha1.DeletionDelete
	if want == controllerutil.ContainsFinalizer(ws, v1alpha1.DataFinalizer) {
		return nil
	}
	patch := client.MergeFromWithOptions(ws.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if want {
		controllerutil.AddFinalizer(ws, v1alpha1.DataFinalizer)
	} else {
		controllerutil.RemoveFinalizer(ws, v1alpha1.DataFinalizer)
	}
	if err := r.Client.Patch(ctx, ws, patch); err != nil {
		return fmt.Errorf("updating the finalizer for deletionPolicy %s: %w", ws.Spec.Database.DeletionPolicy, err)
	}
	return nil
}

// finalize deletes the data of a WebStack whose deletionPolicy is Delete when the data would
// go, then lets it go. The policy is read again past the cache: a switch to Retain made
// before or during the deletion (or while the operator was down) keeps the data, whatever
// the policy was when the finalizer was added.
func (r *WebStackReconciler) finalize(ctx context.Context, ws *v1alpha1.WebStack) error {
	if !controllerutil.ContainsFinalizer(ws, v1alpha1.DataFinalizer) {
		return nil
	}
	if r.APIReader != nil {
		fresh := &v1alpha1.WebStack{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(ws), fresh); err != nil {
			return client.IgnoreNotFound(err)
		}
		ws = fresh
	}
	if ws.Spec.Database.DeletionPolicy != v1alpha1.DeletionDelete {
		if r.Recorder != nil {
			r.Recorder.Eventf(ws, nil, corev1.EventTypeNormal, "DataKept", "Delete",
				"deletionPolicy is %s now: the volume claims and credential Secrets stay", ws.Spec.Database.DeletionPolicy)
		}
		return r.letGo(ctx, ws)
	}
	var claims corev1.PersistentVolumeClaimList
	if err := r.Client.List(ctx, &claims, client.InNamespace(ws.Namespace), client.MatchingLabels(resources.InstanceLabels(ws))); err != nil {
		return fmt.Errorf("listing volume claims: %w", err)
	}
	for i := range claims.Items {
		if err := r.Client.Delete(ctx, &claims.Items[i]); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting volume claim %s: %w", claims.Items[i].Name, err)
		}
	}
	for _, name := range []string{resources.DatabaseCredentialsName(ws), resources.RedisCredentialsName(ws), resources.BrokerCredentialsName(ws)} {
		sec := &corev1.Secret{}
		sec.Namespace, sec.Name = ws.Namespace, name
		if err := r.Client.Delete(ctx, sec); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting secret %s: %w", name, err)
		}
	}
	ctrl.LoggerFrom(ctx).Info("Deleted the stack's data (deletionPolicy Delete)", "claims", len(claims.Items))
	if r.Recorder != nil {
		r.Recorder.Eventf(ws, nil, corev1.EventTypeNormal, "DataDeleted", "Delete", "deletionPolicy Delete: deleted %d volume claims and the credential Secrets", len(claims.Items))
	}
	return r.letGo(ctx, ws)
}

// letGo removes the data finalizer, so that the WebStack goes.
func (r *WebStackReconciler) letGo(ctx context.Context, ws *v1alpha1.WebStack) error {
	patch := client.MergeFromWithOptions(ws.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(ws, v1alpha1.DataFinalizer)
	// NotFound: an earlier reconcile (this one read a stale cache) already let it go.
	if err := r.Client.Patch(ctx, ws, patch); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing the finalizer: %w", err)
	}
	return nil
}
