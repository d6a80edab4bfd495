package resources

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
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
	// Configs are render.Files' result with DNS discovery (Discovery(WebStack)).
	Configs map[string]string
	// Credentials are the passwords of the enabled components.
	Credentials Credentials
	// AppImage is the image the app and task pods run now: the old one until the migration
	// Job of a new one succeeded. "" means spec.app.image.
	AppImage string
}

// appImage is the image the app pods run.
func (in Inputs) appImage() string {
	if in.AppImage != "" {
		return in.AppImage
	}
	return in.WebStack.Spec.App.Image
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
	sortObjects(objs)
	return objs, nil
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

// Group versions of the children, for their TypeMeta.
var (
	coreV1        = corev1.SchemeGroupVersion
	appsV1        = appsv1.SchemeGroupVersion
	batchV1       = batchv1.SchemeGroupVersion
	autoscalingV2 = autoscalingv2.SchemeGroupVersion
	networkingV1  = networkingv1.SchemeGroupVersion
	policyV1      = policyv1.SchemeGroupVersion
)

func typeMeta(gv schema.GroupVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: gv.String(), Kind: kind}
}

// ownerRef is the controller reference to ws that makes garbage collection delete a child
// with its WebStack.
func ownerRef(ws *v1alpha1.WebStack) metav1.OwnerReference {
	return *metav1.NewControllerRef(ws, v1alpha1.GroupVersion.WithKind("WebStack"))
}

// objectMeta is the metadata of an owned child of component.
func objectMeta(ws *v1alpha1.WebStack, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       ws.Namespace,
		Labels:          Labels(ws, component),
		OwnerReferences: []metav1.OwnerReference{ownerRef(ws)},
	}
}

// configMap is an owned ConfigMap of component.
func configMap(ws *v1alpha1.WebStack, name, component string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   typeMeta(coreV1, "ConfigMap"),
		ObjectMeta: objectMeta(ws, name, component),
		Data:       data,
	}
}

// missing wraps a missing rendered file with the component that needs it.
func missing(component string, err error) error {
	return fmt.Errorf("building the %s: %w", component, err)
}
