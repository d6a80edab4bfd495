package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/controllers/ssa"
	"github.com/webstack-dev/webstack-operator/internal/stack"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// WebStackReconciler turns a WebStack into its running stack and keeps it there.
type WebStackReconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads past the cache, for the rare object the cache does not hold.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	// ClusterDomain is the cluster's DNS domain, for the names HAProxy and Varnish resolve.
	ClusterDomain string
	// AgentImage is the image of the in-pod agent that applies config changes without a
	// restart (stack.Options.AgentImage); empty: every config change rolls its pods.
	AgentImage string
	// SkipUnchanged skips applies whose object already matches (on by default; the
	// benchmark turns it off for its baseline).
	SkipUnchanged bool

	// applier applies the children, remembers those found to match, and keeps the watch
	// events of its own writes from starting reconciles. SetupWithManager makes it.
	applier *ssa.Applier
}

// scope is what the phases of one reconcile share: its inputs, the plan, what the phases
// observed, and the side channels through which a reconcile reports besides its status.
type scope struct {
	// Inputs.
	ws *v1alpha1.WebStack
	// credentials are the passwords of the credential Secrets (ensureCredentials).
	credentials resources.Credentials
	// gate is the migration gate's decision: which image the app pods may run, and whether
	// the migration Job must be created (gateMigration).
	gate migrationGate

	// plan is everything the stack needs, built once per reconcile (stack.Build).
	plan *stack.Plan

	// Observations.
	// applied holds the workloads (Deployments, StatefulSets) this reconcile created or
	// updated, as the API server returned them, by "Kind/name": fresher than the cache.
	applied map[string]client.Object
	// obs is what status is computed from.
	obs observation

	// Side channels.
	// requeue asks for another reconcile: an update of a child by another writer arrived
	// while we were writing it, and its event was held back (ssa.Result.Missed).
	requeue bool
	// changes is what this reconcile changed, told in one Event (changes.announce) and one
	// log line each (changes.log) at its end.
	changes changes
	// recorder emits the Events of scope.event; nil emits none.
	recorder events.EventRecorder
}

func newScope(ws *v1alpha1.WebStack, recorder events.EventRecorder) *scope {
	s := &scope{ws: ws, recorder: recorder}
	s.obs.generation = ws.Generation
	s.obs.endpoint = fmt.Sprintf("http://%s.%s.svc:%d", resources.LoadBalancerName(ws), ws.Namespace, ws.Spec.LoadBalancer.Service.Port)
	s.obs.connectionSecret = resources.ConnectionSecretName(ws)
	return s
}

// event emits an Event about the WebStack.
func (s *scope) event(eventType, reason, action, note string, args ...any) {
	if s.recorder != nil {
		s.recorder.Eventf(s.ws, nil, eventType, reason, action, note, args...)
	}
}

// phase is one step of a reconcile; an error stops the later phases, and status reports it
// with the phase's own condition reason.
type phase struct {
	// name says what the phase does, for logs.
	name string
	// reason is the condition reason of its failure (Degraded and Ready).
	reason string
	run    func(ctx context.Context, s *scope) error
}

// phases are the steps of a reconcile, in order.
func (r *WebStackReconciler) phases() []phase {
	return []phase{
		{"credentials", v1alpha1.ReasonCredentialsFailed, r.ensureCredentials},
		{"migration gate", v1alpha1.ReasonMigrationJobFailed, r.gateMigration},
		{"plan", v1alpha1.ReasonBuildFailed, r.buildPlan},
		{"migration", v1alpha1.ReasonMigrationJobFailed, r.startMigration},
		{"apply", v1alpha1.ReasonApplyFailed, r.applyChildren},
		{"prune", v1alpha1.ReasonPruneFailed, r.pruneChildren},
		{"volume expansion", v1alpha1.ReasonVolumeExpansionFailed, r.expandVolumes},
	}
}

// failureReason is the condition reason of the phase's failure with err: the phase's own,
// or for the plan, the step of stack.Build that failed.
func (p phase) failureReason(err error) string {
	var be *stack.BuildError
	if errors.As(err, &be) && be.Step == stack.StepRender {
		return v1alpha1.ReasonRenderFailed
	}
	return p.reason
}

