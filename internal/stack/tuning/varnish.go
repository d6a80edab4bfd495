package tuning

import (
	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// cache derives Varnish's sizing (only called when the cache is enabled), with m = its
// container's memory in MiB:
//
//	storage   = 3m / 5 (malloc cache storage)
//	transient = m / 10 (bounded Transient storage for short-lived and uncacheable objects)
//
// The remaining 3/10 is for Varnish's own threads, workspaces and per-object overhead.
func (x *explainer) cache(s *v1alpha1.CacheSpec) CacheResult {
	in := x.inputs(Cache, s.Resources)
	r := CacheResult{Inputs: in.Inputs, Resources: in.resources}
	m := in.MemoryMiB

	r.StorageMiB = 3 * m / 5 // m < 2^44: no overflow
	x.line("cache.storage", mi(r.StorageMiB), "3/5 x %s = %s (malloc storage); %s", mi(m), mi(r.StorageMiB), in.memoryNote())

	r.TransientMiB = m / 10
	x.line("cache.transient", mi(r.TransientMiB), "1/10 x %s = %s (bounded Transient storage)", mi(m), mi(r.TransientMiB))
	return r
}
