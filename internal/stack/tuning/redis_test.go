package tuning

import (
	"testing"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

func TestRedis(t *testing.T) {
	cases := map[string]struct {
		opts                  []option
		maxMemory             int64
		policy                string
		appendOnly, snapshots bool
	}{
		"None: 3/4":             {maxMemory: 192, policy: "allkeys-lru"},
		"RDB: 1/2, snapshots":   {opts: []option{withPersistence(v1alpha1.PersistenceRDB)}, maxMemory: 128, policy: "allkeys-lru", snapshots: true},
		"AOF: 1/2, append-only": {opts: []option{withPersistence(v1alpha1.PersistenceAOF)}, maxMemory: 128, policy: "allkeys-lru", appendOnly: true},
		"explicit policy":       {opts: []option{withRedisPolicy("volatile-ttl")}, maxMemory: 192, policy: "volatile-ttl"},
		"3/4 of 1001Mi = 750":   {opts: []option{withResources(Redis, list("memory", "1001Mi"), nil)}, maxMemory: 750, policy: "allkeys-lru"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := For(webStack(t, c.opts...)).Redis
			if r.MaxMemoryMiB != c.maxMemory || r.MaxMemoryPolicy != c.policy || r.AppendOnly != c.appendOnly || r.Snapshots != c.snapshots {
				t.Errorf("got %+v, want maxMemory %d, policy %s, appendOnly %v, snapshots %v",
					*r, c.maxMemory, c.policy, c.appendOnly, c.snapshots)
			}
		})
	}
}

func TestBroker(t *testing.T) {
	cases := map[string]struct {
		opts      []option
		maxMemory int64
	}{
		"default 256Mi":          {opts: []option{withTasks(1)}, maxMemory: 128},
		"request 1Gi":            {opts: []option{withResources(Broker, nil, list("memory", "1Gi"))}, maxMemory: 512},
		"odd MiB round down":     {opts: []option{withResources(Broker, list("memory", "301Mi"), nil)}, maxMemory: 150},
		"cache redis policy too": {opts: []option{withTasks(1), withRedisPolicy("allkeys-lfu")}, maxMemory: 128},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b := For(webStack(t, c.opts...)).Broker
			if b.MaxMemoryMiB != c.maxMemory || b.MaxMemoryPolicy != "noeviction" || !b.AppendOnly || b.Snapshots {
				t.Errorf("got %+v, want maxMemory %d, noeviction, append-only, no snapshots", *b, c.maxMemory)
			}
		})
	}
}
