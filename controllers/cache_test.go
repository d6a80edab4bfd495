package controllers

import (
	"runtime/debug"
	"strings"
	"testing"
	"unsafe"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fresh returns a copy of s in its own memory, as decoding gives each object.
func fresh(s string) string { return strings.Clone(s) }

func sameMemory(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func TestInternStringsSharesRepeatedStringsAndKeepsValues(t *testing.T) {
	labels := func() map[string]string {
		return map[string]string{fresh("app.kubernetes.io/instance"): fresh("shop"), fresh("app.kubernetes.io/component"): fresh("app")}
	}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: fresh("team-a"), Labels: labels(),
			Annotations:     map[string]string{fresh("webstack.dev/applied-hash"): fresh("0123abcd")},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: fresh("webstack.dev/v1alpha1"), Kind: fresh("WebStack"), Name: fresh("shop"), UID: "u1"}}}
	}
	cases := map[string]struct {
		make func(name string) client.Object
		// strings reads, from an object, strings that two objects hold alike.
		strings func(o client.Object) []string
	}{
		"Service: metadata and selector": {
			make: func(n string) client.Object {
				return &corev1.Service{ObjectMeta: meta(n), Spec: corev1.ServiceSpec{Selector: labels()}}
			},
			strings: func(o client.Object) []string {
				s := o.(*corev1.Service)
				return []string{s.Namespace, s.Labels["app.kubernetes.io/instance"], s.Annotations["webstack.dev/applied-hash"], s.OwnerReferences[0].Kind, s.Spec.Selector["app.kubernetes.io/component"]}
			},
		},
		"Deployment: selector and pod template": {
			make: func(n string) client.Object {
				return &appsv1.Deployment{ObjectMeta: meta(n), Spec: appsv1.DeploymentSpec{
					Selector: &metav1.LabelSelector{MatchLabels: labels()},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels()}}}}
			},
			strings: func(o client.Object) []string {
				d := o.(*appsv1.Deployment)
				return []string{d.Spec.Selector.MatchLabels["app.kubernetes.io/instance"], d.Spec.Template.Labels["app.kubernetes.io/component"]}
			},
		},
		"NetworkPolicy: pod selector and peers": {
			make: func(n string) client.Object {
				return &networkingv1.NetworkPolicy{ObjectMeta: meta(n), Spec: networkingv1.NetworkPolicySpec{
					PodSelector: metav1.LabelSelector{MatchLabels: labels()},
					Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: labels()}}}}}}}
			},
			strings: func(o client.Object) []string {
				p := o.(*networkingv1.NetworkPolicy)
				return []string{p.Spec.PodSelector.MatchLabels["app.kubernetes.io/instance"], p.Spec.Ingress[0].From[0].PodSelector.MatchLabels["app.kubernetes.io/component"]}
			},
		},
	}
	// unique.Make keeps a canonical copy only until a garbage collection finds no handle to
	// it, so two objects interned across a collection may hold two copies (the next decode
	// shares again). Within one cycle they must share: the test keeps the collector off.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a, b := tc.make("one"), tc.make("two")
			want := tc.make("one")
			if _, err := internStrings(a); err != nil {
				t.Fatal(err)
			}
			if _, err := internStrings(b); err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(a, want) {
				t.Fatalf("interning changed the object:\n got %+v\nwant %+v", a, want)
			}
			sa, sb := tc.strings(a), tc.strings(b)
			for i := range sa {
				if !sameMemory(sa[i], sb[i]) {
					t.Errorf("%q is held twice", sa[i])
				}
			}
			for k := range a.GetLabels() {
				for k2 := range b.GetLabels() {
					if k == k2 && !sameMemory(k, k2) {
						t.Errorf("label key %q is held twice", k)
					}
				}
			}
			if sameMemory(a.GetName(), b.GetName()) {
				t.Errorf("names differ and must not be shared")
			}
		})
	}
}

func TestCacheOptionsWatchNamespaces(t *testing.T) {
	if got := CacheOptions().DefaultNamespaces; got != nil {
		t.Errorf("without namespaces the cache is limited to %v", got)
	}
	got := CacheOptions("shop", "blog").DefaultNamespaces
	if len(got) != 2 {
		t.Fatalf("namespaces %v, want shop and blog", got)
	}
	for _, ns := range []string{"shop", "blog"} {
		if _, ok := got[ns]; !ok {
			t.Errorf("%s is not watched: %v", ns, got)
		}
	}
}
