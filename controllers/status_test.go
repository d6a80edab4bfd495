package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack"
)

func ready(name string, n int32) workload {
	return workload{name: name, exists: true, desired: n, ready: n, updated: n, current: true}
}

// allReady is an observation of a stack whose every component rolled out.
func allReady() observation {
	return observation{
		generation: 3,
		components: []component{
			{condition: v1alpha1.ConditionDatabaseReady, enabled: true, workloads: []workload{ready("statefulset/shop-database", 1)}},
			{condition: v1alpha1.ConditionRedisReady, enabled: true, workloads: []workload{ready("deployment/shop-redis", 1)}},
			{condition: v1alpha1.ConditionAppReady, enabled: true, workloads: []workload{ready("deployment/shop-app", 2)}},
			{condition: v1alpha1.ConditionTasksReady, disabledBy: "spec.tasks being absent"},
			{condition: v1alpha1.ConditionCacheReady, enabled: true, workloads: []workload{ready("deployment/shop-cache", 2)}},
			{condition: v1alpha1.ConditionLoadBalancerReady, enabled: true, workloads: []workload{ready("deployment/shop-loadbalancer", 2)}},
		},
	}
}

func with(o observation, change func(*observation)) observation {
	o.components = append([]component(nil), o.components...)
	change(&o)
	return o
}

// setWorkload replaces the first workload of the component with condition t.
func setWorkload(o *observation, t string, w workload) {
	for i, c := range o.components {
		if c.condition == t {
			c.workloads = []workload{w}
			o.components[i] = c
		}
	}
}

type want struct {
	status, reason string
	message        string // a part of the message
}

