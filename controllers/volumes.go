package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// expandVolumes grows the claims of the StatefulSets when the spec asks for more storage.
// It never shrinks one (the API refuses smaller sizes anyway).
func (r *WebStackReconciler) expandVolumes(ctx context.Context, s *scope) error {
	for _, want := range resources.Claims(s.ws) {
		var pvc corev1.PersistentVolumeClaim
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.ws.Namespace, Name: want.Name}, &pvc); err != nil {
			if client.IgnoreNotFound(err) == nil {
				continue
			}
			return fmt.Errorf("reading claim %s: %w", want.Name, err)
		}
		have := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		// Only a bound claim can grow; an unbound one is retried when it binds (claims are watched).
		if pvc.Status.Phase != corev1.ClaimBound || want.Size.Cmp(have) <= 0 {
			continue
		}
		patch := client.MergeFrom(pvc.DeepCopy())
		if pvc.Spec.Resources.Requests == nil {
			pvc.Spec.Resources.Requests = corev1.ResourceList{}
		}
		pvc.Spec.Resources.Requests[corev1.ResourceStorage] = want.Size
		if err := r.Client.Patch(ctx, &pvc, patch); err != nil {
			return fmt.Errorf("expanding claim %s to %s: %w", want.Name, want.Size.String(), err)
		}
		ctrl.LoggerFrom(ctx).Info("Asked a volume claim to grow", "claim", want.Name, "from", have.String(), "to", want.Size.String())
		s.event(corev1.EventTypeNormal, "VolumeExpanding", "Expand", "asked claim %s to grow from %s to %s", want.Name, have.String(), want.Size.String())
	}
	return nil
}

// keepClaimTemplates copies the volume claim templates of a live StatefulSet into the desired
// one: they are immutable, and storage growth is applied to the claims (expandVolumes).
func (r *WebStackReconciler) keepClaimTemplates(ctx context.Context, sts *appsv1.StatefulSet) error {
	var live appsv1.StatefulSet
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(sts), &live)
	if err != nil {
		return client.IgnoreNotFound(err)
	}
	if len(live.Spec.VolumeClaimTemplates) != len(sts.Spec.VolumeClaimTemplates) {
		return nil
	}
	for i := range sts.Spec.VolumeClaimTemplates {
		want := &sts.Spec.VolumeClaimTemplates[i]
		have := live.Spec.VolumeClaimTemplates[i]
		want.Spec = have.Spec
		want.Labels = have.Labels
	}
	return nil
}
