package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// sample is one file of config/samples applied into its own restricted namespace.
type sample struct {
	file, name, ns string
}

var (
	minimal = sample{file: "config/samples/webstack_v1alpha1_minimal.yaml", name: "shop-minimal", ns: "e2e-minimal"}
	full    = sample{file: "config/samples/webstack_v1alpha1_full.yaml", name: "shop-full", ns: "e2e-full"}
)

const readyTimeout = 4 * time.Minute

func (s sample) apply() { GinkgoHelper(); kubectl("apply", "-n", s.ns, "-f", s.file) }

func (s sample) get() *v1alpha1.WebStack {
	GinkgoHelper()
	var ws v1alpha1.WebStack
	Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: s.name}, &ws)).To(Succeed())
	return &ws
}

func (s sample) patch(p string) {
	GinkgoHelper()
	kubectl("patch", "-n", s.ns, "webstack/"+s.name, "--type=merge", "-p", p)
}

// waitSettled waits for the stack to be Ready on its latest spec and fully rolled out.
func (s sample) waitSettled() {
	GinkgoHelper()
	Eventually(func() error { return settled(s.ns, s.name) }).WithTimeout(readyTimeout).WithPolling(2 * time.Second).Should(Succeed())
}

func (s sample) snapshot() map[string]workload {
	GinkgoHelper()
	w, err := workloads(s.ns, s.name)
	Expect(err).NotTo(HaveOccurred())
	return w
}

func obj[T client.Object](o T, ns, name string) T {
	o.SetNamespace(ns)
	o.SetName(name)
	return o
}

