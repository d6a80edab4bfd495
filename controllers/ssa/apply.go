package ssa

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// Options are an Applier's settings.
type Options struct {
	// SkipUnchanged skips the apply of an object whose live copy already matches (on in the
	// manager; the benchmark turns it off for its baseline).
	SkipUnchanged bool
}

// Applier applies children with server-side apply (field manager v1alpha1.FieldManager),
// and skips the request when the object in the cache already holds every field it would
// send with the same value. One Applier serves every reconcile of a manager.
type Applier struct {
	client client.Client
	scheme *runtime.Scheme
	// skipUnchanged turns the comparison on.
	skipUnchanged bool
	// own is told of every update, so that its watch event starts no reconcile.
	own *ownWrites
	// verified remembers the children found to match, to skip comparing them again.
	verified *verified
}

// New returns an Applier that reads through c (the manager's cache) and writes with it.
func New(c client.Client, scheme *runtime.Scheme, o Options) *Applier {
	return &Applier{client: c, scheme: scheme, skipUnchanged: o.SkipUnchanged, own: newOwnWrites(), verified: newVerified()}
}

// Action is what Apply did to an object.
type Action int

const (
	// Unchanged: the live object already matched; nothing was sent.
	Unchanged Action = iota
	// Created: the object did not exist and was created.
	Created
	// Updated: the object existed and was applied.
	Updated
)

// Result is what one Apply did.
type Result struct {
	Action Action
	// Missed is true when the watch delivered another writer's update of the object while
	// Apply was updating it: that event was held back (OwnWrites), so the caller must
	// reconcile again.
	Missed bool
}

// Apply sends obj with server-side apply (forced ownership of our fields) unless the live
// object already matches. It returns what it did, and the object as the API server returned
// it from the write (nil when nothing was sent).
func (a *Applier) Apply(ctx context.Context, obj client.Object) (Result, *unstructured.Unstructured, error) {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	// A digest of the object as built, cheaper than the intent: json.Marshal of a typed
	// object is deterministic (struct fields in order, map keys sorted).
	raw, err := json.Marshal(obj)
	if err != nil {
		return Result{}, nil, fmt.Errorf("%s %s: %w", kind, obj.GetName(), err)
	}
	built := match{digest: sha256.Sum256(raw)}
	live, err := a.scheme.New(obj.GetObjectKind().GroupVersionKind())
	if err != nil {
		return Result{}, nil, fmt.Errorf("%s %s: %w", kind, obj.GetName(), err)
	}
	liveObj := live.(client.Object)
	result := Result{Action: Updated}
	// Without a deep copy: liveObj is a shallow copy of the cache's object, only read, and
	// dropped when Apply returns. Only its type (a value, not shared) is set: the cache's
	// objects carry none.
	err = a.client.Get(ctx, client.ObjectKeyFromObject(obj), liveObj, client.UnsafeDisableDeepCopy)
	liveObj.GetObjectKind().SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
	switch {
	case apierrors.IsNotFound(err):
		result.Action = Created
	case err != nil:
		return Result{}, nil, fmt.Errorf("reading %s %s: %w", kind, obj.GetName(), err)
	case a.skipUnchanged && a.verified.matches(stackKey(obj), liveObj.GetUID(), match{liveObj.GetResourceVersion(), built.digest}):
		return Result{}, nil, nil
	}
	intent, err := applyIntent(obj)
	if err != nil {
		return Result{}, nil, err
	}
	if result.Action == Updated && a.skipUnchanged {
		liveMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(liveObj)
		if err != nil {
			return Result{}, nil, err
		}
		if contains(liveMap, intent.Object) {
			a.remember(obj, liveObj.GetUID(), liveObj.GetResourceVersion(), built)
			return Result{}, nil, nil
		}
	}
	if result.Action == Updated {
		a.own.begin(liveObj.GetUID())
	}
	// Apply decodes the API server's answer into intent. The next reconcile compares the
	// written child in full once, and remembers it then.
	err = a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(intent), client.FieldOwner(v1alpha1.FieldManager), client.ForceOwnership)
	if result.Action == Updated {
		// An apply that failed, or that the server found nothing to change in, makes no
		// watch event of ours.
		rv := intent.GetResourceVersion()
		if err != nil || rv == liveObj.GetResourceVersion() {
			rv = ""
		}
		result.Missed = a.own.end(liveObj.GetUID(), rv)
	}
	if err != nil {
		return Result{Missed: result.Missed}, nil, fmt.Errorf("applying %s %s: %w", intent.GetKind(), obj.GetName(), err)
	}
	return result, intent, nil
}

// remember notes that the child with uid held everything built at resourceVersion rv.
func (a *Applier) remember(obj client.Object, uid types.UID, rv string, built match) {
	if uid == "" || rv == "" {
		return
	}
	built.resourceVersion = rv
	a.verified.remember(stackKey(obj), uid, built)
}

// Forget drops what is remembered of every child of the WebStack stack: it was deleted.
func (a *Applier) Forget(stack types.NamespacedName) {
	a.verified.forget(stack.String(), "")
}

// ForgetChild drops what is remembered of one child: it was deleted.
func (a *Applier) ForgetChild(obj client.Object) {
	a.verified.forget(stackKey(obj), obj.GetUID())
}

// OwnWrites is the watch predicate of every kind of child: creations start no reconcile
// (only the reconciler creates children, and it knows what it created), nor do the updates
// that are this Applier's own writes; other updates and deletions do.
func (a *Applier) OwnWrites() predicate.Funcs { return a.own.childEvents() }

// stackKey names the WebStack a child belongs to, "namespace/name": its namespace and its
// instance label.
func stackKey(obj client.Object) string {
	return obj.GetNamespace() + "/" + obj.GetLabels()[resources.InstanceLabel]
}
