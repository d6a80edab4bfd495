package tuning

import (
	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// maxHAProxyThreads is the most threads (nbthread) one HAProxy pod runs.
const maxHAProxyThreads = 64

// loadBalancer derives HAProxy's sizing:
//
//	maxConnections       = loadBalancer.maxConnections
//	threads              = min(64, max(1, floor(cores)))
//	serverMaxConnections = max(1, ceil(workersPerPod x threadsPerWorker / loadBalancer.replicas)),
//	                       so that all HAProxy pods together never send an app pod more concurrent
//	                       requests than its workers can serve; the rest wait in HAProxy's queue
//	                       (bounded by timeouts.queue)
//	serverSlots          = max(8, the power of two at or above app.maxPods) (server-template
//	                       slots): headroom, so that scaling the app changes nothing in
//	                       haproxy.cfg until it crosses a power of two
//
// loadBalancer.replicas below 1 (the API forbids it) counts as 1.
func (x *explainer) loadBalancer(s *v1alpha1.LoadBalancerSpec, app AppResult) LoadBalancerResult {
	in := x.inputs(LoadBalancer, s.Resources)
	r := LoadBalancerResult{Inputs: in.Inputs, Resources: in.resources}

	r.MaxConnections = s.MaxConnections
	x.line("loadBalancer.maxConnections", itoa(r.MaxConnections), "loadBalancer.maxConnections = %d", s.MaxConnections)

	r.Threads = int32(min(maxHAProxyThreads, max(1, in.MilliCPU/1000)))
	x.line("loadBalancer.threads", itoa(r.Threads), "min(%d, max(1, floor(%s cores))) = %d; %s",
		maxHAProxyThreads, cores(in.MilliCPU), r.Threads, in.cpuNote())

	replicas := max(1, s.Replicas)
	perPod := satMul(int64(app.WorkersPerPod), int64(app.ThreadsPerWorker))
	r.ServerMaxConnections = clamp32(max(1, ceilDiv(perPod, int64(replicas))))
	x.line("loadBalancer.serverMaxConnections", itoa(r.ServerMaxConnections),
		"max(1, ceil(%d workers x %d threads / %d HAProxy replicas)) = %d: together the HAProxy pods never send an app pod more requests than it can serve; the rest queue",
		app.WorkersPerPod, app.ThreadsPerWorker, replicas, r.ServerMaxConnections)

	r.ServerSlots = serverSlots(app.MaxPods)
	x.line("loadBalancer.serverSlots", itoa(r.ServerSlots),
		"max(%d, the power of two at or above app.maxPods %d) = %d: empty slots wait for pods, so scaling the app reloads nothing",
		minServerSlots, app.MaxPods, r.ServerSlots)
	return r
}

// minServerSlots is the fewest app server slots: small stacks scale within them.
const minServerSlots = 8

// serverSlots is max(minServerSlots, the smallest power of two >= pods), at most MaxInt32.
func serverSlots(pods int32) int32 {
	n := int64(minServerSlots)
	for n < int64(pods) {
		n *= 2
	}
	return clamp32(n)
}
