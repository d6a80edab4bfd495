package resources

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
)

// NetworkPolicies deny every connection to the stack's pods except the request path and
// what each component needs:
//
//   - anyone -> HAProxy's public frontend;
//   - HAProxy -> the app (and Varnish, with the cache); Varnish -> HAProxy's app listener;
//   - the app -> Varnish (PURGE and BAN);
//   - the app, task workers and beat -> the cache Redis and the broker;
//   - the app, task workers, beat and the migration Job -> PostgreSQL; with pooling, the app,
//     task workers and beat -> PgBouncer, and PgBouncer and the migration Job -> PostgreSQL.
//
// Only ingress is restricted; kubelet probes are always allowed. Disabled components have
// no policy.
func NetworkPolicies(ws *v1alpha1.WebStack) []*networkingv1.NetworkPolicy {
	spec := &ws.Spec
	cache := spec.Cache.IsEnabled()
	workers := []string{ComponentApp}
	if t := spec.Tasks; t != nil {
		workers = append(workers, ComponentTasks)
		if t.Beat {
			workers = append(workers, ComponentBeat)
		}
	}

	nps := []*networkingv1.NetworkPolicy{defaultDeny(ws)}

	lbRules := []networkingv1.NetworkPolicyIngressRule{{Ports: tcpPorts(render.HAProxyFrontendPort)}}
	if cache {
		lbRules = append(lbRules, from(ws, []string{ComponentCache}, render.HAProxyAppListenerPort))
	}
	nps = append(nps, allow(ws, LoadBalancerName(ws), ComponentLoadBalancer, lbRules...))
	nps = append(nps, allow(ws, AppName(ws), ComponentApp, from(ws, []string{ComponentLoadBalancer}, ws.Spec.App.Port)))
	if cache {
		nps = append(nps, allow(ws, CacheName(ws), ComponentCache, from(ws, []string{ComponentLoadBalancer, ComponentApp}, render.VarnishPort)))
	}
	if spec.Redis.IsEnabled() {
		nps = append(nps, allow(ws, RedisName(ws), ComponentRedis, from(ws, workers, render.RedisPort)))
	}
	if spec.Tasks != nil {
		nps = append(nps, allow(ws, BrokerName(ws), ComponentBroker, from(ws, workers, render.RedisPort)))
	}
	if spec.Database.IsEnabled() {
		clients := slices.Clone(workers)
		if spec.Database.IsPooled() {
			nps = append(nps, allow(ws, PoolerName(ws), ComponentPooler, from(ws, workers, render.PoolerPort)))
			clients = []string{ComponentPooler}
		}
		if spec.App.Migration != nil {
			clients = append(clients, ComponentMigration)
		}
		nps = append(nps, allow(ws, DatabaseName(ws), ComponentDatabase, from(ws, clients, render.PostgresPort)))
	}
	return nps
}

// defaultDeny selects every pod of the stack and allows no ingress: whatever the other
// policies do not allow is refused.
func defaultDeny(ws *v1alpha1.WebStack) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta(networkingV1, "NetworkPolicy"),
		ObjectMeta: objectMeta(ws, DefaultDenyName(ws), ComponentNetwork),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: InstanceLabels(ws)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
}

// allow is the policy named name that admits rules to component's pods.
func allow(ws *v1alpha1.WebStack, name, component string, rules ...networkingv1.NetworkPolicyIngressRule) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta(networkingV1, "NetworkPolicy"),
		ObjectMeta: objectMeta(ws, name, component),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: SelectorLabels(ws, component)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     rules,
		},
	}
}

// from admits the pods of components of this stack (same namespace) to port.
func from[P int | int32](ws *v1alpha1.WebStack, components []string, port P) networkingv1.NetworkPolicyIngressRule {
	sorted := slices.Sorted(slices.Values(components))
	return networkingv1.NetworkPolicyIngressRule{
		From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{
			MatchLabels: InstanceLabels(ws),
			MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: ComponentLabel, Operator: metav1.LabelSelectorOpIn, Values: sorted,
			}},
		}}},
		Ports: tcpPorts(port),
	}
}

func tcpPorts[P int | int32](port P) []networkingv1.NetworkPolicyPort {
	return []networkingv1.NetworkPolicyPort{{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(int32(port)))}}
}
