package controllers

import (
	"context"
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
	// SkipUnchanged skips applies whose object already matches (on by default; the
	// benchmark turns it off for its baseline).
	SkipUnchanged bool

	// own notes the children this reconciler updated, for the watch's predicate.
	own *ownWrites
	// verified remembers the children found to match, so that unchanged ones are not
	// compared again until they or what we would send change.
	verified *verified
}

// scope is what the phases of one reconcile share.
type scope struct {
	ws          *v1alpha1.WebStack
	credentials resources.Credentials
	// gate is the migration gate's decision: which image the app pods may run, and whether
	// the migration Job must be created.
	gate migrationGate
	// plan is everything the stack needs, built once per reconcile (stack.Build).
	plan *stack.Plan
	// applied holds the workloads (Deployments, StatefulSets) this reconcile created or
	// updated, as the API server returned them, by "Kind/name": fresher than the cache.
	applied map[string]client.Object
	obs     observation
	// requeue asks for another reconcile: an update of a child by another writer arrived
	// while we were writing it, and its event was held back (ownWrites).
	requeue bool
	// changes is what this reconcile changed, told in one Event at its end.
	changes  changes
	recorder events.EventRecorder
}

func (s *scope) event(eventType, reason, action, note string, args ...any) {
	if s.recorder != nil {
		s.recorder.Eventf(s.ws, nil, eventType, reason, action, note, args...)
	}
}

// phase is one step of a reconcile; an error stops the later phases.
type phase func(ctx context.Context, s *scope) error

// Reconcile is the skeleton: get, compute, run the phases, write status once if it changed.
func (r *WebStackReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ws := &v1alpha1.WebStack{}
	if err := r.Client.Get(ctx, req.NamespacedName, ws); err != nil {
		if apierrors.IsNotFound(err) && r.verified != nil {
			r.verified.forget(req.String(), "")
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ws.DeletionTimestamp.IsZero() {
		if r.verified != nil {
			r.verified.forget(req.String(), "")
		}
		return ctrl.Result{}, r.finalize(ctx, ws)
	}
	if err := r.syncFinalizer(ctx, ws); err != nil {
		return ctrl.Result{}, err
	}

	s := &scope{ws: ws, recorder: r.Recorder}
	s.obs.generation = ws.Generation
	s.obs.endpoint = fmt.Sprintf("http://%s.%s.svc:%d", resources.LoadBalancerName(ws), ws.Namespace, ws.Spec.LoadBalancer.Service.Port)
	s.obs.connectionSecret = resources.ConnectionSecretName(ws)

	var err error
	for _, p := range []phase{r.ensureCredentials, r.gateMigration, r.buildPlan, r.startMigration, r.applyChildren, r.pruneChildren, r.expandVolumes} {
		if err = p(ctx, s); err != nil {
			s.obs.applyErr = err
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
	desired := s.plan.Objects
	a := &applier{client: r.Client, scheme: r.Scheme, skipUnchanged: r.SkipUnchanged, own: r.own, verified: r.verified}
	defer func() { s.requeue = a.missed }()
	for _, obj := range desired {
		switch o := obj.(type) {
		case *appsv1.StatefulSet:
			if err := r.keepClaimTemplates(ctx, o); err != nil {
				return err
			}
		case *appsv1.Deployment:
			if err := r.handOffReplicas(ctx, o); err != nil {
				return err
			}
		}
		result, answer, err := a.apply(ctx, obj)
		if err != nil {
			return err
		}
		s.changes.recordApply(obj, result)
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

// recordApply notes a created child, and a workload that got a new spec (a rollout). Other
// updates (a Service, a ConfigMap whose hash then rolls its workload) are not worth a
// person's attention on their own.
func (c *changes) recordApply(obj resources.Object, result applyResult) {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	switch {
	case result == created:
		c.created = append(c.created, kind+" "+obj.GetName())
	case result == updated && (kind == "Deployment" || kind == "StatefulSet"):
		c.rolled = append(c.rolled, kind+" "+obj.GetName())
	}
}

// SetupWithManager watches WebStacks and every kind of child.
func (r *WebStackReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.own == nil {
		r.own = newOwnWrites()
	}
	if r.verified == nil {
		r.verified = newVerified()
	}
	if err := indexByOwner(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	children := builder.WithPredicates(r.own.childEvents())
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
