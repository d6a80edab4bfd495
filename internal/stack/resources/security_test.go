package resources

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// restrictedVolumeTypes are the volume sources the restricted profile allows.
var restrictedVolumeTypes = map[string]func(corev1.VolumeSource) bool{
	"configMap":             func(v corev1.VolumeSource) bool { return v.ConfigMap != nil },
	"csi":                   func(v corev1.VolumeSource) bool { return v.CSI != nil },
	"downwardAPI":           func(v corev1.VolumeSource) bool { return v.DownwardAPI != nil },
	"emptyDir":              func(v corev1.VolumeSource) bool { return v.EmptyDir != nil },
	"ephemeral":             func(v corev1.VolumeSource) bool { return v.Ephemeral != nil },
	"persistentVolumeClaim": func(v corev1.VolumeSource) bool { return v.PersistentVolumeClaim != nil },
	"projected":             func(v corev1.VolumeSource) bool { return v.Projected != nil },
	"secret":                func(v corev1.VolumeSource) bool { return v.Secret != nil },
}

// restrictedViolations lists every way spec breaks the Pod Security "restricted" profile
// (https://kubernetes.io/docs/concepts/security/pod-security-standards/), plus this
// operator's own rules: a read-only root filesystem and no service account token.
func restrictedViolations(spec corev1.PodSpec) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	// Baseline: host namespaces, host paths, host ports, privileged, capabilities, /proc,
	// sysctls, AppArmor, SELinux.
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		bad("host namespaces: hostNetwork %t, hostPID %t, hostIPC %t", spec.HostNetwork, spec.HostPID, spec.HostIPC)
	}
	for _, v := range spec.Volumes {
		allowed := false
		for _, is := range restrictedVolumeTypes {
			if is(v.VolumeSource) {
				allowed = true
			}
		}
		// A volume without a source is defaulted to an emptyDir by the API server.
		if !allowed && v.VolumeSource != (corev1.VolumeSource{}) {
			bad("volume %s has a type the restricted profile forbids", v.Name)
		}
	}
	pod := spec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	for _, s := range pod.Sysctls {
		bad("pod sysctl %s", s.Name)
	}
	podNonRoot := pod.RunAsNonRoot != nil && *pod.RunAsNonRoot
	podSeccomp := seccompOK(pod.SeccompProfile)
	if pod.RunAsUser != nil && *pod.RunAsUser == 0 {
		bad("pod runAsUser 0")
	}
	if pod.SeccompProfile != nil && !podSeccomp {
		bad("pod seccomp profile %s", pod.SeccompProfile.Type)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		bad("automountServiceAccountToken is not false")
	}

	var all []corev1.Container
	all = append(all, spec.InitContainers...)
	all = append(all, spec.Containers...)
	for _, c := range spec.EphemeralContainers {
		all = append(all, corev1.Container(c.EphemeralContainerCommon))
	}
	if len(spec.Containers) == 0 {
		bad("no containers")
	}
	for _, c := range all {
		sc := c.SecurityContext
		if sc == nil {
			bad("container %s has no security context", c.Name)
			continue
		}
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				bad("container %s host port %d", c.Name, p.HostPort)
			}
		}
		if sc.Privileged != nil && *sc.Privileged {
			bad("container %s is privileged", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			bad("container %s does not set allowPrivilegeEscalation: false", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			bad("container %s does not drop ALL capabilities", c.Name)
		} else {
			for _, add := range sc.Capabilities.Add {
				if add != "NET_BIND_SERVICE" {
					bad("container %s adds capability %s", c.Name, add)
				}
			}
		}
		if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
			bad("container %s procMount %s", c.Name, *sc.ProcMount)
		}
		if sc.AppArmorProfile != nil && sc.AppArmorProfile.Type == corev1.AppArmorProfileTypeUnconfined {
			bad("container %s AppArmor unconfined", c.Name)
		}
		// runAsNonRoot: true on the container, or on the pod and not false on the container.
		if sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot || sc.RunAsNonRoot == nil && !podNonRoot {
			bad("container %s does not run as non-root", c.Name)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			bad("container %s runAsUser 0", c.Name)
		}
		if sc.RunAsUser == nil && pod.RunAsUser == nil {
			bad("container %s has no numeric uid (the kubelet cannot verify non-root of a named user)", c.Name)
		}
		// seccomp: RuntimeDefault or Localhost on the container, or on the pod and not
		// overridden on the container.
		if sc.SeccompProfile != nil && !seccompOK(sc.SeccompProfile) || sc.SeccompProfile == nil && !podSeccomp {
			bad("container %s has no RuntimeDefault or Localhost seccomp profile", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			bad("container %s has a writable root filesystem", c.Name)
		}
	}
	return errs
}

