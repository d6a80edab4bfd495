package ssa

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

func configMap(data string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "shop-redis", Labels: map[string]string{resources.InstanceLabel: "shop"}},
		Data:       map[string]string{"redis.conf": data},
	}
	cm.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	return cm
}

func TestApplyCreatesUpdatesAndSkipsWhatMatches(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).Build()
	a := New(c, clientgoscheme.Scheme, Options{SkipUnchanged: true})
	steps := []struct {
		name   string
		obj    *corev1.ConfigMap
		want   Action
		answer bool
	}{
		{"a new object is created", configMap("maxmemory 64mb"), Created, true},
		{"the same object again sends nothing", configMap("maxmemory 64mb"), Unchanged, false},
		{"and again, from the memo", configMap("maxmemory 64mb"), Unchanged, false},
		{"a changed object is applied", configMap("maxmemory 128mb"), Updated, true},
		{"then matches again", configMap("maxmemory 128mb"), Unchanged, false},
	}
	for _, s := range steps {
		res, answer, err := a.Apply(ctx, s.obj)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if res.Action != s.want || (answer != nil) != s.answer {
			t.Fatalf("%s: action %d, answer %v; want %d, answer %v", s.name, res.Action, answer != nil, s.want, s.answer)
		}
	}
	var live corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKeyFromObject(configMap("")), &live); err != nil {
		t.Fatal(err)
	}
	if live.Data["redis.conf"] != "maxmemory 128mb" || live.Annotations[v1alpha1.AppliedHashAnnotation] == "" {
		t.Fatalf("live object %+v: want the last data and the applied hash", live)
	}
}

func TestApplyWithoutSkipUnchangedAlwaysSends(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).Build()
	a := New(c, clientgoscheme.Scheme, Options{})
	for i, want := range []Action{Created, Updated, Updated} {
		res, answer, err := a.Apply(ctx, configMap("maxmemory 64mb"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Action != want || answer == nil {
			t.Fatalf("apply %d: action %d, answer %v; want %d and an answer", i, res.Action, answer != nil, want)
		}
	}
}
