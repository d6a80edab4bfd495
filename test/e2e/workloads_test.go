package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// workload is what the suite observes of one Deployment or StatefulSet of a WebStack.
type workload struct {
	kind     string
	replicas int32
	// template is the pod template as JSON: it changes exactly when the workload rolls.
	template string
	// pods are the UIDs of its Running pods.
	pods map[types.UID]bool
}

// workloads maps "Kind/name" to what runs for the WebStack ws in ns.
func workloads(ns, ws string) (map[string]workload, error) {
	ctx := context.Background()
	inst := client.MatchingLabels{resources.InstanceLabel: ws}
	var deps appsv1.DeploymentList
	if err := k8s.List(ctx, &deps, client.InNamespace(ns), inst); err != nil {
		return nil, err
	}
	var sts appsv1.StatefulSetList
	if err := k8s.List(ctx, &sts, client.InNamespace(ns), inst); err != nil {
		return nil, err
	}
	out := map[string]workload{}
	add := func(kind, name string, replicas *int32, sel map[string]string, tmpl corev1.PodTemplateSpec) error {
		t, err := json.Marshal(tmpl)
		if err != nil {
			return err
		}
		var pods corev1.PodList
		if err := k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(sel)); err != nil {
			return err
		}
		w := workload{kind: kind, replicas: 1, template: string(t), pods: map[types.UID]bool{}}
		if replicas != nil {
			w.replicas = *replicas
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
				w.pods[p.UID] = true
			}
		}
		out[kind+"/"+name] = w
		return nil
	}
	for _, d := range deps.Items {
		if err := add("Deployment", d.Name, d.Spec.Replicas, d.Spec.Selector.MatchLabels, d.Spec.Template); err != nil {
			return nil, err
		}
	}
	for _, s := range sts.Items {
		if err := add("StatefulSet", s.Name, s.Spec.Replicas, s.Spec.Selector.MatchLabels, s.Spec.Template); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// settled returns nil when the WebStack has observed its latest spec and is Ready, and
// every Deployment and StatefulSet has finished rolling out with exactly its desired number
// of Running pods (so no pod is missing, for example one refused by Pod Security admission).
func settled(ns, name string) error {
	ctx := context.Background()
	var ws v1alpha1.WebStack
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ws); err != nil {
		return err
	}
	if ws.Status.ObservedGeneration != ws.Generation {
		return fmt.Errorf("status.observedGeneration %d, generation %d", ws.Status.ObservedGeneration, ws.Generation)
	}
	if c := meta.FindStatusCondition(ws.Status.Conditions, "Ready"); c == nil || c.Status != "True" {
		return fmt.Errorf("not Ready: %+v", c)
	}
	inst := client.MatchingLabels{resources.InstanceLabel: name}
	var deps appsv1.DeploymentList
	if err := k8s.List(ctx, &deps, client.InNamespace(ns), inst); err != nil {
		return err
	}
	for _, d := range deps.Items {
		want := *d.Spec.Replicas
		st := d.Status
		if st.ObservedGeneration != d.Generation || st.UpdatedReplicas != want || st.Replicas != want || st.AvailableReplicas != want {
			return fmt.Errorf("deployment %s rolling out: want %d, status %+v", d.Name, want, st)
		}
	}
	var sts appsv1.StatefulSetList
	if err := k8s.List(ctx, &sts, client.InNamespace(ns), inst); err != nil {
		return err
	}
	for _, s := range sts.Items {
		want := *s.Spec.Replicas
		st := s.Status
		if st.ObservedGeneration != s.Generation || st.UpdateRevision != st.CurrentRevision || st.ReadyReplicas != want || st.Replicas != want {
			return fmt.Errorf("statefulset %s rolling out: want %d, status %+v", s.Name, want, st)
		}
	}
	ws2, err := workloads(ns, name)
	if err != nil {
		return err
	}
	for k, w := range ws2 {
		if int32(len(w.pods)) != w.replicas {
			return fmt.Errorf("%s: %d Running pods, want %d", k, len(w.pods), w.replicas)
		}
	}
	return nil
}

// rolled compares two snapshots: the keys whose pod template changed, and for every other
// workload it checks the pods it had are all still there.
func rolled(before, after map[string]workload) []string {
	GinkgoHelper()
	var changed []string
	for k, b := range before {
		a, ok := after[k]
		Expect(ok).To(BeTrue(), "%s disappeared", k)
		if a.template != b.template {
			changed = append(changed, k)
			for uid := range b.pods {
				Expect(a.pods).NotTo(HaveKey(uid), "%s rolled but still runs pod %s", k, uid)
			}
			continue
		}
		for uid := range b.pods {
			Expect(a.pods).To(HaveKey(uid), "%s did not roll but lost pod %s", k, uid)
		}
	}
	Expect(after).To(HaveLen(len(before)), "workloads appeared")
	sort.Strings(changed)
	return changed
}
