package controllers

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// observe reads every workload of the plan's components from the cache into the scope's
// observation.
func (r *WebStackReconciler) observe(ctx context.Context, s *scope) {
	ns := s.ws.Namespace
	read := func(w stack.Workload) workload {
		switch w.Kind {
		case "StatefulSet":
			if st, ok := s.applied["StatefulSet/"+w.Name].(*appsv1.StatefulSet); ok {
				return statefulSetWorkload(st)
			}
			return r.statefulSet(ctx, ns, w.Name)
		default:
			if d, ok := s.applied["Deployment/"+w.Name].(*appsv1.Deployment); ok {
				return deploymentWorkload(d)
			}
			return r.deployment(ctx, ns, w.Name)
		}
	}
	comps := make([]component, 0, len(s.plan.Components))
	for _, c := range s.plan.Components {
		if c.DisabledBy != "" {
			comps = append(comps, component{condition: c.Condition, disabledBy: c.DisabledBy})
			continue
		}
		seen := make([]workload, 0, len(c.Workloads))
		for _, w := range c.Workloads {
			o := read(w)
			seen = append(seen, o)
			setReplicas(&s.obs.replicas, w.Component, replicaStatus(o))
		}
		comps = append(comps, component{condition: c.Condition, enabled: true, workloads: seen})
	}
	s.obs.components = comps
}

// deployment reads a Deployment from the cache. The workloads a reconcile wrote are taken
// from the API server's answer instead (scope.applied): the cache may not hold that version
// yet, and the watch event of our own write starts no second reconcile to correct it.
func (r *WebStackReconciler) deployment(ctx context.Context, ns, name string) workload {
	var d appsv1.Deployment
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
		return workload{name: "deployment/" + name}
	}
	return deploymentWorkload(&d)
}

func deploymentWorkload(d *appsv1.Deployment) workload {
	s := d.Status
	return observed("deployment/"+d.Name, d.Spec.Replicas, s.ReadyReplicas, s.UpdatedReplicas, s.ObservedGeneration >= d.Generation)
}

func (r *WebStackReconciler) statefulSet(ctx context.Context, ns, name string) workload {
	var st appsv1.StatefulSet
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &st); err != nil {
		return workload{name: "statefulset/" + name}
	}
	return statefulSetWorkload(&st)
}

func statefulSetWorkload(st *appsv1.StatefulSet) workload {
	s := st.Status
	return observed("statefulset/"+st.Name, st.Spec.Replicas, s.ReadyReplicas, s.UpdatedReplicas, s.ObservedGeneration >= st.Generation)
}

// observed is an existing workload; replicas nil means the API default of 1.
func observed(name string, replicas *int32, ready, updated int32, current bool) workload {
	desired := int32(1)
	if replicas != nil {
		desired = *replicas
	}
	return workload{name: name, exists: true, desired: desired, ready: ready, updated: updated, current: current}
}

// setReplicas puts a workload's replicas at its component's place in status.components.
func setReplicas(cs *v1alpha1.ComponentsStatus, component string, st *v1alpha1.ComponentStatus) {
	switch component {
	case resources.ComponentApp:
		cs.App = st
	case resources.ComponentTasks:
		cs.Tasks = st
	case resources.ComponentBeat:
		cs.Beat = st
	case resources.ComponentBroker:
		cs.Broker = st
	case resources.ComponentRedis:
		cs.Redis = st
	case resources.ComponentDatabase:
		cs.Database = st
	case resources.ComponentCache:
		cs.Cache = st
	case resources.ComponentLoadBalancer:
		cs.LoadBalancer = st
	}
}
