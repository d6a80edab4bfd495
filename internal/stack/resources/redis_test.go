package resources

import (
	"path"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
)

func TestRedis(t *testing.T) {
	cases := map[string]struct {
		opts      []option
		workload  string
		credsName string
		configKey string
		// size is the claim's size; "" means data on an emptyDir.
		size string
	}{
		"cache without persistence": {workload: "Deployment/shop-redis", credsName: "shop-redis-credentials", configKey: render.FileRedis},
		"cache with RDB": {
			opts:     []option{withPersistence(v1alpha1.PersistenceRDB)},
			workload: "StatefulSet/shop-redis", credsName: "shop-redis-credentials", configKey: render.FileRedis,
			size: "1Gi",
		},
		"cache with AOF": {
			opts:     []option{withPersistence(v1alpha1.PersistenceAOF)},
			workload: "StatefulSet/shop-redis", credsName: "shop-redis-credentials", configKey: render.FileRedis,
			size: "1Gi",
		},
		"broker, data retained": {
			opts:     []option{withTasks(1)},
			workload: "StatefulSet/shop-broker", credsName: "shop-broker-credentials", configKey: render.FileBroker,
			size: "1Gi",
		},
		"broker, data deleted": {
			opts:     []option{withTasks(1), withDeletionPolicy(v1alpha1.DeletionDelete)},
			workload: "StatefulSet/shop-broker", credsName: "shop-broker-credentials", configKey: render.FileBroker,
			size: "1Gi",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs := desired(t, tc.opts...)
			templates := podTemplates(objs)
			p, ok := templates[tc.workload]
			if !ok {
				t.Fatalf("no %s", tc.workload)
			}
			c := container(t, p)
			if want := []string{"/etc/redis/redis.conf", "--requirepass", "$(REDIS_PASSWORD)"}; !slices.Equal(c.Command, []string{"redis-server"}) || !slices.Equal(c.Args, want) {
				t.Errorf("command %q args %q", c.Command, c.Args)
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef.Name != tc.credsName || e.ValueFrom.SecretKeyRef.Key != PasswordKey {
					t.Errorf("variable %s = %+v, want from %s", e.Name, e.ValueFrom, tc.credsName)
				}
			}
			if _, ok := env(t, c, "REDIS_PASSWORD"); !ok {
				t.Error("no REDIS_PASSWORD for $(REDIS_PASSWORD)")
			}
			var cfg *corev1.ConfigMapVolumeSource
			for _, v := range p.Spec.Volumes {
				if v.ConfigMap != nil {
					cfg = v.ConfigMap
				}
			}
			if cfg == nil || len(cfg.Items) != 1 || cfg.Items[0].Key != tc.configKey || cfg.Items[0].Path != path.Base(render.RedisConfigPath) {
				t.Errorf("config volume %+v, want key %s as redis.conf", cfg, tc.configKey)
			}
			if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == dataVolume && m.MountPath == render.RedisDataDir }) {
				t.Errorf("data is not at %s", render.RedisDataDir)
			}
			if tc.size == "" {
				if !slices.ContainsFunc(p.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == dataVolume && v.EmptyDir != nil }) {
					t.Error("without persistence the data is not on an emptyDir")
				}
				return
			}
			s := find[*appsv1.StatefulSet](t, objs, tc.workload)
			vct := s.Spec.VolumeClaimTemplates
			if len(vct) != 1 || vct[0].Name != dataVolume || !vct[0].Spec.Resources.Requests.Storage().Equal(resource.MustParse(tc.size)) {
				t.Errorf("claim templates %+v, want data of %s", vct, tc.size)
			}
			if got := s.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted; got != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
				t.Errorf("claim when deleted: %s, want Retain: only the WebStack's finalizer deletes data", got)
			}
			if slices.ContainsFunc(p.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == dataVolume }) {
				t.Error("a pod volume shadows the claim template")
			}
		})
	}
}
