package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// replaceOnAddressChange deletes a live Service whose kind of address differs from the
// desired one (a ClusterIP Service that is now headless, or the other way round): a Service's
// clusterIP cannot change, so the apply that follows creates it anew. Clients connected
// through the old virtual IP keep their connections until they reconnect; new ones resolve
// the new Service.
func (r *WebStackReconciler) replaceOnAddressChange(ctx context.Context, s *scope, want *corev1.Service) error {
	var live corev1.Service
	switch err := r.Client.Get(ctx, client.ObjectKeyFromObject(want), &live); {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading service %s: %w", want.Name, err)
	}
	headless := func(svc *corev1.Service) bool { return svc.Spec.ClusterIP == corev1.ClusterIPNone }
	if live.Spec.ClusterIP == "" || headless(&live) == headless(want) {
		return nil
	}
	uid := live.UID
	if err := r.Client.Delete(ctx, &live, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting service %s to replace it: %w", want.Name, err)
	}
	r.applier.ForgetChild(&live)
	s.changes.replaced = append(s.changes.replaced, "Service "+want.Name)
	return nil
}
