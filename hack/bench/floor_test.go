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
			"name": floorName + "-database", "namespace": floorNamespace,
			"labels":          map[string]any{"app.kubernetes.io/instance": floorName},
			"ownerReferences": []any{map[string]any{"apiVersion": "webstack.dev/v1alpha1", "kind": "WebStack", "name": floorName, "uid": ""}},
		},
		"spec": map[string]any{"selector": map[string]any{"app.kubernetes.io/instance": floorName}},
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
	if strings.Contains(string(out), "zzfloor") {
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

func TestFloorFindingSaysWhoseTimeMissesTheTarget(t *testing.T) {
	cases := map[string]struct {
		floorSeconds float64
		operator     float64
		want         string
	}{
		"the floor itself is over the target": {floorSeconds: 288, operator: 316, want: "below what this API server takes"},
		"the floor is within the target":      {floorSeconds: 35, operator: 61, want: "the operator's own cost (the difference) is what misses it"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			phase := floorPhase{Timing: timing{TotalSeconds: tc.floorSeconds}}
			r := &report{Floor: []*floorResult{{N: 1000, Creation: phase, Change: phase}}}
			got := r.floorFinding(1000, "change", tc.operator, 60)
			if !strings.Contains(got, tc.want) {
				t.Errorf("finding %q does not say %q", got, tc.want)
			}
		})
	}
	if got := (&report{}).floorFinding(1000, "creation", 316, 120); got != "" {
		t.Errorf("without a floor at N=1000 the finding says %q, want nothing", got)
	}
}

func TestHeadlessWhatIfTouchesOnlyTheDataServicesClusterIPs(t *testing.T) {
	svc := func(component, clusterIP string) map[string]any {
		spec := map[string]any{"ports": []any{}}
		if clusterIP != "" {
			spec["clusterIP"] = clusterIP
		}
		return map[string]any{"kind": "Service", "metadata": map[string]any{"labels": map[string]any{"app.kubernetes.io/component": component}}, "spec": spec}
	}
	cases := map[string]struct {
		obj  map[string]any
		want string
	}{
		"the database's ClusterIP Service":       {svc("database", ""), "None"},
		"Redis":                                  {svc("redis", ""), "None"},
		"the broker":                             {svc("broker", ""), "None"},
		"the load balancer keeps its ClusterIP":  {svc("loadbalancer", ""), ""},
		"the app's headless Service stays as is": {svc("app", "None"), "None"},
		"a ConfigMap of the database":            {map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"labels": map[string]any{"app.kubernetes.io/component": "database"}}}, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			makeHeadless(tc.obj)
			spec, _ := tc.obj["spec"].(map[string]any)
			got, _ := spec["clusterIP"].(string)
			if got != tc.want {
				t.Errorf("clusterIP = %q, want %q", got, tc.want)
			}
		})
	}
}