func seccompOK(p *corev1.SeccompProfile) bool {
	return p != nil && (p.Type == corev1.SeccompProfileTypeRuntimeDefault || p.Type == corev1.SeccompProfileTypeLocalhost)
}

func TestEveryPodIsRestricted(t *testing.T) {
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := inputsFor(t, webStack(t, tc.opts...))
			objs, err := Desired(in)
			if err != nil {
				t.Fatal(err)
			}
			templates := podTemplates(append(objs, MigrationJob(in, "registry.example.com/shop:1.5")))
			for k, p := range templates {
				if errs := restrictedViolations(p.Spec); len(errs) > 0 {
					t.Errorf("%s: %v", k, errors.Join(errs...))
				}
				for _, c := range p.Spec.Containers {
					if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
						t.Errorf("%s container %s lacks a cpu request or memory limit: %v", k, c.Name, c.Resources)
					}
				}
			}
		})
	}
}

// TestRestrictedViolations shows that the checker catches each rule it checks.
func TestRestrictedViolations(t *testing.T) {
	good := func() corev1.PodSpec {
		return podSpec(1000, 1000, 30, []corev1.Volume{emptyDir("tmp")}, corev1.Container{Name: "c", Image: "i"})
	}
	if errs := restrictedViolations(good()); len(errs) > 0 {
		t.Fatalf("the restricted pod spec fails the check: %v", errs)
	}
	cases := map[string]func(*corev1.PodSpec){
		"host network": func(s *corev1.PodSpec) { s.HostNetwork = true },
		"host PID":     func(s *corev1.PodSpec) { s.HostPID = true },
		"hostPath volume": func(s *corev1.PodSpec) {
			s.Volumes[0].VolumeSource = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}
		},
		"service account token": func(s *corev1.PodSpec) { s.AutomountServiceAccountToken = nil },
		"privileged":            func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Privileged = ptr(true) },
		"privilege escalation":  func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil },
		"capabilities kept":     func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Capabilities = nil },
		"capability added": func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		},
		"root allowed": func(s *corev1.PodSpec) {
			s.SecurityContext.RunAsNonRoot = nil
			s.Containers[0].SecurityContext.RunAsNonRoot = nil
		},
		"root on the container": func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.RunAsNonRoot = ptr(false) },
		"uid 0":                 func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.RunAsUser = ptr(int64(0)) },
		"no numeric uid": func(s *corev1.PodSpec) {
			s.SecurityContext.RunAsUser = nil
			s.Containers[0].SecurityContext.RunAsUser = nil
		},
		"unconfined seccomp": func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		},
		"no seccomp": func(s *corev1.PodSpec) {
			s.SecurityContext.SeccompProfile = nil
			s.Containers[0].SecurityContext.SeccompProfile = nil
		},
		"unmasked proc": func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.ProcMount = ptr(corev1.UnmaskedProcMount)
		},
		"host port": func(s *corev1.PodSpec) {
			s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}
		},
		"writable root": func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.ReadOnlyRootFilesystem = nil },
		"sysctl": func(s *corev1.PodSpec) {
			s.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "net.core.somaxconn", Value: "1024"}}
		},
		"init container, no ctx": func(s *corev1.PodSpec) { s.InitContainers = []corev1.Container{{Name: "init"}} },
		"AppArmor unconfined": func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
		},
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			s := good()
			breakIt(&s)
			if errs := restrictedViolations(s); len(errs) == 0 {
				t.Error("the checker accepted it")
			}
		})
	}
}

