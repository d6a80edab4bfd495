package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// migrationGate is the migration gate's decision for one reconcile.
type migrationGate struct {
	// appImage is the image the app and task pods may run ("" with withoutApp).
	appImage string
	// withoutApp: a new stack whose first migration has not succeeded has no app yet.
	withoutApp bool
	// createJob: the plan's migration Job does not exist yet and must be created.
	createJob bool
}

// gateMigration decides which image the app and task pods run. Without app.migration it is
// always spec.app.image. With it, a new image first runs its migration Job; the pods move to
// the new image only when that Job has succeeded, and keep the old one when it failed.
func (r *WebStackReconciler) gateMigration(ctx context.Context, s *scope) error {
	ws := s.ws
	want := ws.Spec.App.Image
	s.gate = migrationGate{appImage: want}
	if ws.Spec.App.Migration == nil {
		return nil
	}
	var dep appsv1.Deployment
	current := ""
	switch err := r.Client.Get(ctx, client.ObjectKey{Namespace: ws.Namespace, Name: resources.AppName(ws)}, &dep); {
	case err == nil:
		current = resources.AppImageOf(&dep)
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading the app deployment: %w", err)
	}
	if current == want {
		return nil
	}

	// Until the Job succeeded, the app keeps running `current`; a brand-new stack ("") gets
	// its app only after the first migration created the schema.
	name := resources.MigrationJobName(ws, want)
	var live batchv1.Job
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: ws.Namespace, Name: name}, &live)
	switch {
	case apierrors.IsNotFound(err):
		s.gate.createJob = true
		ctrl.LoggerFrom(ctx).Info("Holding the app at its current image until its migration succeeds", "job", name, "image", want, "current", current)
		s.holdApp(migrationRunning, name, current)
	case err != nil:
		return fmt.Errorf("reading migration job %s: %w", name, err)
	case jobCondition(&live, batchv1.JobComplete):
		ctrl.LoggerFrom(ctx).Info("Migration Job succeeded; the app moves to its image", "job", name, "image", want, "from", current)
		if current != "" {
			s.changes.migrationReason = ReasonMigrationSucceeded
			s.changes.migration = fmt.Sprintf("Job %s succeeded; rolling the app out to %s", name, want)
		}
	case jobCondition(&live, batchv1.JobFailed):
		// The Degraded condition's transition announces it (announceTransitions).
		ctrl.LoggerFrom(ctx).Info("Migration Job failed; holding the app at its current image", "job", name, "image", want, "current", current)
		s.holdApp(migrationFailed, name, current)
	default:
		ctrl.LoggerFrom(ctx).Info("Holding the app at its current image until its migration succeeds", "job", name, "image", want, "current", current)
		s.holdApp(migrationRunning, name, current)
	}
	return nil
}

// startMigration creates the plan's migration Job when the gate found none.
func (r *WebStackReconciler) startMigration(ctx context.Context, s *scope) error {
	job := s.plan.MigrationJob
	if !s.gate.createJob || job == nil {
		return nil
	}
	if err := r.Client.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating migration job %s: %w", job.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Created migration Job", "job", job.Name, "image", s.ws.Spec.App.Image)
	s.changes.created = append(s.changes.created, "Job "+job.Name)
	s.changes.migrationReason = ReasonMigrationStarted
	s.changes.migration = fmt.Sprintf("started Job %s to migrate the database for image %s", job.Name, s.ws.Spec.App.Image)
	return nil
}

// holdApp records a migration that holds the app at its current image ("" = the app does
// not exist yet and is not created before its first migration succeeds).
func (s *scope) holdApp(p migrationPhase, job, current string) {
	s.obs.migration = p
	s.obs.migrationJob = job
	s.obs.pendingImage = s.ws.Spec.App.Image
	s.gate.appImage = current
	s.gate.withoutApp = current == ""
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
