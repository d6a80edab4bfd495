package resources

import (
	"cmp"
	"errors"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// Object is a Kubernetes object with metadata: the same method set as controller-runtime's
// client.Object, without importing the client.
type Object interface {
	metav1.Object
	runtime.Object
}

// Credentials are the generated passwords, made by the controller with crypto/rand and kept
// in the credential Secrets. Only those of enabled components are needed.
type Credentials struct {
	DatabaseSuperuser string
	DatabaseApp       string
	Redis             string
	Broker            string
}

// Inputs is everything the objects of one WebStack derive from.
type Inputs struct {
	// WebStack is the stack, with the CRD's defaults applied. Its UID goes into the owner
	// references.
	WebStack *v1alpha1.WebStack
	// Tuning is tuning.For(WebStack).
	Tuning tuning.Result
	// Configs are render.Render's result with DNS discovery.
	Configs render.Configs
	// Credentials are the passwords of the enabled components.
	Credentials Credentials
	// AppImage is the image the app and task pods run now: the old one until the migration
	// Job of a new one succeeded. Required unless WithoutApp.
	AppImage string
	// WithoutApp leaves out the app, task and beat workloads and the app's autoscaler: a new
	// stack gets them only when its first migration has succeeded.
	WithoutApp bool
	// AgentImage is the image of the in-pod agent beside Varnish, HAProxy and the cache
	// Redis (the operator's own). With it, a config change the daemon can take in place is
	// applied by the agent and only the startup-only inputs are hashed onto the pod
	// template; empty means no agent, and every config change rolls the pods.
	AgentImage string
	// HealthHost is the Host header of the app's probes: render.Discovery.HealthHost, the
	// one HAProxy's and Varnish's health checks send. Empty sends the kubelet's default.
	HealthHost string
}

// Desired returns every child of the WebStack that the controller applies with server-side
// apply: each with TypeMeta, labels and a controller owner reference to the WebStack.
// Disabled components have none. Credential Secrets (CredentialSecret) and the migration
// Job (MigrationJob) are built separately, since they are created once, never applied.
//
// The order is stable: NetworkPolicies first (so that no pod ever runs unprotected), then
// ConfigMaps, Secrets, Services (Varnish resolves its backend's Service when it loads the
// VCL), StatefulSets, Deployments, HorizontalPodAutoscalers and PodDisruptionBudgets, each
// kind by name.
func Desired(in Inputs) ([]Object, error) {
	ws := in.WebStack
	if ws == nil || ws.Name == "" {
		return nil, errors.New("resources: the WebStack has no name")
	}
	if in.AppImage == "" && !in.WithoutApp {
		return nil, errors.New("resources: no app image: set Inputs.AppImage, or WithoutApp")
	}
	var objs []Object
	add := func(o ...Object) { objs = append(objs, o...) }

	for _, np := range NetworkPolicies(ws) {
		add(np)
	}
	conn, err := ConnectionSecret(ws, in.Credentials)
	if err != nil {
		return nil, err
	}
	add(conn)

	lb, err := loadBalancerObjects(in)
	if err != nil {
		return nil, err
	}
	add(lb...)
	if ws.Spec.Cache.IsEnabled() {
		cache, err := cacheObjects(in)
		if err != nil {
			return nil, err
		}
		add(cache...)
	}
	add(appObjects(in, conn)...)
	if ws.Spec.Tasks != nil {
		tasks, err := tasksObjects(in, conn)
		if err != nil {
			return nil, err
		}
		add(tasks...)
	}
	if ws.Spec.Redis.IsEnabled() {
		redis, err := redisObjects(in)
		if err != nil {
			return nil, err
		}
		add(redis...)
	}
	if ws.Spec.Database.IsEnabled() {
		db, err := databaseObjects(in)
		if err != nil {
			return nil, err
		}
		add(db...)
	}
	if ws.Spec.Database.IsPooled() {
		pooler, err := poolerObjects(in)
		if err != nil {
			return nil, err
		}
		add(pooler...)
	}
	if in.WithoutApp {
		objs = withoutAppWorkloads(objs)
	}
	sortObjects(objs)
	return objs, nil
}

// withoutAppWorkloads drops the app and task workloads (and the app's autoscaler): they are
// not created before the first migration of a new stack has succeeded.
func withoutAppWorkloads(objs []Object) []Object {
	out := objs[:0:0]
	for _, o := range objs {
		switch o.(type) {
		case *appsv1.Deployment, *autoscalingv2.HorizontalPodAutoscaler:
			switch o.GetLabels()[ComponentLabel] {
			case ComponentApp, ComponentTasks, ComponentBeat:
				continue
			}
		}
		out = append(out, o)
	}
	return out
}

// kindOrder is the order in which Desired lists the kinds.
var kindOrder = []string{
	"NetworkPolicy", "ConfigMap", "Secret", "Service", "StatefulSet", "Deployment",
	"HorizontalPodAutoscaler", "PodDisruptionBudget",
}

func sortObjects(objs []Object) {
	rank := func(o Object) int {
		if i := slices.Index(kindOrder, o.GetObjectKind().GroupVersionKind().Kind); i >= 0 {
			return i
		}
		return len(kindOrder)
	}
	slices.SortStableFunc(objs, func(a, b Object) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a.GetName(), b.GetName()))
	})
}
