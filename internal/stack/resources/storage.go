package resources

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// Sizes used when a storage spec arrives without the CRD defaults.
var (
	defaultDatabaseSize = resource.MustParse("10Gi")
	defaultSize         = resource.MustParse("1Gi")
)

// Claim is the volume claim of one StatefulSet pod and the size the spec asks for.
type Claim struct {
	// Name is the claim's name, e.g. data-shop-database-0.
	Name string
	// Size is spec's storage size.
	Size resource.Quantity
}

// Claims are the volume claims of the spec's StatefulSets (database, broker, and the cache
// Redis with persistence RDB or AOF), for growing them when the spec's size grows: a
// StatefulSet's claim templates are immutable, so the claims are expanded directly.
func Claims(ws *v1alpha1.WebStack) []Claim {
	var claims []Claim
	if ws.Spec.Database.IsEnabled() {
		claims = append(claims, Claim{Name: DatabaseClaimName(ws), Size: size(databaseStorage(ws), defaultDatabaseSize)})
	}
	if t := ws.Spec.Tasks; t != nil {
		claims = append(claims, Claim{Name: BrokerClaimName(ws), Size: size(t.Broker.Storage, defaultSize)})
	}
	if r := &ws.Spec.Redis; r.IsEnabled() && persistent(r) {
		claims = append(claims, Claim{Name: RedisClaimName(ws), Size: size(storageOf(r), defaultSize)})
	}
	return claims
}

// persistent reports whether the cache Redis keeps data on a volume (RDB or AOF).
func persistent(r *v1alpha1.RedisSpec) bool {
	return r.Persistence == v1alpha1.PersistenceRDB || r.Persistence == v1alpha1.PersistenceAOF
}

// databaseStorage is the database's storage as a StorageSpec.
func databaseStorage(ws *v1alpha1.WebStack) v1alpha1.StorageSpec {
	s := ws.Spec.Database.Storage
	return v1alpha1.StorageSpec{Size: s.Size, StorageClassName: s.StorageClassName}
}

// storageOf is the cache Redis' storage, empty when unset.
func storageOf(r *v1alpha1.RedisSpec) v1alpha1.StorageSpec {
	if r.Storage == nil {
		return v1alpha1.StorageSpec{}
	}
	return *r.Storage
}

func size(s v1alpha1.StorageSpec, def resource.Quantity) resource.Quantity {
	if s.Size == nil {
		return def.DeepCopy()
	}
	return s.Size.DeepCopy()
}

// volumeClaimTemplate is the "data" claim template: ReadWriteOnce, of the spec's size and
// class (the cluster's default class when none), labelled so that the claims are found by
// the WebStack's labels.
func volumeClaimTemplate(ws *v1alpha1.WebStack, component string, s v1alpha1.StorageSpec) corev1.PersistentVolumeClaim {
	def := defaultSize
	if component == ComponentDatabase {
		def = defaultDatabaseSize
	}
	return corev1.PersistentVolumeClaim{
		// TypeMeta is left to the API server, which defaults it in templates.
		ObjectMeta: metav1.ObjectMeta{Name: dataVolume, Labels: Labels(ws, component)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: s.StorageClassName,
			VolumeMode:       ptr(corev1.PersistentVolumeFilesystem),
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: size(s, def)},
			},
		},
	}
}
