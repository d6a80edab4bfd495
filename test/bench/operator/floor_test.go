package main

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestFloorCopyIsTheStacksOwnChild(t *testing.T) {
	rendered := map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{
			"name": placeholderName + "-database", "namespace": placeholderNamespace,
			"labels":          map[string]any{"app.kubernetes.io/instance": placeholderName},
			"ownerReferences": []any{map[string]any{"apiVersion": "webstack.dev/v1alpha1", "kind": "WebStack", "name": placeholderName, "uid": ""}},
		},
		"spec": map[string]any{"selector": map[string]any{"app.kubernetes.io/instance": placeholderName}},
	}
	raw, err := json.Marshal(rendered)
	if err != nil {
		t.Fatal(err)
	}
	u, err := forStack(raw, stack{name: "ws-0007", namespace: "bench-03"}, types.UID("uid-7"))
	if err != nil {
		t.Fatal(err)
	}
	if u.GetName() != "ws-0007-database" || u.GetNamespace() != "bench-03" {
		t.Errorf("named %s/%s, want bench-03/ws-0007-database", u.GetNamespace(), u.GetName())
	}
	if refs := u.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != "uid-7" || refs[0].Name != "ws-0007" {
		t.Errorf("owner references %+v, want the WebStack ws-0007 with its UID", refs)
	}
	out, _ := json.Marshal(u.Object)
	if strings.Contains(string(out), "zzbench") {
		t.Errorf("a placeholder is left: %s", out)
	}
}

func TestSecretDataIsSentAsTheOperatorSendsIt(t *testing.T) {
	obj := map[string]any{"kind": "Secret", "stringData": map[string]any{"password": "GENERATED_PASSWORD"}}
	secretData(obj)
	if _, ok := obj["stringData"]; ok {
		t.Errorf("stringData left: %v", obj)
	}
	if got := obj["data"].(map[string]any)["password"]; got != "R0VORVJBVEVEX1BBU1NXT1JE" {
		t.Errorf("data.password = %v, want the base64 of GENERATED_PASSWORD", got)
	}
}

func TestChildKeyIsTheAuditLogsResource(t *testing.T) {
	cases := map[string]struct {
		c    child
		want string
	}{
		"a Deployment":        {child{"Deployment", "-cache"}, "deployments/bench-03/ws-0007-cache"},
		"a NetworkPolicy":     {child{"NetworkPolicy", "-database"}, "networkpolicies/bench-03/ws-0007-database"},
		"an autoscaler":       {child{"HorizontalPodAutoscaler", "-app"}, "horizontalpodautoscalers/bench-03/ws-0007-app"},
		"a ConfigMap":         {child{"ConfigMap", "-cache-config"}, "configmaps/bench-03/ws-0007-cache-config"},
		"a disruption budget": {child{"PodDisruptionBudget", "-app"}, "poddisruptionbudgets/bench-03/ws-0007-app"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.c.key("bench-03", "ws-0007"); got != tc.want {
				t.Errorf("key = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTargetsAreComputedFromTheNumbers(t *testing.T) {
	ph := func(total float64) *phase { return &phase{Timing: &timing{TotalSeconds: total}} }
	run := func(n int, creation, change float64, idleWrites int) *runResult {
		c := ph(creation)
		c.Writes = []stackWrites{{Sample: "full", Children: 38, MaxNoEvents: 40}}
		return &runResult{N: n, Creation: c, Change: ph(change), Idle: &phase{Requests: requestCounts{Writes: idleWrites}}}
	}
	cases := map[string]struct {
		runs  []*runResult
		floor []*floorResult
		want  map[string]string // goal -> verdict
	}{
		"the floor itself takes most of the time": {
			runs:  []*runResult{run(1000, 316, 55, 0)},
			floor: []*floorResult{{N: 1000, Creation: ph(288), Change: ph(35)}},
			want: map[string]string{"creation at N=1000 over the bare client's": "PASS", "change at N=1000 over the bare client's": "MISS",
				"change across 1000 WebStacks": "PASS", "writes in the idle windows, all runs": "PASS"},
		},
		"the median run counts, a write at rest in any run misses": {
			runs:  []*runResult{run(100, 40, 4, 0), run(100, 20, 4, 1), run(100, 22, 4, 0)},
			floor: []*floorResult{{N: 100, Creation: ph(20), Change: ph(4)}},
			want: map[string]string{"creation at N=100 over the bare client's": "PASS", "change at N=100 over the bare client's": "PASS",
				"writes in the idle windows, all runs": "MISS"},
		},
		"no floor, no ratio": {
			runs: []*runResult{run(10, 1, 1, 0)},
			want: map[string]string{"creation: the most writes of one WebStack beyond its children + 2 (status), Events not counted": "PASS"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := &results{Runs: tc.runs, Floor: tc.floor}
			got := map[string]string{}
			for _, tg := range r.targets() {
				got[tg.Goal] = map[bool]string{true: "PASS", false: "MISS"}[tg.Measured <= tg.Limit]
			}
			for goal, want := range tc.want {
				if got[goal] != want {
					t.Errorf("%q: %q, want %q (all: %v)", goal, got[goal], want, got)
				}
			}
			if len(tc.floor) == 0 {
				for goal := range got {
					if strings.Contains(goal, "bare client") {
						t.Errorf("without a floor there is a target %q", goal)
					}
				}
			}
		})
	}
}
