package tuning

import (
	"path/filepath"
	"testing"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

func TestPooler(t *testing.T) {
	type want struct {
		replicas, pool, reserve, maxClient, servers, maxConnections int32
	}
	cases := map[string]struct {
		opts    []option
		want    want
		explain map[string]string
	}{
		// 1 cpu: 2 x 1 + 4 = 6 over 2 replicas; (2 + 1 surge) x (3 + 1) + 10 = 22.
		"defaults: transaction mode, 2 replicas": {
			want: want{replicas: 2, pool: 3, reserve: 1, maxClient: 100, servers: 12, maxConnections: 22},
			explain: map[string]string{
				"pooler.replicas":             "app.maxPods 2 >= 2: 2 pooler pods (one can restart while the other serves)",
				"pooler.poolSize":             "ceil((2 x 1 database cores + 4) / 2 replicas) = ceil(6 / 2) = 3 server connections per pooler pod (database cpu 1 rounded up)",
				"pooler.reservePoolSize":      "max(1, ceil(3 / 4)) = 1, for clients that waited 1s",
				"pooler.maxClientConnections": "max(100, 2 x client budget 6) = 100 per pooler pod (every client may land on one pod); client budget: app 2 pods x 3 workers x 1 threads",
				"database.maxConnections":     "pooler (2 replicas + 1 rollout surge) x (pool 3 + reserve 1) + 10 reserved = 22 (reserved: 3 superuser, the migration Job, admin and monitoring sessions)",
			},
		},
		// The point of the pooler: 20 app pods need no more PostgreSQL connections than 2.
		"autoscaling to 20 pods: max_connections unchanged, max_client_conn grows": {
			opts: []option{withAutoscaling(2, 20), withTasks(2), withBeat()},
			want: want{replicas: 2, pool: 3, reserve: 1, maxClient: 2 * (20*3 + 2 + 1), servers: 12, maxConnections: 22},
		},
		"one app pod: one pooler": {
			opts: []option{withReplicas(1)},
			want: want{replicas: 1, pool: 6, reserve: 2, maxClient: 100, servers: 16, maxConnections: 26},
		},
		// 3.5 cpu rounds up to 4: 2 x 4 + 4 = 12 over 3 replicas = 4; surge ceil(3/4) = 1.
		"database cpu and explicit replicas": {
			opts: []option{withResources(Database, nil, list("cpu", "3500m")), withPoolerReplicas(3)},
			want: want{replicas: 3, pool: 4, reserve: 1, maxClient: 100, servers: 20, maxConnections: 30},
		},
		// Session mode: a server connection per client, 2 x 3 x 2 = 12 clients over 2 replicas.
		"session mode": {
			opts: []option{withPooling(v1alpha1.PoolingSession), withThreads(2)},
			want: want{replicas: 2, pool: 6, reserve: 2, maxClient: 100, servers: 24, maxConnections: 34},
		},
		"explicit maxConnections below the pooled budget warns": {
			opts: []option{withMaxConnections(20)},
			want: want{replicas: 2, pool: 3, reserve: 1, maxClient: 100, servers: 12, maxConnections: 20},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := For(webStack(t, c.opts...))
			p := r.Pooler
			if p == nil {
				t.Fatal("no pooler")
			}
			got := want{p.Replicas, p.PoolSize, p.ReservePoolSize, p.MaxClientConnections, p.ServerConnections, r.Database.MaxConnections}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
			if below := r.Database.MaxConnections < int32(p.ServerConnections)+reservedConnections; below != r.Database.BelowBudget() || below != (len(r.Warnings) == 1) {
				t.Errorf("below the pooled budget %v, BelowBudget %v, warnings %q", below, r.Database.BelowBudget(), r.Warnings)
			}
			checkExplanations(t, r, c.explain)
			checkLinesMatchStatus(t, r)
			golden(t, filepath.Join("testdata", "pooler", fileName(name)+".json"), r.Pooler)
		})
	}
}

func TestNoPooler(t *testing.T) {
	cases := map[string][]option{
		"mode None":         {withPooling(v1alpha1.PoolingNone)},
		"database disabled": {withoutDatabase()},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			r := For(webStack(t, opts...))
			if r.Pooler != nil || r.Status().Pooler != nil {
				t.Errorf("pooler %+v without a pooler", r.Pooler)
			}
			for _, l := range r.Lines {
				if len(l.Path) > 7 && l.Path[:7] == "pooler." {
					t.Errorf("line %s without a pooler", l.Path)
				}
			}
		})
	}
}
