package resources

import (
	"maps"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

func TestHAProxyDeployment(t *testing.T) {
	ws := webStack(t, withLoadBalancerReplicas(3))
	objs := desired(t, withLoadBalancerReplicas(3))
	d := find[*appsv1.Deployment](t, objs, "Deployment/shop-loadbalancer")
	c := container(t, d.Spec.Template)
	if want := []string{"haproxy", "-W", "-db", "-S", "/var/run/haproxy/master.sock", "-f", "/usr/local/etc/haproxy/haproxy.cfg"}; !slices.Equal(c.Command, want) {
		t.Errorf("command %q, want %q", c.Command, want)
	}
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas %d, want 3", *d.Spec.Replicas)
	}
	if got, want := *d.Spec.Template.Spec.TerminationGracePeriodSeconds, tuning.For(ws).App.TerminationGracePeriodSeconds; got != want {
		t.Errorf("grace %d, want the app's %d: a soft stop finishes the requests in flight", got, want)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if want := map[string]int32{"http": render.HAProxyFrontendPort, "app": render.HAProxyAppListenerPort, "stats": render.HAProxyStatsPort}; !maps.Equal(ports, want) {
		t.Errorf("ports %v, want %v", ports, want)
	}
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != render.HAProxyHealthPath || p.HTTPGet.Port.StrVal != "stats" {
			t.Errorf("probe %+v, want GET %s on stats", p, render.HAProxyHealthPath)
		}
	}
	cm := find[*corev1.ConfigMap](t, objs, "ConfigMap/shop-loadbalancer-config")
	if _, ok := cm.Data[render.FileHAProxy]; !ok || len(cm.Data) != 1 {
		t.Errorf("ConfigMap keys %v, want only haproxy.cfg", slices.Collect(maps.Keys(cm.Data)))
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/usr/local/etc/haproxy" && m.ReadOnly }) {
		t.Error("haproxy.cfg is not mounted read-only at /usr/local/etc/haproxy")
	}
}

func TestHAProxyServices(t *testing.T) {
	cases := map[string]struct {
		opts        []option
		typ         corev1.ServiceType
		port        int32
		annotations map[string]string
		listener    bool
		// policy is the externalTrafficPolicy: Local wherever traffic comes from outside,
		// so that HAProxy sees (and limits) clients, not nodes.
		policy corev1.ServiceExternalTrafficPolicy
	}{
		"defaults":                  {typ: corev1.ServiceTypeClusterIP, port: 80, listener: true},
		"LoadBalancer on 443":       {opts: []option{withServiceType("LoadBalancer", 443)}, typ: corev1.ServiceTypeLoadBalancer, port: 443, annotations: map[string]string{"example.com/lb": "internal"}, listener: true, policy: corev1.ServiceExternalTrafficPolicyLocal},
		"NodePort":                  {opts: []option{withServiceType("NodePort", 8080)}, typ: corev1.ServiceTypeNodePort, port: 8080, annotations: map[string]string{"example.com/lb": "internal"}, listener: true, policy: corev1.ServiceExternalTrafficPolicyLocal},
		"no cache, no app listener": {opts: []option{withoutCache()}, typ: corev1.ServiceTypeClusterIP, port: 80},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs := desired(t, tc.opts...)
			s := find[*corev1.Service](t, objs, "Service/shop-loadbalancer")
			if s.Spec.Type != tc.typ || len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != tc.port || s.Spec.Ports[0].TargetPort.StrVal != "http" {
				t.Errorf("service %s %+v, want %s port %d to http", s.Spec.Type, s.Spec.Ports, tc.typ, tc.port)
			}
			if s.Spec.ExternalTrafficPolicy != tc.policy {
				t.Errorf("externalTrafficPolicy %q, want %q", s.Spec.ExternalTrafficPolicy, tc.policy)
			}
			if s.Spec.HealthCheckNodePort != 0 {
				t.Errorf("healthCheckNodePort %d: the API server allocates it", s.Spec.HealthCheckNodePort)
			}
			if !maps.Equal(s.Annotations, tc.annotations) {
				t.Errorf("annotations %v, want %v", s.Annotations, tc.annotations)
			}
			hasListener := slices.Contains(keys(objs), "Service/shop-loadbalancer-app")
			if hasListener != tc.listener {
				t.Fatalf("app listener Service present %t, want %t", hasListener, tc.listener)
			}
			if tc.listener {
				l := find[*corev1.Service](t, objs, "Service/shop-loadbalancer-app")
				if l.Spec.Type != corev1.ServiceTypeClusterIP || l.Spec.ClusterIP == corev1.ClusterIPNone ||
					l.Spec.Ports[0].Port != render.HAProxyAppListenerPort || l.Spec.Ports[0].TargetPort.StrVal != "app" {
					t.Errorf("app listener Service %+v: Varnish needs a ClusterIP on %d", l.Spec, render.HAProxyAppListenerPort)
				}
			}
		})
	}
}
