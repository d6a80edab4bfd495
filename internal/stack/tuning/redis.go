package tuning

import (
	"math"
	"time"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// defaultRedisTTL is redis.defaultTTL when the spec arrives without the schema defaults.
const defaultRedisTTL = 5 * time.Minute

// Redis eviction policies the engine picks.
const (
	cachePolicy  = "allkeys-lru"
	brokerPolicy = "noeviction"
)

// redis derives the cache Redis' sizing (only called when redis is enabled), with m = its
// container's memory in MiB:
//
//	maxMemory       = 3m / 4 with persistence None, m / 2 with RDB or AOF (the fork of a
//	                  snapshot or an AOF rewrite may copy up to the whole data set)
//	maxMemoryPolicy = redis.maxMemoryPolicy, else allkeys-lru
//	appendOnly      = persistence AOF; snapshots = persistence RDB
func (x *explainer) redis(s *v1alpha1.RedisSpec) RedisResult {
	in := x.inputs(Redis, s.Resources)
	r := RedisResult{Inputs: in.Inputs, Resources: in.resources}
	m := in.MemoryMiB
	r.DefaultTTLSeconds = int32(min(ceilSeconds(duration(s.DefaultTTL, defaultRedisTTL)), math.MaxInt32))

	persistence := s.Persistence
	if persistence == "" {
		persistence = v1alpha1.PersistenceNone
	}
	r.AppendOnly = persistence == v1alpha1.PersistenceAOF
	r.Snapshots = persistence == v1alpha1.PersistenceRDB
	if persistence == v1alpha1.PersistenceNone {
		r.MaxMemoryMiB = 3 * m / 4 // m < 2^44: no overflow
		x.line("redis.maxMemory", mi(r.MaxMemoryMiB), "3/4 x %s = %s (persistence None: no fork headroom needed); %s",
			mi(m), mi(r.MaxMemoryMiB), in.memoryNote())
	} else {
		r.MaxMemoryMiB = m / 2
		x.line("redis.maxMemory", mi(r.MaxMemoryMiB), "1/2 x %s = %s (persistence %s: fork headroom for %s); %s",
			mi(m), mi(r.MaxMemoryMiB), persistence, persistenceWork(persistence), in.memoryNote())
	}

	if s.MaxMemoryPolicy != "" {
		r.MaxMemoryPolicy = s.MaxMemoryPolicy
		x.line("redis.maxMemoryPolicy", r.MaxMemoryPolicy, "redis.maxMemoryPolicy = %s (explicit)", s.MaxMemoryPolicy)
	} else {
		r.MaxMemoryPolicy = cachePolicy
		x.line("redis.maxMemoryPolicy", r.MaxMemoryPolicy, "redis.maxMemoryPolicy unset: %s (a cache evicts the least recently used keys)", cachePolicy)
	}
	return r
}

// persistenceWork is what forks the Redis process in a persistence mode.
func persistenceWork(p v1alpha1.RedisPersistence) string {
	if p == v1alpha1.PersistenceAOF {
		return "append-only file rewrites"
	}
	return "snapshots"
}

// broker derives the task broker's sizing (only called with tasks), with m = its
// container's memory in MiB:
//
//	maxMemory       = m / 2 (the append-only file is on: fork headroom for its rewrites)
//	maxMemoryPolicy = noeviction (a queued task must never be dropped)
func (x *explainer) broker(s *v1alpha1.BrokerSpec) RedisResult {
	in := x.inputs(Broker, s.Resources)
	r := RedisResult{Inputs: in.Inputs, Resources: in.resources, MaxMemoryPolicy: brokerPolicy, AppendOnly: true}
	m := in.MemoryMiB

	r.MaxMemoryMiB = m / 2
	x.line("broker.maxMemory", mi(r.MaxMemoryMiB), "1/2 x %s = %s (append-only file on: fork headroom for its rewrites); %s",
		mi(m), mi(r.MaxMemoryMiB), in.memoryNote())
	x.line("broker.maxMemoryPolicy", r.MaxMemoryPolicy, "always %s: a queued task must never be evicted", brokerPolicy)
	return r
}