// Reconcile is the skeleton: get, compute, run the phases, write status once if it changed.
func (r *WebStackReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	ws := &v1alpha1.WebStack{}
	if err := r.Client.Get(ctx, req.NamespacedName, ws); err != nil {
		if apierrors.IsNotFound(err) {
			r.applier.Forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ws.DeletionTimestamp.IsZero() {
		r.applier.Forget(req.NamespacedName)
		return ctrl.Result{}, r.finalize(ctx, ws)
	}
	if err := r.syncFinalizer(ctx, ws); err != nil {
		return ctrl.Result{}, err
	}

	s := newScope(ws, r.Recorder)
	var err error
	for _, p := range r.phases() {
		if err = p.run(ctx, s); err != nil {
			s.obs.failure = &failure{reason: p.failureReason(err), err: err}
			// The error itself is returned: controller-runtime logs it ("Reconciler error", same
			// reconcileID) and backs off. This line adds which phase failed and the reason
			// status reports.
			log.Info("Reconcile phase failed", "phase", p.name, "reason", s.obs.failure.reason)
			break
		}
	}
	if s.plan == nil {
		// A phase before the plan failed: the plan still gives the numbers and components
		// for status (Build returns them whatever else fails).
		s.plan, _ = stack.Build(ws, r.planOptions(s))
	}
	s.obs.warnings = s.plan.Tuning.Warnings
	s.obs.budgetShort = s.plan.Tuning.Database != nil && s.plan.Tuning.Database.BelowBudget()
	tuningStatus := s.plan.Tuning.Status()
	s.obs.tuning = &tuningStatus
	s.changes.announce(s)
	s.changes.log(log)
	r.observe(ctx, s)

	status := computeStatus(ws.Status, s.obs)
	if !equality.Semantic.DeepEqual(status, ws.Status) {
		announceTransitions(s, ws.Status, status)
		// A merge patch, not an update: the status is computed whole from this observation,
		// and a cache one write behind must not turn into a conflict and a retry.
		patch := client.MergeFrom(ws.DeepCopy())
		ws.Status = status
		if perr := r.Client.Status().Patch(ctx, ws, patch); perr != nil && err == nil {
			err = fmt.Errorf("writing status: %w", perr)
		}
	}
	if err == nil && s.requeue {
		log.V(1).Info("Reconciling again: another writer updated a child while it was being applied")
		return ctrl.Result{RequeueAfter: time.Millisecond}, nil
	}
	if err == nil && s.obs.migration == migrationRunning {
		// Job completion is watched; this only bounds the wait if an event is missed.
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	return ctrl.Result{}, err
}

// announceTransitions emits an Event for each condition change a person cares about: the
// stack became ready or stopped being ready, or became degraded (or degraded for another
// reason), with the condition's own message. It is the one place such Events come from.
func announceTransitions(s *scope, old, now v1alpha1.WebStackStatus) {
	status := func(c *metav1.Condition) metav1.ConditionStatus {
		if c == nil {
			return ""
		}
		return c.Status
	}
	oldReady := meta.FindStatusCondition(old.Conditions, v1alpha1.ConditionReady)
	newReady := meta.FindStatusCondition(now.Conditions, v1alpha1.ConditionReady)
	switch {
	case status(oldReady) == status(newReady):
	case status(newReady) == metav1.ConditionTrue:
		s.event(corev1.EventTypeNormal, v1alpha1.ReasonReady, "Reconcile", "every enabled component is ready")
	case status(oldReady) == metav1.ConditionTrue:
		s.event(corev1.EventTypeWarning, newReady.Reason, "Reconcile", "the stack is no longer ready: %s", newReady.Message)
	}
	oldDeg := meta.FindStatusCondition(old.Conditions, v1alpha1.ConditionDegraded)
	newDeg := meta.FindStatusCondition(now.Conditions, v1alpha1.ConditionDegraded)
	if status(newDeg) == metav1.ConditionTrue && (status(oldDeg) != metav1.ConditionTrue || oldDeg.Reason != newDeg.Reason) {
		s.event(corev1.EventTypeWarning, newDeg.Reason, "Reconcile", "%s", newDeg.Message)
	}
}

// planOptions are the plan's inputs that come from the cluster: its DNS domain, the
// credentials read so far and the migration gate's decision.
func (r *WebStackReconciler) planOptions(s *scope) stack.Options {
	return stack.Options{
		ClusterDomain: r.ClusterDomain,
		AgentImage:    r.AgentImage,
		Credentials:   s.credentials,
		AppImage:      s.gate.appImage,
		WithoutApp:    s.gate.withoutApp,
	}
}

// buildPlan builds everything the stack needs (pure) from the spec, the credentials and the
// migration gate's decision.
func (r *WebStackReconciler) buildPlan(_ context.Context, s *scope) error {
	plan, err := stack.Build(s.ws, r.planOptions(s))
	s.plan = plan
	return err
}

// applyChildren applies each child of the plan, skipping unchanged ones.
func (r *WebStackReconciler) applyChildren(ctx context.Context, s *scope) error {
	for _, obj := range s.plan.Objects {
		switch o := obj.(type) {
		case *appsv1.StatefulSet:
			if err := r.keepClaimTemplates(ctx, o); err != nil {
				return err
			}
		case *appsv1.Deployment:
			if err := r.handOffReplicas(ctx, o); err != nil {
				return err
			}
		case *corev1.Service:
			if err := r.replaceOnAddressChange(ctx, s, o); err != nil {
				return err
			}
		}
		result, answer, err := r.applier.Apply(ctx, obj)
		if result.Missed {
			s.requeue = true
		}
		if err != nil {
			return err
		}
		s.changes.recordApply(obj, result.Action)
		if err := s.keepApplied(r.Scheme, answer); err != nil {
			return err
		}
	}
	return nil
}

// keepApplied keeps a workload the API server returned from our write, for observe.
func (s *scope) keepApplied(scheme *runtime.Scheme, answer *unstructured.Unstructured) error {
	if answer == nil {
		return nil
	}
	kind := answer.GetKind()
	if kind != "Deployment" && kind != "StatefulSet" {
		return nil
	}
	typed, err := scheme.New(answer.GroupVersionKind())
	if err != nil {
		return fmt.Errorf("%s %s: %w", kind, answer.GetName(), err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(answer.Object, typed); err != nil {
		return fmt.Errorf("reading the applied %s %s: %w", kind, answer.GetName(), err)
	}
	if s.applied == nil {
		s.applied = map[string]client.Object{}
	}
	s.applied[kind+"/"+answer.GetName()] = typed.(client.Object)
	return nil
}

// SetupWithManager watches WebStacks and every kind of child.
func (r *WebStackReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.applier == nil {
		r.applier = ssa.New(r.Client, r.Scheme, ssa.Options{SkipUnchanged: r.SkipUnchanged})
	}
	if err := indexByOwner(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	children := builder.WithPredicates(r.applier.OwnWrites())
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.WebStack{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionStarted))).
		Owns(&appsv1.Deployment{}, children).
		Owns(&appsv1.StatefulSet{}, children).
		Owns(&corev1.Service{}, children).
		Owns(&corev1.ConfigMap{}, children).
		Owns(&corev1.Secret{}, children).
		Owns(&policyv1.PodDisruptionBudget{}, children).
		Owns(&networkingv1.NetworkPolicy{}, children).
		Owns(&autoscalingv2.HorizontalPodAutoscaler{}, children).
		Owns(&batchv1.Job{}, children).
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(instanceOf)).
		Named("webstack").
		Complete(r)
}

// deletionStarted passes the update that marks a WebStack for deletion. With a new
// generation (the spec) and an edit of labels or annotations (`kubectl annotate` to ask for a
// reconcile), these are the WebStack updates that start a reconcile: the reconciler's own
// status writes start none.
var deletionStarted = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld != nil && e.ObjectNew != nil &&
			e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
	},
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// instanceOf maps a volume claim (made by a StatefulSet, so not owned by the WebStack) to
// the WebStack named in its instance label.
func instanceOf(_ context.Context, o client.Object) []reconcile.Request {
	name := o.GetLabels()[resources.InstanceLabel]
	if name == "" || o.GetLabels()[resources.ManagedByLabel] != resources.ManagedByValue {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: name}}}
}
