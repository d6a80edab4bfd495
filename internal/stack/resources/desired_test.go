package resources

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// defaultObjects are the children of a WebStack shop with only app.image set.
var defaultObjects = []string{
	"NetworkPolicy/shop-app", "NetworkPolicy/shop-cache", "NetworkPolicy/shop-database",
	"NetworkPolicy/shop-default-deny", "NetworkPolicy/shop-loadbalancer", "NetworkPolicy/shop-redis",
	"ConfigMap/shop-cache-config", "ConfigMap/shop-database-config", "ConfigMap/shop-loadbalancer-config",
	"ConfigMap/shop-redis-config",
	"Secret/shop-connection",
	"Service/shop-app-headless", "Service/shop-cache-headless",
	"Service/shop-database", "Service/shop-database-headless", "Service/shop-loadbalancer",
	"Service/shop-loadbalancer-app", "Service/shop-redis",
	"StatefulSet/shop-database",
	"Deployment/shop-app", "Deployment/shop-cache", "Deployment/shop-loadbalancer", "Deployment/shop-redis",
	"PodDisruptionBudget/shop-app", "PodDisruptionBudget/shop-cache", "PodDisruptionBudget/shop-loadbalancer",
	"NetworkPolicy/shop-pooler", "ConfigMap/shop-pooler-config", "Secret/shop-pooler-auth", "Service/shop-pooler",
	"Deployment/shop-pooler", "PodDisruptionBudget/shop-pooler",
}

var (
	cacheObjectKeys = []string{"NetworkPolicy/shop-cache", "ConfigMap/shop-cache-config",
		"Service/shop-cache-headless", "Service/shop-loadbalancer-app", "Deployment/shop-cache", "PodDisruptionBudget/shop-cache"}
	redisObjectKeys  = []string{"NetworkPolicy/shop-redis", "ConfigMap/shop-redis-config", "Service/shop-redis", "Deployment/shop-redis"}
	poolerObjectKeys = []string{"NetworkPolicy/shop-pooler", "ConfigMap/shop-pooler-config", "Secret/shop-pooler-auth",
		"Service/shop-pooler", "Deployment/shop-pooler", "PodDisruptionBudget/shop-pooler"}
	databaseObjectKeys = slices.Concat([]string{"NetworkPolicy/shop-database", "ConfigMap/shop-database-config", "Service/shop-database",
		"Service/shop-database-headless", "StatefulSet/shop-database"}, poolerObjectKeys)
	tasksObjectKeys = []string{"Deployment/shop-tasks", "NetworkPolicy/shop-broker", "ConfigMap/shop-broker-config",
		"Service/shop-broker", "StatefulSet/shop-broker"}
)

// cases are specs that cover every component on and off, for the tests that check
// properties of all objects.
var cases = map[string]struct {
	opts        []option
	add, remove []string
}{
	"all defaults":      {},
	"cache disabled":    {opts: []option{withoutCache()}, remove: cacheObjectKeys},
	"redis disabled":    {opts: []option{withoutRedis()}, remove: redisObjectKeys},
	"database disabled": {opts: []option{withoutDatabase()}, remove: databaseObjectKeys},
	"only the app and HAProxy": {
		opts:   []option{withoutCache(), withoutRedis(), withoutDatabase()},
		remove: slices.Concat(cacheObjectKeys, redisObjectKeys, databaseObjectKeys),
	},
	"one task worker without beat": {opts: []option{withTasks(1)}, add: tasksObjectKeys},
	"three task workers with beat": {
		opts: []option{withTasks(3), withBeat()},
		add:  slices.Concat(tasksObjectKeys, []string{"Deployment/shop-beat", "PodDisruptionBudget/shop-tasks"}),
	},
	"autoscaling":                {opts: []option{withAutoscaling(2, 10)}, add: []string{"HorizontalPodAutoscaler/shop-app"}},
	"autoscaling from one pod":   {opts: []option{withAutoscaling(1, 3)}, add: []string{"HorizontalPodAutoscaler/shop-app"}},
	"one app replica":            {opts: []option{withReplicas(1)}, remove: []string{"PodDisruptionBudget/shop-app", "PodDisruptionBudget/shop-pooler"}},
	"pooling None":               {opts: []option{withPooling(v1alpha1.PoolingNone)}, remove: poolerObjectKeys},
	"session pooling":            {opts: []option{withPooling(v1alpha1.PoolingSession)}},
	"single HAProxy and Varnish": {opts: []option{withLoadBalancerReplicas(1), withCacheReplicas(1)}, remove: []string{"PodDisruptionBudget/shop-loadbalancer", "PodDisruptionBudget/shop-cache"}},
	"redis RDB":                  {opts: []option{withPersistence(v1alpha1.PersistenceRDB)}, remove: []string{"Deployment/shop-redis"}, add: []string{"StatefulSet/shop-redis"}},
	"redis AOF":                  {opts: []option{withPersistence(v1alpha1.PersistenceAOF)}, remove: []string{"Deployment/shop-redis"}, add: []string{"StatefulSet/shop-redis"}},
	"migration, tasks with beat, autoscaling, LoadBalancer Service": {
		opts: []option{withMigration("python", "manage.py", "migrate"), withTasks(2), withBeat(), withAutoscaling(2, 6),
			withServiceType("LoadBalancer", 443), withRateLimit(20)},
		add: slices.Concat(tasksObjectKeys, []string{"Deployment/shop-beat", "PodDisruptionBudget/shop-tasks", "HorizontalPodAutoscaler/shop-app"}),
	},
}