func TestComputeStatus(t *testing.T) {
	cases := map[string]struct {
		obs   observation
		wants map[string]want
	}{
		"everything ready": {
			obs: allReady(),
			wants: map[string]want{
				v1alpha1.ConditionReady:       {"True", v1alpha1.ReasonReady, "generation 3"},
				v1alpha1.ConditionProgressing: {"False", v1alpha1.ReasonStable, ""},
				v1alpha1.ConditionDegraded:    {"False", v1alpha1.ReasonAsExpected, ""},
				v1alpha1.ConditionTasksReady:  {"True", v1alpha1.ReasonDisabled, "spec.tasks"},
				v1alpha1.ConditionAppReady:    {"True", v1alpha1.ReasonReady, ""},
			},
		},
		"app not created yet": {
			obs: with(allReady(), func(o *observation) {
				setWorkload(o, v1alpha1.ConditionAppReady, workload{name: "deployment/shop-app"})
			}),
			wants: map[string]want{
				v1alpha1.ConditionReady:    {"False", v1alpha1.ReasonComponentsNotReady, "App"},
				v1alpha1.ConditionAppReady: {"False", v1alpha1.ReasonPending, "deployment/shop-app not created yet"},
			},
		},
		"database pods not ready": {
			obs: with(allReady(), func(o *observation) {
				setWorkload(o, v1alpha1.ConditionDatabaseReady, workload{name: "statefulset/shop-database", exists: true, desired: 1, updated: 1, current: true})
			}),
			wants: map[string]want{
				v1alpha1.ConditionReady:         {"False", v1alpha1.ReasonComponentsNotReady, "Database"},
				v1alpha1.ConditionDatabaseReady: {"False", v1alpha1.ReasonPending, "0/1 pods ready"},
				v1alpha1.ConditionProgressing:   {"False", v1alpha1.ReasonStable, ""},
			},
		},
		"cache rolling out a new config": {
			obs: with(allReady(), func(o *observation) {
				setWorkload(o, v1alpha1.ConditionCacheReady, workload{name: "deployment/shop-cache", exists: true, desired: 2, ready: 2, updated: 1, current: true})
			}),
			wants: map[string]want{
				v1alpha1.ConditionReady:       {"False", v1alpha1.ReasonComponentsNotReady, "Cache"},
				v1alpha1.ConditionProgressing: {"True", v1alpha1.ReasonRollingOut, "deployment/shop-cache"},
				v1alpha1.ConditionCacheReady:  {"False", v1alpha1.ReasonPending, "1/2 pods ready and updated"},
			},
		},
		"workload controller has not seen the new spec": {
			obs: with(allReady(), func(o *observation) {
				setWorkload(o, v1alpha1.ConditionLoadBalancerReady, workload{name: "deployment/shop-loadbalancer", exists: true, desired: 2, ready: 2, updated: 2})
			}),
			wants: map[string]want{
				v1alpha1.ConditionReady:             {"False", v1alpha1.ReasonComponentsNotReady, "LoadBalancer"},
				v1alpha1.ConditionProgressing:       {"True", v1alpha1.ReasonRollingOut, "deployment/shop-loadbalancer"},
				v1alpha1.ConditionLoadBalancerReady: {"False", v1alpha1.ReasonPending, ""},
			},
		},
		"migration running": {
			obs: with(allReady(), func(o *observation) {
				o.migration, o.migrationJob, o.pendingImage = migrationRunning, "shop-migrate-abc", "shop:1.5"
			}),
			wants: map[string]want{
				v1alpha1.ConditionReady:       {"False", v1alpha1.ReasonMigrating, "migration"},
				v1alpha1.ConditionProgressing: {"True", v1alpha1.ReasonMigrating, "shop-migrate-abc"},
				v1alpha1.ConditionDegraded:    {"False", v1alpha1.ReasonAsExpected, ""},
			},
		},
		"migration failed": {
			obs: with(allReady(), func(o *observation) {
				o.migration, o.migrationJob, o.pendingImage = migrationFailed, "shop-migrate-abc", "shop:1.5"
			}),
			wants: map[string]want{
				v1alpha1.ConditionReady:       {"False", v1alpha1.ReasonMigrating, ""},
				v1alpha1.ConditionProgressing: {"False", v1alpha1.ReasonStable, ""},
				v1alpha1.ConditionDegraded:    {"True", v1alpha1.ReasonMigrationFailed, "shop:1.5"},
			},
		},
		"connection budget exceeded": {
			obs: with(allReady(), func(o *observation) {
				o.budgetShort = true
				o.warnings = []string{"database.maxConnections 20 is below the connection budget 42"}
			}),
			wants: map[string]want{
				v1alpha1.ConditionReady:    {"True", v1alpha1.ReasonReady, ""},
				v1alpha1.ConditionDegraded: {"True", v1alpha1.ReasonConnectionBudgetExceeded, "below the connection budget 42"},
			},
		},
		"apply failed": {
			obs: with(allReady(), func(o *observation) {
				o.failure = &failure{reason: v1alpha1.ReasonApplyFailed, err: errors.New("applying Service shop-app: forbidden")}
			}),
			wants: map[string]want{
				v1alpha1.ConditionReady:    {"False", v1alpha1.ReasonApplyFailed, "forbidden"},
				v1alpha1.ConditionDegraded: {"True", v1alpha1.ReasonApplyFailed, "forbidden"},
			},
		},
		"apply failure wins over a failed migration": {
			obs: with(allReady(), func(o *observation) {
				o.failure = &failure{reason: v1alpha1.ReasonApplyFailed, err: errors.New("boom")}
				o.migration = migrationFailed
			}),
			wants: map[string]want{v1alpha1.ConditionDegraded: {"True", v1alpha1.ReasonApplyFailed, "boom"}},
		},
		"a failure while components are not ready: Ready says which are not": {
			obs: with(allReady(), func(o *observation) {
				o.failure = &failure{reason: v1alpha1.ReasonPruneFailed, err: errors.New("pruning Service shop-cache: forbidden")}
				setWorkload(o, v1alpha1.ConditionAppReady, workload{name: "deployment/shop-app"})
			}),
			wants: map[string]want{
				v1alpha1.ConditionReady:    {"False", v1alpha1.ReasonComponentsNotReady, "App"},
				v1alpha1.ConditionDegraded: {"True", v1alpha1.ReasonPruneFailed, "pruning Service shop-cache"},
			},
		},
		"scaled to zero is ready": {
			obs: with(allReady(), func(o *observation) {
				setWorkload(o, v1alpha1.ConditionAppReady, workload{name: "deployment/shop-app", exists: true, current: true})
			}),
			wants: map[string]want{v1alpha1.ConditionAppReady: {"True", v1alpha1.ReasonReady, ""}},
		},
	}
	// Every phase's failure shows under its own reason, in Degraded and in Ready.
	for _, f := range []struct{ reason, err string }{
		{v1alpha1.ReasonCredentialsFailed, "secret shop-database-credentials has no key \"app-password\""},
		{v1alpha1.ReasonMigrationJobFailed, "creating migration job shop-migrate-abc: forbidden"},
		{v1alpha1.ReasonRenderFailed, "rendering configs: varnish: storage too small"},
		{v1alpha1.ReasonBuildFailed, "building children: no database password"},
		{v1alpha1.ReasonApplyFailed, "applying Deployment shop-app: forbidden"},
		{v1alpha1.ReasonPruneFailed, "pruning Service shop-cache: forbidden"},
		{v1alpha1.ReasonVolumeExpansionFailed, "expanding claim data-shop-database-0 to 20Gi: forbidden"},
	} {
		cases[f.reason] = struct {
			obs   observation
			wants map[string]want
		}{
			obs: with(allReady(), func(o *observation) { o.failure = &failure{reason: f.reason, err: errors.New(f.err)} }),
			wants: map[string]want{
				v1alpha1.ConditionReady:    {"False", f.reason, "the stack does not match the spec: " + f.err},
				v1alpha1.ConditionDegraded: {"True", f.reason, f.err},
			},
		}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			st := computeStatus(v1alpha1.WebStackStatus{}, c.obs)
			if st.ObservedGeneration != c.obs.generation {
				t.Errorf("observedGeneration = %d, want %d", st.ObservedGeneration, c.obs.generation)
			}
			if len(st.Conditions) != 9 {
				t.Errorf("want 9 conditions, got %d", len(st.Conditions))
			}
			if st.Conditions[0].Type != v1alpha1.ConditionReady {
				t.Errorf("Ready must come first, got %s", st.Conditions[0].Type)
			}
			for typ, w := range c.wants {
				got := meta.FindStatusCondition(st.Conditions, typ)
				if got == nil {
					t.Fatalf("no %s condition", typ)
				}
				if string(got.Status) != w.status || got.Reason != w.reason || !strings.Contains(got.Message, w.message) {
					t.Errorf("%s = %s/%s %q, want %s/%s containing %q", typ, got.Status, got.Reason, got.Message, w.status, w.reason, w.message)
				}
				if got.ObservedGeneration != c.obs.generation {
					t.Errorf("%s observedGeneration = %d", typ, got.ObservedGeneration)
				}
			}
		})
	}
}

