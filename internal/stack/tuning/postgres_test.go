package tuning

import (
	"math"
	"strings"
	"testing"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

func TestDatabaseBudget(t *testing.T) {
	cases := map[string]struct {
		ws          *v1alpha1.WebStack
		maxConn     int32
		budget      int32
		belowBudget bool
		warning     string
	}{
		"derived: budget is max_connections": {
			ws: webStack(t, direct, withTasks(3), withBeat()), maxConn: 2*3 + 3*1 + 1 + 10, budget: 20,
		},
		"explicit equal to the budget: no warning": {
			ws: webStack(t, direct, withMaxConnections(16)), maxConn: 16, budget: 16,
		},
		"explicit below the budget: kept, warned": {
			ws: webStack(t, direct, withMaxConnections(15)), maxConn: 15, budget: 16, belowBudget: true,
			warning: "database.maxConnections 15 is below the connection budget 16 (app 2 pods x 3 workers x 1 threads + 10 reserved): some app or task processes may fail to connect; raise it to at least 16, or remove it to derive it",
		},
		"explicit below a budget above the cap": {
			ws:      webStack(t, direct, withAutoscaling(1, 1000), withWorkers(256), withThreads(64), withMaxConnections(100000)),
			maxConn: 100000, budget: 16384010, belowBudget: true,
			warning: "database.maxConnections 100000 is below the connection budget 16384010 (app 1000 pods x 256 workers x 64 threads + 10 reserved): some app or task processes may fail to connect; lower app.workers, app.threads or the number of app pods, or pool connections (database.pooling.mode Transaction)",
		},
		"derived above the cap": {
			ws:      webStack(t, direct, withAutoscaling(1, 1000), withWorkers(200)),
			maxConn: 100000, budget: 200010, belowBudget: true,
			warning: "the connection budget 200010 (app 1000 pods x 200 workers x 1 threads + 10 reserved) exceeds 100000, the most the operator configures: lower app.workers, app.threads or the number of app pods, or pool connections (database.pooling.mode Transaction)",
		},
		"values the API rejects cannot overflow": {
			ws:      rawWebStack(direct, withReplicas(math.MaxInt32), withWorkers(math.MaxInt32), withThreads(math.MaxInt32), withTasks(math.MaxInt32), withConcurrency(math.MaxInt32), withBeat()),
			maxConn: 100000, budget: math.MaxInt32, belowBudget: true,
			warning: "the connection budget 9223372036854775807 (",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := For(c.ws)
			d := r.Database
			if d.MaxConnections != c.maxConn || d.ConnectionBudget != c.budget || d.BelowBudget() != c.belowBudget {
				t.Errorf("got maxConnections %d, budget %d, below %v; want %d, %d, %v",
					d.MaxConnections, d.ConnectionBudget, d.BelowBudget(), c.maxConn, c.budget, c.belowBudget)
			}
			switch {
			case c.warning == "" && len(r.Warnings) > 0:
				t.Errorf("unexpected warnings %q", r.Warnings)
			case c.warning != "" && (len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], c.warning)):
				t.Errorf("warnings %q, want one starting with %q", r.Warnings, c.warning)
			}
		})
	}
}

func TestDisabledDatabaseHasNoBudget(t *testing.T) {
	r := For(webStack(t, withoutDatabase(), withMaxConnections(1)))
	if r.Database != nil || len(r.Warnings) != 0 {
		t.Errorf("database %+v, warnings %q; want none", r.Database, r.Warnings)
	}
	if r.Database.BelowBudget() {
		t.Errorf("a disabled database is below its budget")
	}
	for _, l := range r.Lines {
		if strings.HasPrefix(l.Path, "database.") {
			t.Errorf("line %s for a disabled database", l.Path)
		}
	}
}

func TestDatabaseMemorySplit(t *testing.T) {
	cases := map[string]struct {
		memory string
		// sharedBuffers, effectiveCacheSize, workMem, maintenanceWorkMem with the default 16 connections
		want [4]int64
	}{
		"1Gi":                   {"1Gi", [4]int64{256, 768, 16, 64}},
		"tiny: workMem floor":   {"64Mi", [4]int64{16, 48, 4, 4}},
		"zero":                  {"0", [4]int64{0, 0, 4, 0}},
		"odd MiB round down":    {"1023Mi", [4]int64{255, 767, 16, 63}},
		"32Gi: maintenance cap": {"32Gi", [4]int64{8192, 24576, 512, 2048}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d := For(webStack(t, direct, withResources(Database, list("memory", c.memory), nil))).Database
			got := [4]int64{d.SharedBuffersMiB, d.EffectiveCacheSizeMiB, d.WorkMemMiB, d.MaintenanceWorkMemMiB}
			if got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// direct turns the pooler off: the budget counts every app and task process.
var direct = withPooling(v1alpha1.PoolingNone)