func TestDesiredObjects(t *testing.T) {
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			want := map[string]bool{}
			for _, k := range defaultObjects {
				want[k] = true
			}
			for _, k := range tc.remove {
				delete(want, k)
			}
			for _, k := range tc.add {
				want[k] = true
			}
			got := keys(desired(t, tc.opts...))
			if g, w := slices.Sorted(slices.Values(got)), slices.Sorted(maps.Keys(want)); !slices.Equal(g, w) {
				t.Errorf("objects:\n got %v\nwant %v\nmissing %v\nextra %v", g, w, diff(w, g), diff(g, w))
			}
		})
	}
}

// diff is a without b.
func diff(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func TestDesiredOrder(t *testing.T) {
	objs := desired(t, withTasks(2), withBeat(), withAutoscaling(2, 5))
	for i := 1; i < len(objs); i++ {
		a, b := objs[i-1], objs[i]
		ra := slices.Index(kindOrder, a.GetObjectKind().GroupVersionKind().Kind)
		rb := slices.Index(kindOrder, b.GetObjectKind().GroupVersionKind().Kind)
		if ra < 0 || rb < 0 {
			t.Fatalf("kind of %s or %s is not in kindOrder", key(a), key(b))
		}
		if ra > rb || ra == rb && a.GetName() >= b.GetName() {
			t.Errorf("%s comes before %s", key(a), key(b))
		}
	}
	if first := key(objs[0]); !strings.HasPrefix(first, "NetworkPolicy/") {
		t.Errorf("the first object is %s; NetworkPolicies must come before any pod", first)
	}
}

// components are the values the component label may take.
var components = []string{ComponentPooler, ComponentApp, ComponentTasks, ComponentBeat, ComponentCache, ComponentLoadBalancer,
	ComponentRedis, ComponentBroker, ComponentDatabase, ComponentMigration, ComponentConnection, ComponentNetwork}

func TestChildrenAreOwnedTypedAndLabelled(t *testing.T) {
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ws := webStack(t, tc.opts...)
			objs, err := Desired(inputsFor(t, ws))
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				k := key(o)
				gvk := o.GetObjectKind().GroupVersionKind()
				if gvk.Kind == "" || gvk.Version == "" {
					t.Errorf("%s has no TypeMeta: %v", o.GetName(), gvk)
				}
				if o.GetNamespace() != ws.Namespace {
					t.Errorf("%s is in namespace %q, want %q", k, o.GetNamespace(), ws.Namespace)
				}
				refs := o.GetOwnerReferences()
				want := metav1.OwnerReference{APIVersion: "webstack.dev/v1alpha1", Kind: "WebStack", Name: ws.Name, UID: testUID,
					Controller: ptr(true), BlockOwnerDeletion: ptr(true)}
				if len(refs) != 1 || !reflect.DeepEqual(refs[0], want) {
					t.Errorf("%s owner references %+v, want [%+v]", k, refs, want)
				}
				l := o.GetLabels()
				if !slices.Contains(components, l[ComponentLabel]) {
					t.Errorf("%s has component label %q", k, l[ComponentLabel])
				}
				if wantLabels := Labels(ws, l[ComponentLabel]); !maps.Equal(l, wantLabels) {
					t.Errorf("%s labels %v, want %v", k, l, wantLabels)
				}
			}
		})
	}
}

// TestSelectorsSelectPods checks that every selector in the objects selects the pods of a
// workload among them, and that every workload's selector is its component's selector
// labels and selects its own pods.
func TestSelectorsSelectPods(t *testing.T) {
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ws := webStack(t, tc.opts...)
			objs, err := Desired(inputsFor(t, ws))
			if err != nil {
				t.Fatal(err)
			}
			templates := podTemplates(objs)
			selectsSome := func(what string, sel labels.Selector) {
				t.Helper()
				for _, p := range templates {
					if sel.Matches(labels.Set(p.Labels)) {
						return
					}
				}
				t.Errorf("%s selects no pod (%s)", what, sel)
			}
			asSelector := func(what string, ls *metav1.LabelSelector) labels.Selector {
				sel, err := metav1.LabelSelectorAsSelector(ls)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				return sel
			}
			for _, o := range objs {
				k := key(o)
				switch x := o.(type) {
				case *corev1.Service:
					selectsSome(k, labels.SelectorFromSet(x.Spec.Selector))
				case *policyv1.PodDisruptionBudget:
					selectsSome(k, asSelector(k, x.Spec.Selector))
				case *networkingv1.NetworkPolicy:
					selectsSome(k, asSelector(k, &x.Spec.PodSelector))
					for _, r := range x.Spec.Ingress {
						for _, p := range r.From {
							selectsSome(k+" ingress peer", asSelector(k, p.PodSelector))
						}
					}
				case *autoscalingv2.HorizontalPodAutoscaler:
					find[*appsv1.Deployment](t, objs, x.Spec.ScaleTargetRef.Kind+"/"+x.Spec.ScaleTargetRef.Name)
				case *appsv1.Deployment:
					checkWorkloadSelector(t, ws, k, x.Spec.Selector, x.Spec.Template)
				case *appsv1.StatefulSet:
					checkWorkloadSelector(t, ws, k, x.Spec.Selector, x.Spec.Template)
					find[*corev1.Service](t, objs, "Service/"+x.Spec.ServiceName)
				}
			}
		})
	}
}

