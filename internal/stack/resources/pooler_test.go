package resources

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

func TestPoolerDeployment(t *testing.T) {
	cases := map[string]struct {
		opts     []option
		replicas int32
		pdb      bool
	}{
		"defaults: 2 replicas with a PDB": {replicas: 2, pdb: true},
		"one app pod: one pooler, no PDB": {opts: []option{withReplicas(1)}, replicas: 1},
		"autoscaling to 20: still 2":      {opts: []option{withAutoscaling(2, 20)}, replicas: 2, pdb: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ws := webStack(t, tc.opts...)
			objs := desired(t, tc.opts...)
			d := find[*appsv1.Deployment](t, objs, "Deployment/shop-pooler")
			if got := *d.Spec.Replicas; got != tc.replicas || got != tuning.For(ws).Pooler.Replicas {
				t.Errorf("replicas %d, want %d (tuning's)", got, tc.replicas)
			}
			if hasPDB := slices.ContainsFunc(objs, func(o Object) bool { return key(o) == "PodDisruptionBudget/shop-pooler" }); hasPDB != tc.pdb {
				t.Errorf("PodDisruptionBudget %t, want %t", hasPDB, tc.pdb)
			}
			if s := d.Spec.Strategy.RollingUpdate; s == nil || s.MaxUnavailable.IntValue() != 0 || s.MaxSurge.String() != "25%" {
				t.Errorf("strategy %+v: want surge first with maxSurge 25%% (tuning counts the surge pod)", d.Spec.Strategy)
			}
			p := d.Spec.Template
			if len(p.Spec.TopologySpreadConstraints) != 1 {
				t.Errorf("pods are not spread over nodes")
			}
			c := container(t, p)
			if c.Image != v1alpha1.DefaultPgBouncerImage || !slices.Equal(c.Command, []string{"/usr/bin/pgbouncer"}) ||
				!slices.Equal(c.Args, []string{"/etc/pgbouncer/config/pgbouncer.ini"}) {
				t.Errorf("runs %s %v %v, want the pinned image's pgbouncer with the config path", c.Image, c.Command, c.Args)
			}
			probe := strings.Join(c.ReadinessProbe.Exec.Command, " ")
			if !strings.Contains(probe, "psql") || !strings.Contains(probe, "-p 6432") || !strings.Contains(probe, "SELECT 1") {
				t.Errorf("readiness %q: want a query through this pod's pgbouncer", probe)
			}
			if c.LivenessProbe.TCPSocket == nil {
				t.Errorf("liveness %+v: want the port only (a PostgreSQL restart must not restart the poolers)", c.LivenessProbe)
			}
			for _, e := range c.Env {
				if e.Name == "PGPASSWORD" && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef.Name != "shop-database-credentials") {
					t.Errorf("PGPASSWORD %+v: want it from the credentials Secret", e)
				}
			}
			var auth *corev1.SecretVolumeSource
			for _, v := range p.Spec.Volumes {
				if v.Secret != nil {
					auth = v.Secret
				}
			}
			if auth == nil || auth.SecretName != "shop-pooler-auth" || *auth.DefaultMode != 0o440 {
				t.Errorf("auth volume %+v: want Secret shop-pooler-auth, mode 0440", auth)
			}
		})
	}
}

func TestPoolerAuthSecret(t *testing.T) {
	s, err := PoolerAuthSecret(webStack(t), testCredentials)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(s.Data[render.FilePoolerAuth]), `"app" "app/pw:with@odd#chars"`+"\n"; got != want {
		t.Errorf("auth file %q, want %q", got, want)
	}
	if len(s.OwnerReferences) != 1 {
		t.Errorf("owner references %+v: want the WebStack (it is derived, not generated)", s.OwnerReferences)
	}
	if _, err := PoolerAuthSecret(webStack(t), Credentials{}); err == nil {
		t.Error("no error without the app password")
	}
}

func TestPoolingEnv(t *testing.T) {
	cases := map[string]struct {
		opts    []option
		cursors bool
	}{
		"transaction: server-side cursors off": {cursors: true},
		"session: cursors work":                {opts: []option{withPooling(v1alpha1.PoolingSession)}},
		"no pooler":                            {opts: []option{withPooling(v1alpha1.PoolingNone)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			opts := append([]option{withTasks(1), withBeat(), withMigration("manage.py", "migrate")}, tc.opts...)
			ws := webStack(t, opts...)
			in := inputsFor(t, ws)
			objs, err := Desired(in)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"Deployment/shop-app", "Deployment/shop-tasks", "Deployment/shop-beat"} {
				v, set := env(t, container(t, find[*appsv1.Deployment](t, objs, k).Spec.Template), EnvDisableServerSideCursors)
				if set != tc.cursors || (set && v != "true") {
					t.Errorf("%s: %s=%q (set %t), want set %t", k, EnvDisableServerSideCursors, v, set, tc.cursors)
				}
			}
			// The migration Job goes to PostgreSQL directly, whatever the mode.
			job := MigrationJob(in, "img:2")
			var url *corev1.EnvVar
			for _, e := range job.Spec.Template.Spec.Containers[0].Env {
				if e.Name == DatabaseURLKey {
					url = &e
				}
			}
			if url == nil || url.ValueFrom == nil || url.ValueFrom.SecretKeyRef.Key != DatabaseDirectURLKey || url.ValueFrom.SecretKeyRef.Name != "shop-connection" {
				t.Errorf("migration DATABASE_URL %+v: want DATABASE_DIRECT_URL of the connection Secret", url)
			}
		})
	}
}
