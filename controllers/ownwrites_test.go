package controllers

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
	type step struct {
		write      *corev1.Service // our write, as the server returned it
		seen       *corev1.Service // an update the watch delivers
		deleted    *corev1.Service
		wantStarts bool // whether seen starts a reconcile
	}
	cases := map[string][]step{
		"our own write starts nothing": {
			{write: svc("a", "10")},
			{seen: svc("a", "10"), wantStarts: false},
		},
		"the update after ours is someone else's": {
			{write: svc("a", "10")},
			{seen: svc("a", "10"), wantStarts: false},
			{seen: svc("a", "11"), wantStarts: true},
		},
		"another writer got in before our event arrived": {
			{write: svc("a", "10")},
			{seen: svc("a", "12"), wantStarts: true},
			{seen: svc("a", "10"), wantStarts: true},
		},
		"a child we never wrote": {
			{seen: svc("b", "3"), wantStarts: true},
		},
		"two writes of ours in a row: only the last is known, the first starts a spare reconcile": {
			{write: svc("a", "10")},
			{write: svc("a", "11")},
			{seen: svc("a", "10"), wantStarts: true},
			{seen: svc("a", "11"), wantStarts: true},
		},
		"objects are told apart by UID": {
			{write: svc("a", "10")},
			{seen: svc("b", "10"), wantStarts: true},
			{seen: svc("a", "10"), wantStarts: false},
		},
		"a deleted object's note is dropped": {
			{write: svc("a", "10")},
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
				case s.write != nil:
					w.record(s.write)
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
			if n := len(w.rv); n > 1 {
				t.Errorf("%d notes left: they must not pile up", n)
			}
		})
	}
	if (newOwnWrites().childEvents()).Create(event.CreateEvent{Object: svc("a", "1")}) {
		t.Error("a child's creation must not start a reconcile")
	}
}
