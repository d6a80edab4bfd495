package resources

import (
	"path"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/internal/stack/render"
)

func TestVarnishDeployment(t *testing.T) {
	in := inputsFor(t, webStack(t, withCacheReplicas(3)))
	objs, err := Desired(in)
	if err != nil {
		t.Fatal(err)
	}
	d := find[*appsv1.Deployment](t, objs, "Deployment/shop-cache")
	c := container(t, d.Spec.Template)
	if !slices.Equal(c.Command, []string{"varnishd"}) || !slices.Equal(c.Args, in.Configs.VarnishArgs) {
		t.Errorf("command %q args %q, want varnishd with the rendered arguments", c.Command, c.Args)
	}
	if !slices.Contains(c.Args, "-F") {
		t.Error("varnishd does not run in the foreground")
	}
	// The VCL path of -f is where the ConfigMap is mounted.
	i := slices.Index(c.Args, "-f")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("no -f in %q", c.Args)
	}
	vcl := c.Args[i+1]
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "config" && m.MountPath == path.Dir(vcl) }) {
		t.Errorf("the VCL %s is not in the mounted ConfigMap", vcl)
	}
	if path.Base(vcl) != render.FileVCL {
		t.Errorf("-f %s is not the ConfigMap's key %s", vcl, render.FileVCL)
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/var/lib/varnish" && !m.ReadOnly }) {
		t.Error("varnishd's working directory is not writable")
	}
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != render.VarnishHealthPath || p.HTTPGet.Port.StrVal != "http" {
			t.Errorf("probe %+v, want GET %s", p, render.VarnishHealthPath)
		}
	}
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas %d, want 3", *d.Spec.Replicas)
	}
	h := find[*corev1.Service](t, objs, "Service/shop-cache-headless")
	if h.Spec.ClusterIP != corev1.ClusterIPNone || h.Spec.PublishNotReadyAddresses || h.Spec.Ports[0].Port != render.VarnishPort {
		t.Errorf("headless Service %+v", h.Spec)
	}
}
