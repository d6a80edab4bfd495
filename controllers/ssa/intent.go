package ssa

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

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