var _ = Describe("the chart and the manager on a real cluster", Ordered, func() {
	ctx := context.Background()

	AfterEach(func() {
		if CurrentSpecReport().Failed() {
			GinkgoWriter.Printf("manager log tail (%s):\n%s\n", manager.log, tail(manager.log, 60))
		}
		manager.expectRunning()
		Expect(manager.forbidden()).To(BeEmpty(), "the manager was refused requests: the chart's RBAC lacks a permission (log %s)", manager.log)
	})

	It("runs the manager with the chart's ServiceAccount and nothing more", func() {
		imp := filepath.Join(artifacts, "kubeconfig-"+release+".yaml")
		Expect(kubectl("--kubeconfig", imp, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")).To(Equal(serviceAccount))
		out, _ := run(time.Minute, nil, "kubectl", "--kubeconfig", imp, "auth", "can-i", "create", "clusterroles") // exits 1 on "no"
		Expect(out).To(HavePrefix("no"))
		// The out-of-cluster manager cannot elect (no lease namespace), so ask the API server
		// for what the chart's leader-election Role grants.
		for _, verb := range []string{"get", "create", "update"} {
			Expect(strings.TrimSpace(kubectl("auth", "can-i", verb, "leases.coordination.k8s.io", "-n", operatorNS, "--as", serviceAccount))).To(Equal("yes"), verb+" leases")
		}
	})

	It("brings both samples to Ready in restricted namespaces", func() {
		for _, s := range []sample{minimal, full} {
			restrictedNamespace(s.ns)
		}
		// The label is enforced: a pod that breaks the restricted profile is refused, so every
		// pod that exists below was admitted under it.
		out, err := run(time.Minute, nil, "kubectl", "run", "privileged", "-n", full.ns, "--image=registry.k8s.io/pause:3.10", "--restart=Never",
			`--overrides={"spec":{"containers":[{"name":"privileged","image":"registry.k8s.io/pause:3.10","securityContext":{"privileged":true}}]}}`)
		Expect(err).To(HaveOccurred(), "a privileged pod was admitted into %s", full.ns)
		Expect(out).To(ContainSubstring(`violates PodSecurity "restricted:latest"`))
		// Applied together and waited for together with kubectl wait, each timed from its apply.
		type waiter struct {
			s     sample
			start time.Time
			cmd   *exec.Cmd
			out   strings.Builder
		}
		var waiters []*waiter
		for _, s := range []sample{minimal, full} {
			w := &waiter{s: s, start: time.Now()}
			s.apply()
			w.cmd = exec.Command("kubectl", "wait", "-n", s.ns, "--for=condition=Ready", "webstack/"+s.name, fmt.Sprintf("--timeout=%ds", int(readyTimeout.Seconds())))
			w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
			Expect(w.cmd.Start()).To(Succeed())
			waiters = append(waiters, w)
		}
		for _, w := range waiters {
			err := w.cmd.Wait()
			Expect(err).NotTo(HaveOccurred(), "kubectl wait %s: %s\nmanager log tail:\n%s", w.s.name, w.out.String(), tail(manager.log, 30))
			took := time.Since(w.start).Round(100 * time.Millisecond)
			// Not an assertion (status of the children may lag a moment): whether everything
			// had rolled out when Ready was first reported.
			GinkgoWriter.Printf("%s at Ready: settled=%v\n", w.s.name, settled(w.s.ns, w.s.name))
			AddReportEntry("apply-to-Ready "+w.s.name, took.String())
			GinkgoWriter.Printf("TIMING apply-to-Ready %s: %s\n", w.s.name, took)
		}

		for _, s := range []sample{minimal, full} {
			s.waitSettled()
			ws := s.get()
			Expect(ws.Status.Tuning).NotTo(BeNil(), "%s status.tuning", s.name)
			Expect(ws.Status.Tuning.App.WorkersPerPod).To(BeNumerically(">", 0), "%s status.tuning.app.workersPerPod", s.name)
			Expect(ws.Status.Endpoint).To(ContainSubstring(resources.LoadBalancerName(ws)), "%s status.endpoint", s.name)

			// Every pod of ours is Running, or Succeeded for a migration Job; they exist, so
			// the namespace's restricted profile admitted them.
			var pods corev1.PodList
			Expect(k8s.List(ctx, &pods, client.InNamespace(s.ns), client.MatchingLabels{resources.InstanceLabel: s.name})).To(Succeed())
			Expect(pods.Items).NotTo(BeEmpty())
			for _, p := range pods.Items {
				if p.Labels[resources.ComponentLabel] == resources.ComponentMigration {
					Expect(p.Status.Phase).To(Equal(corev1.PodSucceeded), "migration pod %s", p.Name)
				} else {
					Expect(p.Status.Phase).To(Equal(corev1.PodRunning), "pod %s", p.Name)
				}
			}
			// No pod missing: settled compared each workload's desired replicas with its
			// Running pods; also no ReplicaSet or StatefulSet reports a refused create.
			Expect(kubectl("get", "events", "-n", s.ns, "--field-selector=reason=FailedCreate", "-o", "name")).To(BeEmpty(), "pods were refused in %s", s.ns)
			GinkgoWriter.Printf("%s: %d pods, workloads:\n", s.name, len(pods.Items))
			for k, w := range s.snapshot() {
				GinkgoWriter.Printf("  %s replicas=%d running=%d\n", k, w.replicas, len(w.pods))
			}
		}
		// The full sample runs every component.
		Expect(full.snapshot()).To(HaveKey("StatefulSet/" + resources.DatabaseName(full.get())))
	})

	It("rolls exactly what a spec change affects", func() {
		ws := full.get()
		before := full.snapshot()
		By("changing a cache TTL rule: the VCL changes in place, nothing rolls")
		full.patch(`{"spec":{"cache":{"rules":[{"pathPrefix":"/static/","ttl":"24h","ignoreCookies":true},{"pathRegex":"^/api/","pass":true},{"pathPrefix":"/news/","ttl":"45s"}]}}}`)
		full.waitSettled()
		after := full.snapshot()
		Expect(rolled(before, after)).To(BeEmpty(), "the in-pod agent loads the new VCL into the running varnishd")
		Expect(kubectl("get", "configmap", "-n", ws.Namespace, resources.CacheConfigName(ws), "-o", "jsonpath={.data.default\\.vcl}")).
			To(ContainSubstring("pathPrefix /news/, ttl 45s"))

		By("changing the database memory: only PostgreSQL rolls")
		before = after
		full.patch(`{"spec":{"database":{"resources":{"requests":{"memory":"2Gi"},"limits":{"memory":"2Gi"}}}}}`)
		full.waitSettled()
		after = full.snapshot()
		Expect(rolled(before, after)).To(Equal([]string{"StatefulSet/" + resources.DatabaseName(ws)}))
		Expect(full.get().Status.Tuning.Database).NotTo(BeNil())

		By("changing the app replicas of the minimal sample: the app scales without rolling")
		// HAProxy's server slots have headroom (status.tuning.loadBalancer.serverSlots, a power
		// of two of at least 8): one more pod changes nothing in haproxy.cfg. With the pooler
		// (the default), max_connections depends on the database's CPU and the pooler, not on
		// the app: nothing rolls, the app only scales.
		mws := minimal.get()
		tBefore := mws.Status.Tuning
		mbefore := minimal.snapshot()
		app := "Deployment/" + resources.AppName(mws)
		want := mbefore[app].replicas + 1
		minimal.patch(fmt.Sprintf(`{"spec":{"app":{"replicas":%d}}}`, want))
		minimal.waitSettled()
		mafter := minimal.snapshot()
		tAfter := minimal.get().Status.Tuning
		Expect(tAfter.App.MaxPods).To(Equal(want))
		Expect(tAfter.LoadBalancer.ServerSlots).To(Equal(tBefore.LoadBalancer.ServerSlots))
		Expect(tAfter.Database.MaxConnections).To(Equal(tBefore.Database.MaxConnections))
		Expect(rolled(mbefore, mafter)).To(BeEmpty())
		Expect(mafter[app].replicas).To(Equal(want))
		Expect(mafter[app].pods).To(HaveLen(int(want)))
	})

	It("runs the migration Job to completion before the app moves to a new image", func() {
		ws := full.get()
		Expect(ws.Spec.App.Migration).NotTo(BeNil(), "the full sample has app.migration")
		const image = "registry.example.com/shop:1.5"
		job := obj(&batchv1.Job{}, full.ns, resources.MigrationJobName(ws, image))
		dep := obj(&appsv1.Deployment{}, full.ns, resources.AppName(ws))
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(dep), dep)).To(Succeed())
		full.patch(fmt.Sprintf(`{"spec":{"app":{"image":%q}}}`, image))

		// Watch: as soon as a ReplicaSet of the app has the new image, the Job (read after it)
		// has completed.
		var newRS *appsv1.ReplicaSet
		Eventually(func(g Gomega) {
			var rss appsv1.ReplicaSetList
			g.Expect(k8s.List(ctx, &rss, client.InNamespace(full.ns), client.MatchingLabels(dep.Spec.Selector.MatchLabels))).To(Succeed())
			for i := range rss.Items {
				if hasImage(rss.Items[i].Spec.Template.Spec, image) {
					newRS = &rss.Items[i]
				}
			}
			g.Expect(newRS).NotTo(BeNil(), "no ReplicaSet with %s yet", image)
		}).WithPolling(200 * time.Millisecond).WithTimeout(readyTimeout).Should(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(job), job)).To(Succeed(), "migration Job %s", job.Name)
		Expect(job.Status.CompletionTime).NotTo(BeNil(), "ReplicaSet %s runs %s before migration Job %s completed", newRS.Name, image, job.Name)

		Expect(job.Status.Succeeded).To(BeNumerically(">=", 1))
		Expect(job.Status.CompletionTime.Time).NotTo(BeTemporally(">", newRS.CreationTimestamp.Time),
			"Job completed at %s, new ReplicaSet created at %s", job.Status.CompletionTime, newRS.CreationTimestamp)
		GinkgoWriter.Printf("migration Job %s completed %s; ReplicaSet %s created %s\n", job.Name, job.Status.CompletionTime, newRS.Name, newRS.CreationTimestamp)
		full.waitSettled()
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(dep), dep)).To(Succeed())
		Expect(hasImage(dep.Spec.Template.Spec, image)).To(BeTrue())
	})

	It("autoscales the app between the spec's bounds", func() {
		ws := full.get()
		hpa := obj(&autoscalingv2.HorizontalPodAutoscaler{}, full.ns, resources.AppName(ws))
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(hpa), hpa)).To(Succeed())
		Expect(hpa.Spec.MinReplicas).To(HaveValue(BeEquivalentTo(2)))
		Expect(hpa.Spec.MaxReplicas).To(BeEquivalentTo(10))
		Expect(hpa.Spec.ScaleTargetRef.Kind).To(Equal("Deployment"))
		Expect(hpa.Spec.ScaleTargetRef.Name).To(Equal(resources.AppName(ws)))
		Expect(kubectl("get", "hpa", "-n", full.ns, hpa.Name, "-o", "jsonpath={.spec.metrics[0].resource.target.averageUtilization}")).To(Equal("70"))
	})

	It("repairs deleted and hand-edited children", func() {
		ws := full.get()
		dep := obj(&appsv1.Deployment{}, full.ns, resources.CacheName(ws))
		svc := obj(&corev1.Service{}, full.ns, resources.LoadBalancerName(ws))
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(dep), dep)).To(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(svc), svc)).To(Succeed())
		oldDep, oldSvc := dep.UID, svc.UID
		kubectl("delete", "-n", full.ns, "deployment/"+dep.Name, "service/"+svc.Name, "--wait=true", "--timeout=60s")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(dep), dep)).To(Succeed())
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(svc), svc)).To(Succeed())
			g.Expect(dep.UID).NotTo(Equal(oldDep))
			g.Expect(svc.UID).NotTo(Equal(oldSvc))
		}).WithTimeout(time.Minute).Should(Succeed())

		lb := obj(&appsv1.Deployment{}, full.ns, resources.LoadBalancerName(ws))
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(lb), lb)).To(Succeed())
		want := *lb.Spec.Replicas
		kubectl("scale", "-n", full.ns, "deployment/"+lb.Name, fmt.Sprintf("--replicas=%d", want+3))
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(lb), lb)).To(Succeed())
			g.Expect(*lb.Spec.Replicas).To(Equal(want))
		}).WithTimeout(time.Minute).Should(Succeed())
		full.waitSettled()
	})

	It("keeps the data with deletionPolicy Retain and deletes it with Delete", func() {
		ws := full.get()
		Expect(ws.Spec.Database.DeletionPolicy).To(Equal(v1alpha1.DeletionRetain))
		claims := []string{resources.DatabaseClaimName(ws), resources.RedisClaimName(ws), resources.BrokerClaimName(ws)}
		secrets := []string{resources.DatabaseCredentialsName(ws), resources.RedisCredentialsName(ws), resources.BrokerCredentialsName(ws)}
		claimUIDs := map[string]types.UID{}
		for _, n := range claims {
			pvc := obj(&corev1.PersistentVolumeClaim{}, full.ns, n)
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pvc), pvc)).To(Succeed())
			Expect(pvc.Status.Phase).To(Equal(corev1.ClaimBound))
			claimUIDs[n] = pvc.UID
		}
		data := map[string]map[string][]byte{}
		for _, n := range secrets {
			sec := obj(&corev1.Secret{}, full.ns, n)
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(sec), sec)).To(Succeed())
			Expect(sec.Data).NotTo(BeEmpty())
			data[n] = sec.Data
		}

		By("deleting the WebStack (Retain)")
		kubectl("delete", "-n", full.ns, "webstack/"+full.name, "--wait=true", "--timeout=2m")
		Eventually(gone(obj(&appsv1.StatefulSet{}, full.ns, resources.DatabaseName(ws)))).Should(Succeed(), "garbage collection of the database StatefulSet")
		for _, n := range claims {
			pvc := obj(&corev1.PersistentVolumeClaim{}, full.ns, n)
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pvc), pvc)).To(Succeed(), "claim %s kept", n)
			Expect(pvc.DeletionTimestamp).To(BeNil(), "claim %s kept", n)
		}
		for _, n := range secrets {
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj(&corev1.Secret{}, full.ns, n)), &corev1.Secret{})).To(Succeed(), "secret %s kept", n)
		}

		By("re-applying the sample: the same claims and passwords")
		full.apply()
		kubectl("wait", "-n", full.ns, "--for=condition=Ready", "webstack/"+full.name, "--timeout=4m")
		full.waitSettled()
		for _, n := range claims {
			pvc := obj(&corev1.PersistentVolumeClaim{}, full.ns, n)
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pvc), pvc)).To(Succeed())
			Expect(pvc.UID).To(Equal(claimUIDs[n]), "claim %s", n)
			Expect(pvc.Status.Phase).To(Equal(corev1.ClaimBound))
		}
		for _, n := range secrets {
			sec := obj(&corev1.Secret{}, full.ns, n)
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(sec), sec)).To(Succeed())
			Expect(sec.Data).To(Equal(data[n]), "secret %s", n)
		}

		By("switching to deletionPolicy Delete and deleting the WebStack")
		full.patch(`{"spec":{"database":{"deletionPolicy":"Delete"}}}`)
		Eventually(func() []string { return full.get().Finalizers }).WithTimeout(time.Minute).Should(ContainElement(v1alpha1.DataFinalizer))
		kubectl("delete", "-n", full.ns, "webstack/"+full.name, "--wait=true", "--timeout=2m")
		for _, n := range claims {
			Eventually(gone(obj(&corev1.PersistentVolumeClaim{}, full.ns, n))).WithTimeout(2 * time.Minute).Should(Succeed())
		}
		for _, n := range secrets {
			Eventually(gone(obj(&corev1.Secret{}, full.ns, n))).WithTimeout(time.Minute).Should(Succeed())
		}
	})

	It("leaves the cluster clean on helm uninstall (except the CRD)", func() {
		kubectl("delete", "-n", minimal.ns, "webstack/"+minimal.name, "--wait=true", "--timeout=2m")
		manager.expectRunning()
		Expect(manager.forbidden()).To(BeEmpty())
		manager.stop()

		helm("uninstall", release, "-n", operatorNS, "--wait", "--timeout", "2m")
		Eventually(gone(&rbacv1.ClusterRole{ObjectMeta: objMeta("", release)})).WithTimeout(time.Minute).Should(Succeed())
		Expect(gone(&rbacv1.ClusterRoleBinding{ObjectMeta: objMeta("", release)})()).To(Succeed())
		Expect(gone(obj(&corev1.ServiceAccount{}, operatorNS, release))()).To(Succeed())
		Expect(gone(obj(&appsv1.Deployment{}, operatorNS, release))()).To(Succeed())
		sel := "app.kubernetes.io/instance=" + release
		Expect(kubectl("get", "clusterroles,clusterrolebindings", "-l", sel, "-o", "name")).To(BeEmpty())
		Expect(kubectl("get", "serviceaccounts,deployments,roles,rolebindings,services,configmaps,secrets", "-n", operatorNS, "-l", sel, "-o", "name")).To(BeEmpty())
		Expect(kubectl("get", "pods", "-n", operatorNS, "-o", "name")).To(BeEmpty())
		Expect(k8s.Get(ctx, client.ObjectKey{Name: "webstacks.webstack.dev"}, &apiextensionsv1.CustomResourceDefinition{})).To(Succeed(), "Helm keeps CRDs")
	})
})

// objMeta names a cluster-scoped (ns "") or namespaced object.
func objMeta(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

func hasImage(spec corev1.PodSpec, image string) bool {
	for _, c := range spec.Containers {
		if c.Image == image {
			return true
		}
	}
	return false
}
