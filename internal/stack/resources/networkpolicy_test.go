package resources

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
)

// outside is a client that is not a pod of the stack.
const outside = ""

// allowed evaluates the NetworkPolicies of one namespace as a CNI does: a connection from
// a pod of component from (outside: anything else) to a pod of component to on TCP port is
// allowed when no policy selects the destination, or one that does has an ingress rule
// matching the source and the port.
func allowed(t *testing.T, ws *v1alpha1.WebStack, nps []*networkingv1.NetworkPolicy, from, to string, port int32) bool {
	t.Helper()
	selector := func(ls *metav1.LabelSelector) labels.Selector {
		s, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	dst := labels.Set(Labels(ws, to))
	isolated := false
	for _, np := range nps {
		if !selector(&np.Spec.PodSelector).Matches(dst) {
			continue
		}
		isolated = true
		for _, r := range np.Spec.Ingress {
			peerOK := len(r.From) == 0
			for _, p := range r.From {
				if p.NamespaceSelector != nil || p.IPBlock != nil {
					t.Fatalf("%s: only pod selectors are expected", np.Name)
				}
				if from != outside && selector(p.PodSelector).Matches(labels.Set(Labels(ws, from))) {
					peerOK = true
				}
			}
			portOK := len(r.Ports) == 0
			for _, p := range r.Ports {
				if p.Port != nil && p.Port.IntVal == port && (p.Protocol == nil || *p.Protocol == "TCP") {
					portOK = true
				}
			}
			if peerOK && portOK {
				return true
			}
		}
	}
	return !isolated
}

func TestNetworkPolicies(t *testing.T) {
	type flow struct {
		from, to string
		port     int32
		allowed  bool
	}
	const (
		lb, app, cache, tasks, beat, migration = ComponentLoadBalancer, ComponentApp, ComponentCache, ComponentTasks, ComponentBeat, ComponentMigration
		redis, broker, db, pooler              = ComponentRedis, ComponentBroker, ComponentDatabase, ComponentPooler
		public, listener, stats, varnish       = render.HAProxyFrontendPort, render.HAProxyAppListenerPort, render.HAProxyStatsPort, render.VarnishPort
		appPort, redisPort, pgPort, poolerPort = 8000, render.RedisPort, render.PostgresPort, render.PoolerPort
	)
	cases := map[string]struct {
		opts  []option
		flows []flow
	}{
		"every component": {
			opts: []option{withTasks(2), withBeat(), withMigration("manage.py", "migrate")},
			flows: []flow{
				{outside, lb, public, true},
				{outside, lb, listener, false},
				{outside, lb, stats, false},
				{outside, app, appPort, false},
				{outside, cache, varnish, false},
				{outside, db, pgPort, false},
				{outside, redis, redisPort, false},
				{lb, cache, varnish, true},
				{lb, app, appPort, true},
				{lb, db, pgPort, false},
				{cache, lb, listener, true},
				{cache, app, appPort, false},
				{app, cache, varnish, true},
				{app, redis, redisPort, true},
				{app, broker, redisPort, true},
				{app, db, pgPort, false},
				{app, pooler, poolerPort, true},
				{pooler, db, pgPort, true},
				{outside, pooler, poolerPort, false},
				{lb, pooler, poolerPort, false},
				{app, lb, public, true},
				{tasks, redis, redisPort, true},
				{tasks, broker, redisPort, true},
				{tasks, db, pgPort, false},
				{tasks, pooler, poolerPort, true},
				{tasks, cache, varnish, false},
				{beat, broker, redisPort, true},
				{beat, db, pgPort, false},
				{beat, pooler, poolerPort, true},
				{migration, db, pgPort, true},
				{migration, pooler, poolerPort, false},
				{migration, redis, redisPort, false},
				{redis, db, pgPort, false},
				{app, db, 5433, false},
				{tasks, app, appPort, false},
			},
		},
		"without the cache and a migration": {
			opts: []option{withoutCache()},
			flows: []flow{
				{outside, lb, public, true},
				{lb, app, appPort, true},
				{outside, lb, listener, false},
				{migration, db, pgPort, false},
				{app, db, pgPort, false},
				{app, pooler, poolerPort, true},
			},
		},
		"without a pooler: the app, tasks and beat reach PostgreSQL": {
			opts: []option{withPooling(v1alpha1.PoolingNone), withTasks(1), withBeat(), withMigration("manage.py", "migrate")},
			flows: []flow{
				{app, db, pgPort, true},
				{tasks, db, pgPort, true},
				{beat, db, pgPort, true},
				{migration, db, pgPort, true},
				{app, pooler, poolerPort, false}, // the default deny; no pooler pods anyway
			},
		},
		"another app port": {
			opts:  []option{withAppPort(9000)},
			flows: []flow{{lb, app, 9000, true}, {lb, app, appPort, false}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ws := webStack(t, tc.opts...)
			nps := NetworkPolicies(ws)
			for _, f := range tc.flows {
				if got := allowed(t, ws, nps, f.from, f.to, f.port); got != f.allowed {
					src := f.from
					if src == outside {
						src = "outside"
					}
					t.Errorf("%s -> %s:%d allowed = %t, want %t", src, f.to, f.port, got, f.allowed)
				}
			}
		})
	}
}

func TestDefaultDenyCoversEveryPod(t *testing.T) {
	ws := webStack(t, withTasks(1), withBeat(), withMigration("manage.py", "migrate"))
	in := inputsFor(t, ws)
	objs, err := Desired(in)
	if err != nil {
		t.Fatal(err)
	}
	deny := find[*networkingv1.NetworkPolicy](t, objs, "NetworkPolicy/shop-default-deny")
	if len(deny.Spec.Ingress) != 0 || len(deny.Spec.PolicyTypes) != 1 || deny.Spec.PolicyTypes[0] != networkingv1.PolicyTypeIngress {
		t.Fatalf("default deny %+v", deny.Spec)
	}
	sel, err := metav1.LabelSelectorAsSelector(&deny.Spec.PodSelector)
	if err != nil {
		t.Fatal(err)
	}
	for k, p := range podTemplates(append(objs, MigrationJob(in, "img:2"))) {
		if !sel.Matches(labels.Set(p.Labels)) {
			t.Errorf("the default deny does not cover the pods of %s", k)
		}
	}
}
