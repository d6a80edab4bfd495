package tuning

import (
	"fmt"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// maxStatusWarnings is the most warnings status.tuning.warnings holds (its MaxItems).
const maxStatusWarnings = 16

// Status is r as status.tuning shows it: memory as "<n>Mi" quantities, disabled components
// absent, and Warnings never nil (an empty list prints as []). More than 16 warnings are cut
// to 15 and a last one that says how many were left out.
func (r Result) Status() v1alpha1.TuningStatus {
	s := v1alpha1.TuningStatus{
		App: v1alpha1.AppTuning{
			WorkersPerPod:                 r.App.WorkersPerPod,
			ThreadsPerWorker:              r.App.ThreadsPerWorker,
			MaxPods:                       r.App.MaxPods,
			TerminationGracePeriodSeconds: r.App.TerminationGracePeriodSeconds,
		},
		LoadBalancer: v1alpha1.LoadBalancerTuning{
			MaxConnections:       r.LoadBalancer.MaxConnections,
			Threads:              r.LoadBalancer.Threads,
			ServerMaxConnections: r.LoadBalancer.ServerMaxConnections,
			ServerSlots:          r.LoadBalancer.ServerSlots,
		},
		Warnings: statusWarnings(r.Warnings),
	}
	if t := r.Tasks; t != nil {
		s.Tasks = &v1alpha1.TasksTuning{Concurrency: t.Concurrency, Pods: t.Pods}
	}
	if d := r.Database; d != nil {
		s.Database = &v1alpha1.DatabaseTuning{
			MaxConnections:     d.MaxConnections,
			SharedBuffers:      mi(d.SharedBuffersMiB),
			EffectiveCacheSize: mi(d.EffectiveCacheSizeMiB),
			WorkMem:            mi(d.WorkMemMiB),
			MaintenanceWorkMem: mi(d.MaintenanceWorkMemMiB),
		}
	}
	if p := r.Pooler; p != nil {
		s.Pooler = &v1alpha1.PoolerTuning{
			Replicas:             p.Replicas,
			PoolSize:             p.PoolSize,
			ReservePoolSize:      p.ReservePoolSize,
			MaxClientConnections: p.MaxClientConnections,
		}
	}
	if c := r.Redis; c != nil {
		s.Redis = &v1alpha1.RedisTuning{MaxMemory: mi(c.MaxMemoryMiB), MaxMemoryPolicy: c.MaxMemoryPolicy}
	}
	if b := r.Broker; b != nil {
		s.Broker = &v1alpha1.RedisTuning{MaxMemory: mi(b.MaxMemoryMiB), MaxMemoryPolicy: b.MaxMemoryPolicy}
	}
	if c := r.Cache; c != nil {
		s.Cache = &v1alpha1.CacheTuning{Storage: mi(c.StorageMiB), Transient: mi(c.TransientMiB)}
	}
	return s
}

// statusWarnings is a copy of ws that fits status.tuning.warnings, never nil.
func statusWarnings(ws []string) []string {
	if len(ws) <= maxStatusWarnings {
		return append([]string{}, ws...)
	}
	out := append([]string{}, ws[:maxStatusWarnings-1]...)
	return append(out, fmt.Sprintf("... and %d more warnings", len(ws)-(maxStatusWarnings-1)))
}
