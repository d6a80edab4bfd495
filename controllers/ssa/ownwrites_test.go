package ssa

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func svc(uid, rv string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "shop-redis", UID: types.UID(uid), ResourceVersion: rv}}
}

func TestOwnWrites(t *testing.T) {
	// A step is one of: begin an update of uid; end it with the answer's resourceVersion (""
	// for a failed or empty write), expecting missed; the watch delivering an update.
	type step struct {
		begin      string
		end        string
		answer     string
		wantMissed bool
		seen       *corev1.Service
		deleted    *corev1.Service
		wantStarts bool // whether seen starts a reconcile
	}
	cases := map[string][]step{
		"our write's event after the answer starts nothing": {
			{begin: "a"}, {end: "a", answer: "10"},
			{seen: svc("a", "10"), wantStarts: false},
		},
		"our write's event before the answer starts nothing either": {
			{begin: "a"},
			{seen: svc("a", "10"), wantStarts: false},
			{end: "a", answer: "10", wantMissed: false},
		},
		"the update after ours is someone else's": {
			{begin: "a"}, {end: "a", answer: "10"},
			{seen: svc("a", "10"), wantStarts: false},
			{seen: svc("a", "11"), wantStarts: true},
		},
		"another writer's event held back during our write is reported": {
			{begin: "a"},
			{seen: svc("a", "9"), wantStarts: false},
			{seen: svc("a", "10"), wantStarts: false},
			{end: "a", answer: "10", wantMissed: true},
			{seen: svc("a", "10"), wantStarts: true},
		},
		"another writer got in after ours, before our event arrived": {
			{begin: "a"}, {end: "a", answer: "10"},
			{seen: svc("a", "12"), wantStarts: true},
			{seen: svc("a", "10"), wantStarts: true},
		},
		"a write that failed or changed nothing leaves nothing to wait for": {
			{begin: "a"}, {end: "a", answer: ""},
			{seen: svc("a", "10"), wantStarts: true},
		},
		"an event during a failed write is reported": {
			{begin: "a"},
			{seen: svc("a", "10"), wantStarts: false},
			{end: "a", answer: "", wantMissed: true},
		},
		"a child we never wrote": {
			{seen: svc("b", "3"), wantStarts: true},
		},
		"objects are told apart by UID": {
			{begin: "a"}, {end: "a", answer: "10"},
			{seen: svc("b", "10"), wantStarts: true},
			{seen: svc("a", "10"), wantStarts: false},
		},
		"a deleted object's note is dropped": {
			{begin: "a"}, {end: "a", answer: "10"},
			{deleted: svc("a", "10")},
			{seen: svc("a", "10"), wantStarts: true},
		},
	}
	for name, steps := range cases {
		t.Run(name, func(t *testing.T) {
			w := newOwnWrites()
			p := w.childEvents()
			for i, s := range steps {
				switch {
				case s.begin != "":
					w.begin(types.UID(s.begin))
				case s.end != "":
					if missed := w.end(types.UID(s.end), s.answer); missed != s.wantMissed {
						t.Errorf("step %d: end() missed = %v, want %v", i, missed, s.wantMissed)
					}
				case s.deleted != nil:
					if !p.Delete(event.DeleteEvent{Object: s.deleted}) {
						t.Errorf("step %d: a deletion must start a reconcile", i)
					}
				default:
					if got := p.Update(event.UpdateEvent{ObjectOld: s.seen, ObjectNew: s.seen}); got != s.wantStarts {
						t.Errorf("step %d: update to %s starts a reconcile = %v, want %v", i, s.seen.ResourceVersion, got, s.wantStarts)
					}
				}
			}
			if n := len(w.pending) + len(w.inFlight); n > 1 {
				t.Errorf("%d notes left: they must not pile up", n)
			}
		})
	}
	if newOwnWrites().childEvents().Create(event.CreateEvent{Object: svc("a", "1")}) {
		t.Error("a child's creation must not start a reconcile")
	}
}
