package resources

import (
	"path"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
)

func TestPostgresStatefulSet(t *testing.T) {
	cases := map[string]struct {
		opts  []option
		image string
		size  string
		class *string
	}{
		"defaults, 20Gi": {opts: []option{withDatabaseSize("20Gi")}, image: "postgres:16.6", size: "20Gi"},
		"version 17, 50Gi on fast, deleted with the stack": {
			opts: []option{func(ws *v1alpha1.WebStack) {
				ws.Spec.Database.Version = "17"
				q := resource.MustParse("50Gi")
				ws.Spec.Database.Storage.Size, ws.Spec.Database.Storage.StorageClassName = &q, ptr("fast")
			}, withDeletionPolicy(v1alpha1.DeletionDelete)},
			image: "postgres:17.2", size: "50Gi", class: ptr("fast"),
		},
		"own image": {
			opts:  []option{withDatabaseSize("10Gi"), func(ws *v1alpha1.WebStack) { ws.Spec.Database.Image = "registry.example.com/postgres:16-postgis" }},
			image: "registry.example.com/postgres:16-postgis", size: "10Gi",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs := desired(t, tc.opts...)
			s := find[*appsv1.StatefulSet](t, objs, "StatefulSet/shop-database")
			c := container(t, s.Spec.Template)
			if c.Image != tc.image {
				t.Errorf("image %q, want %q", c.Image, tc.image)
			}
			if c.Command != nil {
				t.Errorf("command %q replaces the image's entrypoint, which runs initdb", c.Command)
			}
			if want := []string{"postgres", "-c", "config_file=/etc/postgresql/postgresql.conf", "-c", "hba_file=/etc/postgresql/pg_hba.conf"}; !slices.Equal(c.Args, want) {
				t.Errorf("args %q, want %q", c.Args, want)
			}
			mounts := map[string]corev1.VolumeMount{}
			for _, m := range c.VolumeMounts {
				mounts[m.MountPath] = m
			}
			for _, f := range []string{"/etc/postgresql/postgresql.conf", "/etc/postgresql/pg_hba.conf", "/etc/postgresql/init.sql"} {
				if m, ok := mounts[path.Dir(f)]; !ok || m.Name != "config" || !m.ReadOnly {
					t.Errorf("%s is not in the read-only config volume", f)
				}
			}
			for _, dir := range []string{"/var/run/postgresql", "/tmp", "/dev/shm", "/var/lib/postgresql/data"} {
				if m, ok := mounts[dir]; !ok || m.ReadOnly {
					t.Errorf("%s is not writable", dir)
				}
			}
			pgdata, _ := env(t, c, "PGDATA")
			if !strings.HasPrefix(pgdata, mounts["/var/lib/postgresql/data"].MountPath+"/") || mounts["/var/lib/postgresql/data"].Name != dataVolume {
				t.Errorf("PGDATA %s is not a subdirectory of the data claim", pgdata)
			}
			for name, key := range map[string]string{"POSTGRES_PASSWORD": SuperuserPasswordKey, "APP_PASSWORD": AppPasswordKey} {
				var ref *corev1.SecretKeySelector
				for _, e := range c.Env {
					if e.Name == name && e.ValueFrom != nil {
						ref = e.ValueFrom.SecretKeyRef
					}
				}
				if ref == nil || ref.Name != "shop-database-credentials" || ref.Key != key {
					t.Errorf("%s from %+v, want shop-database-credentials/%s", name, ref, key)
				}
			}
			for _, p := range []*corev1.Probe{c.StartupProbe, c.ReadinessProbe, c.LivenessProbe} {
				if p == nil || p.Exec == nil || p.Exec.Command[0] != "pg_isready" || !slices.Contains(p.Exec.Command, "127.0.0.1") {
					t.Errorf("probe %+v, want pg_isready over TCP", p)
				}
			}
			vct := s.Spec.VolumeClaimTemplates
			if len(vct) != 1 || !vct[0].Spec.Resources.Requests.Storage().Equal(resource.MustParse(tc.size)) ||
				(vct[0].Spec.StorageClassName == nil) != (tc.class == nil) || tc.class != nil && *vct[0].Spec.StorageClassName != *tc.class {
				t.Errorf("claim template %+v, want %s of class %v", vct, tc.size, tc.class)
			}
			if got := s.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted; got != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
				t.Errorf("claim when deleted: %s, want Retain: only the WebStack's finalizer deletes data", got)
			}
			if s.Spec.ServiceName != "shop-database-headless" || *s.Spec.Replicas != 1 {
				t.Errorf("serviceName %q replicas %d", s.Spec.ServiceName, *s.Spec.Replicas)
			}
		})
	}
}

func TestPostgresInitScript(t *testing.T) {
	objs := desired(t)
	s := find[*appsv1.StatefulSet](t, objs, "StatefulSet/shop-database")
	cm := find[*corev1.ConfigMap](t, objs, "ConfigMap/shop-database-config")
	script := cm.Data[InitScriptKey]
	for _, want := range []string{
		`-v app_password="$APP_PASSWORD"`, "-f /etc/postgresql/init.sql", "--username postgres", "ON_ERROR_STOP=1",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("the init script lacks %q:\n%s", want, script)
		}
	}
	if !strings.Contains(cm.Data[render.FileInitSQL], ":'"+render.InitSQLPasswordVariable+"'") {
		t.Errorf("init.sql does not read the psql variable %s the script sets", render.InitSQLPasswordVariable)
	}
	if strings.Contains(script, "exec ") || strings.Contains(script, "set -") {
		t.Error("the script must be safe to source: no exec, no set")
	}
	var initdb *corev1.Volume
	for i, v := range s.Spec.Template.Spec.Volumes {
		if v.Name == "initdb" {
			initdb = &s.Spec.Template.Spec.Volumes[i]
		}
	}
	if initdb == nil || initdb.ConfigMap == nil || len(initdb.ConfigMap.Items) != 1 || initdb.ConfigMap.Items[0].Key != InitScriptKey ||
		!strings.HasSuffix(initdb.ConfigMap.Items[0].Path, ".sh") || *initdb.ConfigMap.Items[0].Mode&0o111 == 0 {
		t.Fatalf("initdb volume %+v, want only the script, executable, named *.sh", initdb)
	}
	c := container(t, s.Spec.Template)
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.Name == "initdb" && m.MountPath == "/docker-entrypoint-initdb.d"
	}) {
		t.Error("the script is not in /docker-entrypoint-initdb.d")
	}
	for k, v := range cm.Data {
		for _, pw := range []string{testCredentials.DatabaseApp, testCredentials.DatabaseSuperuser} {
			if strings.Contains(v, pw) {
				t.Errorf("%s holds a password", k)
			}
		}
	}
}
