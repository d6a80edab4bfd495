package controllers

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// observe reads every workload of the spec from the cache into the scope's observation.
func (r *WebStackReconciler) observe(ctx context.Context, s *scope) {
	ws := s.ws
	ns := ws.Namespace
	dep := func(name string) workload {
		if d, ok := s.applied["Deployment/"+name].(*appsv1.Deployment); ok {
			return deploymentWorkload(d)
		}
		return r.deployment(ctx, ns, name)
	}
	sts := func(name string) workload {
		if st, ok := s.applied["StatefulSet/"+name].(*appsv1.StatefulSet); ok {
			return statefulSetWorkload(st)
		}
		return r.statefulSet(ctx, ns, name)
	}

	var db, redis, app, cache, lb workload
	var tasks []workload
	comps := []component{}

	if ws.Spec.Database.IsEnabled() {
		db = sts(resources.DatabaseName(ws))
		comps = append(comps, component{condition: v1alpha1.ConditionDatabaseReady, enabled: true, workloads: []workload{db}})
		s.obs.replicas.Database = replicaStatus(db)
	} else {
		comps = append(comps, component{condition: v1alpha1.ConditionDatabaseReady, disabledBy: "database.enabled: false"})
	}

	if ws.Spec.Redis.IsEnabled() {
		if ws.Spec.Redis.Persistence == v1alpha1.PersistenceNone {
			redis = dep(resources.RedisName(ws))
		} else {
			redis = sts(resources.RedisName(ws))
		}
		comps = append(comps, component{condition: v1alpha1.ConditionRedisReady, enabled: true, workloads: []workload{redis}})
		s.obs.replicas.Redis = replicaStatus(redis)
	} else {
		comps = append(comps, component{condition: v1alpha1.ConditionRedisReady, disabledBy: "redis.enabled: false"})
	}

	app = dep(resources.AppName(ws))
	comps = append(comps, component{condition: v1alpha1.ConditionAppReady, enabled: true, workloads: []workload{app}})
	s.obs.replicas.App = replicaStatus(app)

	if ws.Spec.Tasks != nil {
		worker, broker := dep(resources.TasksName(ws)), sts(resources.BrokerName(ws))
		tasks = []workload{worker, broker}
		s.obs.replicas.Tasks = replicaStatus(worker)
		s.obs.replicas.Broker = replicaStatus(broker)
		if ws.Spec.Tasks.Beat {
			beat := dep(resources.BeatName(ws))
			tasks = append(tasks, beat)
			s.obs.replicas.Beat = replicaStatus(beat)
		}
		comps = append(comps, component{condition: v1alpha1.ConditionTasksReady, enabled: true, workloads: tasks})
	} else {
		comps = append(comps, component{condition: v1alpha1.ConditionTasksReady, disabledBy: "spec.tasks being absent"})
	}

	if ws.Spec.Cache.IsEnabled() {
		cache = dep(resources.CacheName(ws))
		comps = append(comps, component{condition: v1alpha1.ConditionCacheReady, enabled: true, workloads: []workload{cache}})
		s.obs.replicas.Cache = replicaStatus(cache)
	} else {
		comps = append(comps, component{condition: v1alpha1.ConditionCacheReady, disabledBy: "cache.enabled: false"})
	}

	lb = dep(resources.LoadBalancerName(ws))
	comps = append(comps, component{condition: v1alpha1.ConditionLoadBalancerReady, enabled: true, workloads: []workload{lb}})
	s.obs.replicas.LoadBalancer = replicaStatus(lb)

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