func TestSecurityContextsUseTheImagesUsers(t *testing.T) {
	objs := desired(t, withTasks(1), withBeat())
	want := map[string]int64{
		"Deployment/shop-loadbalancer": HAProxyUID, "Deployment/shop-cache": VarnishUID,
		"Deployment/shop-redis": RedisUID, "StatefulSet/shop-broker": RedisUID,
		"StatefulSet/shop-database": PostgresUID, "Deployment/shop-app": AppUID,
		"Deployment/shop-tasks": AppUID, "Deployment/shop-beat": AppUID,
		"Deployment/shop-pooler": PoolerUID,
	}
	fsGroups := map[string]int64{"Deployment/shop-pooler": PoolerGID}
	templates := podTemplates(objs)
	if len(templates) != len(want) {
		t.Fatalf("%d workloads, want %d", len(templates), len(want))
	}
	for k, uid := range want {
		p := templates[k]
		if got := *p.Spec.SecurityContext.RunAsUser; got != uid {
			t.Errorf("%s pod runs as %d, want %d", k, got, uid)
		}
		if got, want := *p.Spec.SecurityContext.FSGroup, cmp.Or(fsGroups[k], uid); got != want {
			t.Errorf("%s fsGroup %d, want %d", k, got, want)
		}
		if got := *container(t, p).SecurityContext.RunAsUser; got != uid {
			t.Errorf("%s container runs as %d, want %d", k, got, uid)
		}
	}
}

// TestAppSecurityContext runs every container of the app image (app, tasks, beat,
// migration) as app.securityContext's user and group, still restricted; the other
// components keep their images' users.
func TestAppSecurityContext(t *testing.T) {
	cases := map[string]struct {
		sc       *v1alpha1.AppSecurityContext
		uid, gid int64
	}{
		"default":             {uid: AppUID, gid: AppUID},
		"user: group follows": {sc: &v1alpha1.AppSecurityContext{RunAsUser: ptr(int64(4242))}, uid: 4242, gid: 4242},
		"user and root group": {sc: &v1alpha1.AppSecurityContext{RunAsUser: ptr(int64(1001)), RunAsGroup: ptr(int64(0))}, uid: 1001, gid: 0},
		"group only":          {sc: &v1alpha1.AppSecurityContext{RunAsGroup: ptr(int64(2000))}, uid: AppUID, gid: 2000},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := inputsFor(t, webStack(t, withMigration("manage.py", "migrate"), withBeat(), func(ws *v1alpha1.WebStack) {
				ws.Spec.App.SecurityContext = tc.sc
			}))
			objs, err := Desired(in)
			if err != nil {
				t.Fatal(err)
			}
			templates := podTemplates(append(objs, MigrationJob(in, "registry.example.com/shop:1.5")))
			appImage := 0
			for k, p := range templates {
				if errs := restrictedViolations(p.Spec); len(errs) > 0 {
					t.Errorf("%s: %v", k, errors.Join(errs...))
				}
				if !strings.HasPrefix(p.Spec.Containers[0].Image, "registry.example.com/shop:") {
					if *p.Spec.SecurityContext.RunAsUser == tc.uid && tc.uid != AppUID {
						t.Errorf("%s (image %s) runs as the app's uid %d", k, p.Spec.Containers[0].Image, tc.uid)
					}
					continue
				}
				appImage++
				psc, csc := p.Spec.SecurityContext, p.Spec.Containers[0].SecurityContext
				if *psc.RunAsUser != tc.uid || *psc.RunAsGroup != tc.gid || *psc.FSGroup != tc.gid || *csc.RunAsUser != tc.uid || !*psc.RunAsNonRoot {
					t.Errorf("%s: pod uid %d gid %d fsGroup %d, container uid %d; want uid %d gid %d, non-root",
						k, *psc.RunAsUser, *psc.RunAsGroup, *psc.FSGroup, *csc.RunAsUser, tc.uid, tc.gid)
				}
			}
			if appImage != 4 {
				t.Errorf("%d pod templates run the app image, want 4 (app, tasks, beat, migration)", appImage)
			}
		})
	}
}
