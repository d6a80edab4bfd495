package resources

import (
	"reflect"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// TestAgents checks the agent beside Varnish, HAProxy, the cache Redis and PostgreSQL: the operator's
// image, its daemon's interface, the fixed resources from tuning, no readiness probe (a
// refused config must not take the pod out of service), and no agent elsewhere.
func TestAgents(t *testing.T) {
	ws := webStack(t, rollingBase...)
	objs := desired(t, rollingBase...)
	templates := podTemplates(objs)
	cases := map[string]struct {
		kind string
		// args are the daemon-specific arguments after the common ones.
		args []string
		// mounts are the daemon's volumes the agent shares, by mount path.
		mounts []string
	}{
		"Deployment/shop-cache": {kind: "varnish", args: []string{"--admin", render.VarnishAdminAddress, "--secret", render.VarnishSecretPath},
			mounts: []string{"/etc/varnish", "/var/run/varnish-admin"}},
		"Deployment/shop-loadbalancer": {kind: "haproxy", args: []string{"--master-socket", haproxyMasterSocket},
			mounts: []string{haproxyConfigDir, haproxyRunDir}},
		"Deployment/shop-redis": {kind: "redis", args: []string{"--addr", "127.0.0.1:6379"}, mounts: []string{"/etc/redis"}},
		"StatefulSet/shop-database": {kind: "postgres", args: []string{"--socket", postgresSocketDir, "--port", "5432"},
			mounts: []string{postgresConfigDir, postgresSocketDir}},
	}
	want := tuning.For(ws).Agent.Resources
	for k, tc := range cases {
		t.Run(k, func(t *testing.T) {
			a := agentOf(t, templates[k])
			if a.Image != testAgentImage || len(a.Command) != 0 {
				t.Errorf("image %q command %q, want the operator's image and its entrypoint", a.Image, a.Command)
			}
			if len(a.Args) < 2 || a.Args[0] != "agent" || a.Args[1] != tc.kind || !slices.Equal(a.Args[len(a.Args)-len(tc.args):], tc.args) {
				t.Errorf("args %q, want agent %s ... %q", a.Args, tc.kind, tc.args)
			}
			if !reflect.DeepEqual(a.Resources, want) {
				t.Errorf("resources %+v, want tuning's %+v", a.Resources, want)
			}
			if a.ReadinessProbe != nil || a.LivenessProbe == nil {
				t.Errorf("readiness %+v liveness %+v: want only a liveness probe", a.ReadinessProbe, a.LivenessProbe)
			}
			if sc := a.SecurityContext; sc == nil || !*sc.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation {
				t.Errorf("security context %+v is not restricted", sc)
			}
			daemon := container(t, templates[k])
			for _, p := range tc.mounts {
				shared := func(c corev1.Container) bool {
					return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == p })
				}
				if !shared(a) || !shared(daemon) {
					t.Errorf("%s is not mounted in both the daemon and the agent", p)
				}
			}
		})
	}
	for k, tmpl := range templates {
		if _, ok := cases[k]; ok {
			continue
		}
		for _, c := range tmpl.Spec.Containers {
			if c.Name == AgentContainerName {
				t.Errorf("%s has an agent", k)
			}
		}
	}

	cache := find[*appsv1.Deployment](t, objs, "Deployment/shop-cache").Spec.Template.Spec
	if len(cache.InitContainers) != 1 || !slices.Equal(cache.InitContainers[0].Args, []string{"agent", "secret", render.VarnishSecretPath}) ||
		cache.InitContainers[0].SecurityContext == nil {
		t.Errorf("Varnish's init containers %+v: want one that writes the admin secret", cache.InitContainers)
	}
	args := container(t, templates["Deployment/shop-cache"]).Args
	if i := slices.Index(args, "-T"); i < 0 || args[i+1] != render.VarnishAdminAddress || !slices.Contains(args, "-S") {
		t.Errorf("varnishd args %q: want the admin CLI on loopback with the secret", args)
	}
	redisAgent := agentOf(t, templates["Deployment/shop-redis"])
	if pw, ok := env(t, redisAgent, redisPasswordEnv); !ok || pw != "" {
		t.Errorf("the Redis agent has no %s from the Secret", redisPasswordEnv)
	}
}