func checkWorkloadSelector(t *testing.T, ws *v1alpha1.WebStack, k string, sel *metav1.LabelSelector, p corev1.PodTemplateSpec) {
	t.Helper()
	component := p.Labels[ComponentLabel]
	if !maps.Equal(sel.MatchLabels, SelectorLabels(ws, component)) || len(sel.MatchExpressions) > 0 {
		t.Errorf("%s selector %v, want %v", k, sel, SelectorLabels(ws, component))
	}
	if !maps.Equal(p.Labels, Labels(ws, component)) {
		t.Errorf("%s pod labels %v, want %v", k, p.Labels, Labels(ws, component))
	}
}

func TestDesiredIsDeterministicAndLeavesItsInputAlone(t *testing.T) {
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := inputsFor(t, webStack(t, tc.opts...))
			before := in.WebStack.DeepCopy()
			configs := in.Configs
			configs.VarnishArgs = slices.Clone(configs.VarnishArgs)
			a, err := Desired(in)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Desired(in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Error("two calls with the same input differ")
			}
			if ya, yb := objectsYAML(t, a), objectsYAML(t, b); ya != yb {
				t.Error("two calls with the same input serialise differently")
			}
			if !reflect.DeepEqual(before, in.WebStack) || !reflect.DeepEqual(configs, in.Configs) {
				t.Error("Desired modified its input")
			}
			// The objects share nothing with the spec: changing one leaves the spec alone.
			for _, o := range a {
				if d, ok := o.(*appsv1.Deployment); ok {
					for i := range d.Spec.Template.Spec.Containers {
						c := &d.Spec.Template.Spec.Containers[i]
						for j := range c.Env {
							c.Env[j].Value = "changed"
						}
						for j := range c.Command {
							c.Command[j] = "changed"
						}
					}
				}
			}
			if !reflect.DeepEqual(before, in.WebStack) {
				t.Error("the objects alias the spec")
			}
		})
	}
}

func TestDesiredErrors(t *testing.T) {
	cases := map[string]struct {
		opts   []option
		change func(*Inputs)
		want   string
	}{
		"no WebStack":        {change: func(in *Inputs) { in.WebStack = nil }, want: "no name"},
		"no haproxy.cfg":     {change: func(in *Inputs) { in.Configs.HAProxy = "" }, want: "haproxy.cfg"},
		"no varnishd.args":   {change: func(in *Inputs) { in.Configs.VarnishArgs = nil }, want: "varnishd.args"},
		"no default.vcl":     {change: func(in *Inputs) { in.Configs.VCL = " \n" }, want: "default.vcl"},
		"no redis.conf":      {change: func(in *Inputs) { in.Configs.Redis = "" }, want: "redis.conf"},
		"no pg_hba.conf":     {change: func(in *Inputs) { in.Configs.PgHBA = "" }, want: "pg_hba.conf"},
		"no broker.conf":     {opts: []option{withTasks(1)}, change: func(in *Inputs) { in.Configs.Broker = "" }, want: "broker.conf"},
		"no app password":    {change: func(in *Inputs) { in.Credentials.DatabaseApp = "" }, want: "database app password"},
		"no redis password":  {change: func(in *Inputs) { in.Credentials.Redis = "" }, want: "redis password"},
		"no broker password": {opts: []option{withTasks(1)}, change: func(in *Inputs) { in.Credentials.Broker = "" }, want: "broker password"},
		// The API rejects this spec (a CEL rule); Desired must still refuse it, not guess.
		"beat without a worker sub-command": {
			opts:   []option{withTasks(1), withBeat()},
			change: func(in *Inputs) { in.WebStack.Spec.Tasks.Command = []string{"/app/run-worker.sh"} },
			want:   `no "worker" argument`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := inputsFor(t, webStack(t, tc.opts...))
			if tc.change != nil {
				tc.change(&in)
			}
			objs, err := Desired(in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if objs != nil {
				t.Errorf("objects with an error: %v", keys(objs))
			}
		})
	}

	t.Run("disabled components need neither config nor password", func(t *testing.T) {
		in := inputsFor(t, webStack(t, withoutCache(), withoutRedis(), withoutDatabase()))
		in.Credentials = Credentials{}
		if _, err := Desired(in); err != nil {
			t.Fatal(err)
		}
	})
}
