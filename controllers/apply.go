package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// applier applies children with server-side apply, and skips the request when the object in
// the cache already holds every field we would send with the same value.
type applier struct {
	client client.Client
	scheme *runtime.Scheme
	// skipUnchanged turns the comparison on (off only for the benchmark's baseline).
	skipUnchanged bool
	// own, when set, is told of every update, so that its watch event starts no reconcile.
	own *ownWrites
	// missed is set when the watch delivered another writer's update of a child while we
	// were updating it: its event was held back, so the WebStack must be reconciled again.
	missed bool
	// verified, when set, remembers the children found to match, to skip comparing again.
	verified *verified
}

// verified remembers, per child, the resourceVersion at which the live object was last
// found to hold everything we send, and a digest of the object we built then. While both
// are the same, comparing again would find the same: the live object has not been written
// since, and we would send the same. Each WebStack's children are kept apart, so that a
// deleted WebStack's are forgotten with it.
type verified struct {
	mu sync.Mutex
	// by is WebStack "namespace/name" -> child UID -> what matched.
	by map[string]map[types.UID]match
}

type match struct {
	resourceVersion string
	digest          [sha256.Size]byte
}

func newVerified() *verified { return &verified{by: map[string]map[types.UID]match{}} }

func (v *verified) matches(stack string, uid types.UID, m match) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	have, ok := v.by[stack][uid]
	return ok && have == m
}

func (v *verified) remember(stack string, uid types.UID, m match) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.by[stack] == nil {
		v.by[stack] = map[types.UID]match{}
	}
	v.by[stack][uid] = m
}

// forget drops what is known of one child, or with uid "" of a WebStack's every child.
func (v *verified) forget(stack string, uid types.UID) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if uid == "" {
		delete(v.by, stack)
		return
	}
	delete(v.by[stack], uid)
}

// stackKey names the WebStack a child belongs to, for verified: its namespace and its
// instance label.
func stackKey(obj client.Object) string {
	return obj.GetNamespace() + "/" + obj.GetLabels()[resources.InstanceLabel]
}

// applyResult says what apply did.
type applyResult int

const (
	unchanged applyResult = iota
	created
	updated
)

// apply sends obj with server-side apply (forced ownership of our fields) unless the live
// object already matches; it reports whether it created, updated or left the object, and
// returns the object as the API server returned it from the write (nil when unchanged).
func (a *applier) apply(ctx context.Context, obj client.Object) (applyResult, *unstructured.Unstructured, error) {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	// A digest of the object as built, cheaper than the intent: json.Marshal of a typed
	// object is deterministic (struct fields in order, map keys sorted).
	raw, err := json.Marshal(obj)
	if err != nil {
		return unchanged, nil, fmt.Errorf("%s %s: %w", kind, obj.GetName(), err)
	}
	built := match{digest: sha256.Sum256(raw)}
	live, err := a.scheme.New(obj.GetObjectKind().GroupVersionKind())
	if err != nil {
		return unchanged, nil, fmt.Errorf("%s %s: %w", kind, obj.GetName(), err)
	}
	liveObj := live.(client.Object)
	result := updated
	// Without a deep copy: liveObj is a shallow copy of the cache's object, only read, and
	// dropped when apply returns. Only its type (a value, not shared) is set: the cache's
	// objects carry none.
	err = a.client.Get(ctx, client.ObjectKeyFromObject(obj), liveObj, client.UnsafeDisableDeepCopy)
	liveObj.GetObjectKind().SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
	switch {
	case apierrors.IsNotFound(err):
		result = created
	case err != nil:
		return unchanged, nil, fmt.Errorf("reading %s %s: %w", kind, obj.GetName(), err)
	case a.skipUnchanged && a.verified != nil && a.verified.matches(stackKey(obj), liveObj.GetUID(), match{liveObj.GetResourceVersion(), built.digest}):
		return unchanged, nil, nil
	}
	intent, err := applyIntent(obj)
	if err != nil {
		return unchanged, nil, err
	}
	if result == updated && a.skipUnchanged {
		liveMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(liveObj)
		if err != nil {
			return unchanged, nil, err
		}
		if contains(liveMap, intent.Object) {
			a.remember(obj, liveObj.GetUID(), liveObj.GetResourceVersion(), built)
			return unchanged, nil, nil
		}
	}
	if result == updated && a.own != nil {
		a.own.begin(liveObj.GetUID())
	}
	// Apply decodes the API server's answer into intent. The next reconcile compares the
	// written child in full once, and remembers it then.
	err = a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(intent), client.FieldOwner(v1alpha1.FieldManager), client.ForceOwnership)
	if result == updated && a.own != nil {
		// An apply that failed, or that the server found nothing to change in, makes no
		// watch event of ours.
		rv := intent.GetResourceVersion()
		if err != nil || rv == liveObj.GetResourceVersion() {
			rv = ""
		}
		if a.own.end(liveObj.GetUID(), rv) {
			a.missed = true
		}
	}
	if err != nil {
		return unchanged, nil, fmt.Errorf("applying %s %s: %w", intent.GetKind(), obj.GetName(), err)
	}
	return result, intent, nil
}

// remember notes that the child with uid held everything built at resourceVersion rv.
func (a *applier) remember(obj client.Object, uid types.UID, rv string, built match) {
	if a.verified == nil || uid == "" || rv == "" {
		return
	}
	built.resourceVersion = rv
	a.verified.remember(stackKey(obj), uid, built)
}

// applyIntent is what server-side apply sends for obj: every field we set, and nothing we
// did not (no status, no nulls, no empty objects that would claim ownership of nothing).
func applyIntent(obj client.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %s: %w", obj.GetName(), err)
	}
	delete(m, "status")
	md, _ := m["metadata"].(map[string]any)
	for _, k := range []string{"creationTimestamp", "resourceVersion", "managedFields", "uid", "generation"} {
		delete(md, k)
	}
	compact(m)
	// json.Marshal sorts map keys, so the hash is deterministic.
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("hashing %s: %w", obj.GetName(), err)
	}
	sum := sha256.Sum256(raw)
	annotations, _ := md["annotations"].(map[string]any)
	if annotations == nil {
		annotations = map[string]any{}
		md["annotations"] = annotations
	}
	annotations[v1alpha1.AppliedHashAnnotation] = hex.EncodeToString(sum[:8])
	return &unstructured.Unstructured{Object: m}, nil
}

// compact drops nil values from m, recursively (a typed object's unset pointers and
// timestamps), so that we send only what we mean to own.
func compact(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			compact(x)
		case []any:
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					compact(em)
				}
			}
		}
	}
}

// contains reports whether live holds every field of want with an equal value. Lists must
// have the same length, element by element; maps in live may hold more keys (defaults,
// fields of other managers).
func contains(live, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			lv, found := l[k]
			if !found {
				if isEmpty(wv) {
					continue
				}
				return false
			}
			if !contains(lv, wv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			return len(w) == 0 && (live == nil || ok && len(l) == 0)
		}
		for i := range w {
			if !contains(l[i], w[i]) {
				return false
			}
		}
		return true
	default:
		if reflect.DeepEqual(live, want) {
			return true
		}
		// Numbers may differ in type (int64 vs float64) after a round trip.
		return fmt.Sprint(live) == fmt.Sprint(want)
	}
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case string:
		return x == ""
	case bool:
		return !x
	}
	return false
}
