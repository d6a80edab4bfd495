package controllers

import (
	"os"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// TestRBACIsLeast: the generated ClusterRole has no wildcard and no verb the reconciler never
// uses (it calls no Update: children are applied, status and finalizers patched). That the
// verbs suffice is shown by test/e2e, which runs the manager with the chart's role.
func TestRBACIsLeast(t *testing.T) {
	raw, err := os.ReadFile("../config/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(raw, &role); err != nil {
		t.Fatal(err)
	}
	if len(role.Rules) == 0 {
		t.Fatal("the role has no rules")
	}
	for _, r := range role.Rules {
		for _, list := range [][]string{r.APIGroups, r.Resources, r.Verbs} {
			if slices.Contains(list, "*") {
				t.Errorf("rule %+v has a wildcard", r)
			}
		}
		for _, v := range r.Verbs {
			if v == "update" && !slices.Equal(r.Resources, []string{"webstacks/finalizers"}) {
				t.Errorf("rule %+v grants update: nothing calls Update", r)
			}
			if v == "deletecollection" || v == "escalate" || v == "bind" || v == "impersonate" {
				t.Errorf("rule %+v grants %s", r, v)
			}
		}
	}
}