func TestComputeStatusIsStable(t *testing.T) {
	first := computeStatus(v1alpha1.WebStackStatus{}, allReady())
	// Pretend an hour passed: an unchanged observation must give an identical status, so the
	// reconciler writes nothing.
	for i := range first.Conditions {
		first.Conditions[i].LastTransitionTime = metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	}
	again := computeStatus(first, allReady())
	for i := range first.Conditions {
		if first.Conditions[i] != again.Conditions[i] {
			t.Errorf("condition %s changed: %+v -> %+v", first.Conditions[i].Type, first.Conditions[i], again.Conditions[i])
		}
	}
	// A transition moves the time of that condition only.
	notReady := with(allReady(), func(o *observation) {
		setWorkload(o, v1alpha1.ConditionAppReady, workload{name: "deployment/shop-app"})
	})
	changed := computeStatus(first, notReady)
	readyCond := meta.FindStatusCondition(changed.Conditions, v1alpha1.ConditionReady)
	cacheCond := meta.FindStatusCondition(changed.Conditions, v1alpha1.ConditionCacheReady)
	if readyCond.LastTransitionTime == first.Conditions[0].LastTransitionTime {
		t.Errorf("Ready changed status but kept its transition time")
	}
	if cacheCond.LastTransitionTime != meta.FindStatusCondition(first.Conditions, v1alpha1.ConditionCacheReady).LastTransitionTime {
		t.Errorf("CacheReady did not change but its transition time moved")
	}
}

func TestReplicaStatus(t *testing.T) {
	got := replicaStatus(workload{desired: 3, ready: 1}, workload{desired: 1, ready: 1})
	if got.Desired != 4 || got.Ready != 2 || got.Replicas != "2/4" {
		t.Fatalf("got %+v", got)
	}
}

func TestPhaseFailureReasons(t *testing.T) {
	r := &WebStackReconciler{}
	byName := map[string]phase{}
	for _, p := range r.phases() {
		byName[p.name] = p
	}
	cases := map[string]struct {
		phase string
		err   error
		want  string
	}{
		"credentials":            {"credentials", errors.New("reading secret x: timeout"), v1alpha1.ReasonCredentialsFailed},
		"reading the Job":        {"migration gate", errors.New("reading migration job x: timeout"), v1alpha1.ReasonMigrationJobFailed},
		"creating the Job":       {"migration", errors.New("creating migration job x: forbidden"), v1alpha1.ReasonMigrationJobFailed},
		"rendering the configs":  {"plan", &stack.BuildError{Step: stack.StepRender, Err: errors.New("rendering configs: x")}, v1alpha1.ReasonRenderFailed},
		"building the objects":   {"plan", &stack.BuildError{Step: stack.StepObjects, Err: errors.New("building children: x")}, v1alpha1.ReasonBuildFailed},
		"a wrapped render error": {"plan", fmt.Errorf("plan: %w", &stack.BuildError{Step: stack.StepRender, Err: errors.New("x")}), v1alpha1.ReasonRenderFailed},
		"applying":               {"apply", errors.New("applying Service x: forbidden"), v1alpha1.ReasonApplyFailed},
		"pruning":                {"prune", errors.New("pruning Service x: forbidden"), v1alpha1.ReasonPruneFailed},
		"expanding a volume":     {"volume expansion", errors.New("expanding claim x: forbidden"), v1alpha1.ReasonVolumeExpansionFailed},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p, ok := byName[c.phase]
			if !ok {
				t.Fatalf("no phase %q", c.phase)
			}
			if got := p.failureReason(c.err); got != c.want {
				t.Errorf("reason = %s, want %s", got, c.want)
			}
		})
	}
	if len(byName) != 7 {
		t.Errorf("%d phases, want 7: give a new phase its own reason and a case here", len(byName))
	}
}
