package resources

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestPodReferencesResolve checks every pod template against the objects around it: each
// mount has a volume, each ConfigMap volume names a ConfigMap of Desired and keys it has,
// each Secret reference names the connection Secret or a credential Secret with that key,
// and each probe names a port of its container.
func TestPodReferencesResolve(t *testing.T) {
	credentialKeys := map[string][]string{
		"shop-database-credentials": {SuperuserPasswordKey, AppPasswordKey},
		"shop-redis-credentials":    {PasswordKey},
		"shop-broker-credentials":   {PasswordKey},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := inputsFor(t, webStack(t, tc.opts...))
			objs, err := Desired(in)
			if err != nil {
				t.Fatal(err)
			}
			configMaps := map[string]*corev1.ConfigMap{}
			claimTemplates := map[string][]string{}
			for _, o := range objs {
				switch x := o.(type) {
				case *corev1.ConfigMap:
					configMaps[x.Name] = x
				case *appsv1.StatefulSet:
					for _, c := range x.Spec.VolumeClaimTemplates {
						claimTemplates[key(o)] = append(claimTemplates[key(o)], c.Name)
					}
				}
			}
			conn := find[*corev1.Secret](t, objs, "Secret/shop-connection")
			for k, p := range podTemplates(append(objs, MigrationJob(in, "img:2"))) {
				volumes := slices.Clone(claimTemplates[k])
				for _, v := range p.Spec.Volumes {
					volumes = append(volumes, v.Name)
					if cm := v.ConfigMap; cm != nil {
						data, ok := configMaps[cm.Name]
						if !ok {
							t.Errorf("%s volume %s: no ConfigMap %s", k, v.Name, cm.Name)
							continue
						}
						for _, it := range cm.Items {
							if _, ok := data.Data[it.Key]; !ok {
								t.Errorf("%s volume %s: ConfigMap %s has no key %s", k, v.Name, cm.Name, it.Key)
							}
						}
					}
				}
				for _, c := range p.Spec.Containers {
					for _, m := range c.VolumeMounts {
						if !slices.Contains(volumes, m.Name) {
							t.Errorf("%s container %s mounts %s, which is no volume", k, c.Name, m.Name)
						}
					}
					for _, e := range c.Env {
						if e.ValueFrom == nil {
							continue
						}
						ref := e.ValueFrom.SecretKeyRef
						_, inConnection := conn.Data[ref.Key]
						if ref == nil || !slices.Contains(credentialKeys[ref.Name], ref.Key) && !(ref.Name == conn.Name && inConnection) {
							t.Errorf("%s container %s variable %s refers to %+v", k, c.Name, e.Name, e.ValueFrom)
						}
					}
					for _, f := range c.EnvFrom {
						if f.SecretRef != nil && f.SecretRef.Name != conn.Name {
							t.Errorf("%s container %s loads Secret %s", k, c.Name, f.SecretRef.Name)
						}
					}
					for _, pr := range []*corev1.Probe{c.StartupProbe, c.ReadinessProbe, c.LivenessProbe} {
						if pr == nil {
							continue
						}
						var port string
						switch {
						case pr.HTTPGet != nil:
							port = pr.HTTPGet.Port.StrVal
						case pr.TCPSocket != nil:
							port = pr.TCPSocket.Port.StrVal
						default:
							continue
						}
						if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == port }) {
							t.Errorf("%s container %s probes port %q, which it does not name", k, c.Name, port)
						}
					}
				}
			}
			for _, o := range objs {
				if s, ok := o.(*corev1.Service); ok {
					for _, sp := range s.Spec.Ports {
						if !namedBySelectedPods(objs, s, sp.TargetPort.StrVal) {
							t.Errorf("%s targets port %q, which no selected container names", key(o), sp.TargetPort.StrVal)
						}
					}
				}
			}
		})
	}
}

// namedBySelectedPods reports whether a pod template that s selects names port.
func namedBySelectedPods(objs []Object, s *corev1.Service, port string) bool {
	for _, p := range podTemplates(objs) {
		selected := true
		for k, v := range s.Spec.Selector {
			if p.Labels[k] != v {
				selected = false
			}
		}
		if !selected {
			continue
		}
		for _, c := range p.Spec.Containers {
			if slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == port }) {
				return true
			}
		}
	}
	return false
}
