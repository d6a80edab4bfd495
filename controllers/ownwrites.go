package controllers

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// ownWrites remembers the resourceVersion that each of the reconciler's updates of a child
// produced, until the watch delivers that version. The event of our own write would start a
// reconcile that finds nothing to do (the reconcile that wrote it already observed the
// result: scope.applied); every other update of a child (its controller's status, another
// writer's edit) has another resourceVersion and still starts one.
type ownWrites struct {
	mu sync.Mutex
	rv map[types.UID]string
}

func newOwnWrites() *ownWrites { return &ownWrites{rv: map[types.UID]string{}} }

// record notes obj, as the API server returned it from our write.
func (w *ownWrites) record(obj client.Object) {
	if obj.GetUID() == "" || obj.GetResourceVersion() == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rv[obj.GetUID()] = obj.GetResourceVersion()
}

// consume reports whether obj, seen by the watch, is exactly the version our last write of
// it produced. Either way the note is used up: a later event is not ours.
func (w *ownWrites) consume(obj client.Object) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	rv, ok := w.rv[obj.GetUID()]
	if ok {
		delete(w.rv, obj.GetUID())
	}
	return ok && rv == obj.GetResourceVersion()
}

// forget drops the note of a deleted object.
func (w *ownWrites) forget(obj client.Object) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.rv, obj.GetUID())
}

// childEvents is the predicate of every kind of child: creations start no reconcile (only
// the reconciler creates children, and it knows what it created), nor do the updates that
// are our own writes; other updates and deletions do. At a manager's start every WebStack
// is reconciled anyway.
func (w *ownWrites) childEvents() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool { return e.ObjectNew == nil || !w.consume(e.ObjectNew) },
		DeleteFunc: func(e event.DeleteEvent) bool {
			if e.Object != nil {
				w.forget(e.Object)
			}
			return true
		},
	}
}
