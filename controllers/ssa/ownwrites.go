package ssa

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// ownWrites keeps the watch events of the reconciler's own updates of children from starting
// another reconcile, which would find nothing to do: the reconcile that wrote a child
// observes the API server's answer (Apply returns it). Every other update of a child (its
// controller's status, another writer's edit) still starts one.
//
// The watch often delivers the event of a write before the writer has read the answer, so
// an update is bracketed: begin marks the child's UID, the predicate holds back the events
// that arrive meanwhile, and end compares them with the resourceVersion the write produced.
// An event of another version seen meanwhile makes end report it, and the reconcile runs
// again. An event still to come is recognised by that resourceVersion.
type ownWrites struct {
	mu sync.Mutex
	// pending are our writes whose event has not come yet: UID -> resourceVersion.
	pending map[types.UID]string
	// inFlight are the updates under way: UID -> resourceVersions the watch delivered meanwhile.
	inFlight map[types.UID][]string
}

func newOwnWrites() *ownWrites {
	return &ownWrites{pending: map[types.UID]string{}, inFlight: map[types.UID][]string{}}
}

// begin marks an update of the child with this UID as under way.
func (w *ownWrites) begin(uid types.UID) {
	if uid == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight[uid] = []string{}
}

// end closes the update begun for uid. rv is the resourceVersion the API server answered
// with, "" when the write failed or changed nothing (no event will come). It reports
// whether the watch delivered another writer's version meanwhile: its event was held back,
// so the caller must reconcile again.
func (w *ownWrites) end(uid types.UID, rv string) (missed bool) {
	if uid == "" {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := w.inFlight[uid]
	delete(w.inFlight, uid)
	ours := false
	for _, s := range seen {
		if s == rv {
			ours = true
		} else {
			missed = true
		}
	}
	if rv != "" && !ours {
		w.pending[uid] = rv
	}
	return missed
}

// ownEvent reports whether an update of obj seen by the watch is to start no reconcile:
// the event of our own write, or one arriving while an update is under way (end decides).
func (w *ownWrites) ownEvent(obj client.Object) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	uid := obj.GetUID()
	if seen, ok := w.inFlight[uid]; ok {
		w.inFlight[uid] = append(seen, obj.GetResourceVersion())
		return true
	}
	rv, ok := w.pending[uid]
	if ok {
		delete(w.pending, uid)
	}
	return ok && rv == obj.GetResourceVersion()
}

// forget drops what is noted of a deleted object.
func (w *ownWrites) forget(obj client.Object) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.pending, obj.GetUID())
}

// childEvents is the predicate of every kind of child: creations start no reconcile (only
// the reconciler creates children, and it knows what it created), nor do the updates that
// are our own writes; other updates and deletions do. At a manager's start every WebStack
// is reconciled anyway.
func (w *ownWrites) childEvents() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool { return e.ObjectNew == nil || !w.ownEvent(e.ObjectNew) },
		DeleteFunc: func(e event.DeleteEvent) bool {
			if e.Object != nil {
				w.forget(e.Object)
			}
			return true
		},
	}
}
