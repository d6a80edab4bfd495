package resources

import (
	"path"
	"reflect"
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
			if !slices.Equal(c.Command, []string{"postgres"}) {
				t.Errorf("command %q, want the server itself (the prepare init container ran initdb)", c.Command)
			}
			if want := []string{"-c", "config_file=/etc/postgresql/postgresql.conf", "-c", "hba_file=/etc/postgresql/pg_hba.conf"}; !slices.Equal(c.Args, want) {
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
			prepare := s.Spec.Template.Spec.InitContainers[0]
			if prepare.Image != tc.image {
				t.Errorf("prepare runs image %q, want %q", prepare.Image, tc.image)
			}
			for name, key := range map[string]string{"POSTGRES_PASSWORD": SuperuserPasswordKey, "APP_PASSWORD": AppPasswordKey} {
				var ref *corev1.SecretKeySelector
				for _, e := range prepare.Env {
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

// TestPostgresPrepareContainer: an init container runs the prepare script on every start,
// with the passwords; the server runs explicitly, without them and without the image's
// entrypoint.
func TestPostgresPrepareContainer(t *testing.T) {
	objs := desired(t)
	s := find[*appsv1.StatefulSet](t, objs, "StatefulSet/shop-database")
	cm := find[*corev1.ConfigMap](t, objs, "ConfigMap/shop-database-config")
	script := cm.Data[PrepareScriptKey]
	for _, want := range []string{"initdb --pgdata=\"$PGDATA\"", "--auth-host=scram-sha-256", "init.sql", "listen_addresses= ", "set -eu", "--mode=fast stop"} {
		if !strings.Contains(script, want) {
			t.Errorf("the prepare script lacks %q:\n%s", want, script)
		}
	}
	if strings.Contains(script, "PASSWORD") {
		t.Error("the prepare script names a password variable: init.sql reads them from the environment")
	}
	for _, v := range []string{"APP_PASSWORD", "POSTGRES_PASSWORD"} {
		if !strings.Contains(cm.Data[render.FileInitSQL], "\\getenv ") || !strings.Contains(cm.Data[render.FileInitSQL], v) {
			t.Errorf("init.sql does not read %s from the environment", v)
		}
	}
	spec := s.Spec.Template.Spec
	if len(spec.InitContainers) != 1 || spec.InitContainers[0].Name != "prepare" {
		t.Fatalf("init containers %v, want prepare", spec.InitContainers)
	}
	p, c := spec.InitContainers[0], spec.Containers[0]
	if !slices.Equal(p.Command, []string{"/bin/sh", "/etc/postgresql/" + PrepareScriptKey}) {
		t.Errorf("prepare runs %q", p.Command)
	}
	if !slices.Equal(c.Command, []string{"postgres"}) {
		t.Errorf("the server runs %q, want postgres without the image's entrypoint", c.Command)
	}
	secrets := func(c corev1.Container) (keys []string) {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				keys = append(keys, e.ValueFrom.SecretKeyRef.Key)
			}
		}
		return keys
	}
	if got := secrets(p); !slices.Equal(got, []string{SuperuserPasswordKey, AppPasswordKey}) {
		t.Errorf("prepare gets %v from the Secret, want both passwords", got)
	}
	if got := secrets(c); len(got) > 0 {
		t.Errorf("the server gets %v from the Secret, want none", got)
	}
	if p.SecurityContext == nil || p.SecurityContext.RunAsNonRoot == nil || !*p.SecurityContext.RunAsNonRoot {
		t.Errorf("prepare's security context %+v is not restricted", p.SecurityContext)
	}
	if !reflect.DeepEqual(p.VolumeMounts, c.VolumeMounts) {
		t.Errorf("prepare mounts %v, the server %v", p.VolumeMounts, c.VolumeMounts)
	}
	for k, v := range cm.Data {
		for _, pw := range []string{testCredentials.DatabaseApp, testCredentials.DatabaseSuperuser} {
			if strings.Contains(v, pw) {
				t.Errorf("%s holds a password", k)
			}
		}
	}
}

// TestNewPasswordsRestartTheirServersAndUsers: a password made anew (a deleted credential
// Secret) changes the pod templates of its server and of the app, tasks and beat, and
// nothing else.
func TestNewPasswordsRestartTheirServersAndUsers(t *testing.T) {
	base := []option{withTasks(1), withBeat()}
	cases := map[string]struct {
		change func(*Credentials)
		want   []string
	}{
		"database app password": {change: func(c *Credentials) { c.DatabaseApp = "new" },
			want: []string{"Deployment/shop-app", "Deployment/shop-beat", "Deployment/shop-pooler", "Deployment/shop-tasks", "StatefulSet/shop-database"}},
		"database superuser password": {change: func(c *Credentials) { c.DatabaseSuperuser = "new" },
			want: []string{"StatefulSet/shop-database"}},
		"redis password": {change: func(c *Credentials) { c.Redis = "new" },
			want: []string{"Deployment/shop-app", "Deployment/shop-beat", "Deployment/shop-redis", "Deployment/shop-tasks"}},
		"broker password": {change: func(c *Credentials) { c.Broker = "new" },
			want: []string{"Deployment/shop-app", "Deployment/shop-beat", "Deployment/shop-tasks", "StatefulSet/shop-broker"}},
		"the same passwords": {change: func(*Credentials) {}},
	}
	before := podTemplates(desired(t, base...))
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := inputsFor(t, webStack(t, base...))
			tc.change(&in.Credentials)
			objs, err := Desired(in)
			if err != nil {
				t.Fatal(err)
			}
			var changed []string
			for k, tpl := range podTemplates(objs) {
				if !reflect.DeepEqual(tpl, before[k]) {
					changed = append(changed, k)
				}
			}
			slices.Sort(changed)
			if !slices.Equal(changed, tc.want) {
				t.Errorf("changed %v, want %v", changed, tc.want)
			}
		})
	}
}
