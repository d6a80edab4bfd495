package controllers_test

import (
	"context"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
	"github.com/webstack-dev/webstack-operator/internal/testutil"
)

var ctx = context.Background()

// expandableClass is a StorageClass that allows volume expansion: made by the suite on
// envtest; on a real cluster (hack/cluster.sh) its default class "standard" does.
var expandableClass = map[bool]string{false: "expandable", true: "standard"}[realCluster]

// skipOnRealCluster skips specs that play the Job controller: a real one finishes Jobs on
// its own (test/e2e covers migrations on a real cluster).
func skipOnRealCluster() {
	if realCluster {
		Skip("plays the Job controller, which a real cluster runs itself; see test/e2e")
	}
}

// create creates a WebStack in a new restricted namespace and returns it as stored.
func create(name string, opts ...testutil.Option) *v1alpha1.WebStack {
	ns := newNamespace()
	ws := testutil.WebStack(name, append(opts, testutil.InNamespace(ns))...)
	Expect(k8sClient.Create(ctx, ws)).To(Succeed())
	return getWS(ns, name)
}

// updateWS changes a WebStack, retrying when the operator wrote status in between.
func updateWS(ns, name string, change func(*v1alpha1.WebStack)) {
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ws := getWS(ns, name)
		change(ws)
		return k8sClient.Update(ctx, ws)
	})).To(Succeed())
}

// exists waits for an object to exist and returns it.
func exists[T client.Object](obj T, ns, name string) T {
	Eventually(func() error { return k8sClient.Get(ctx, key(ns, name), obj) }).Should(Succeed(), "%T %s/%s", obj, ns, name)
	return obj
}

// gone waits for an object to be deleted.
func gone(obj client.Object, ns, name string) {
	Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, key(ns, name), obj)) }).Should(BeTrue(), "%T %s should be gone", obj, name)
}

func podTemplates(ns string, ws *v1alpha1.WebStack) map[string]corev1.PodTemplateSpec {
	out := map[string]corev1.PodTemplateSpec{}
	sel := client.MatchingLabels(resources.InstanceLabels(ws))
	var deps appsv1.DeploymentList
	Expect(k8sClient.List(ctx, &deps, client.InNamespace(ns), sel)).To(Succeed())
	for _, d := range deps.Items {
		out["deployment/"+d.Name] = d.Spec.Template
	}
	var sets appsv1.StatefulSetList
	Expect(k8sClient.List(ctx, &sets, client.InNamespace(ns), sel)).To(Succeed())
	for _, s := range sets.Items {
		t := *s.Spec.Template.DeepCopy()
		// As the StatefulSet controller does: each claim template becomes a volume of the pod.
		for _, c := range s.Spec.VolumeClaimTemplates {
			t.Spec.Volumes = append(t.Spec.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name + "-" + s.Name + "-0"},
			}})
		}
		out["statefulset/"+s.Name] = t
	}
	return out
}

// admitPod asks the API server, in a namespace enforcing the restricted Pod Security
// profile, whether a pod of this template would be admitted (a dry run: nothing is created).
func admitPod(ns, name string, t corev1.PodTemplateSpec) error {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: strings.ReplaceAll(name, "/", "-") + "-check"}, Spec: t.Spec}
	return k8sClient.Create(ctx, pod, client.DryRunAll)
}

func env(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func ownedBy(obj client.Object, ws *v1alpha1.WebStack) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == ws.UID && ref.Kind == "WebStack"
}

func secretData(ns, name string) map[string][]byte {
	var s corev1.Secret
	Expect(k8sClient.Get(ctx, key(ns, name), &s)).To(Succeed())
	return s.Data
}

var _ = Describe("a new WebStack", Ordered, func() {
	var ws *v1alpha1.WebStack
	var ns string

	BeforeAll(func() {
		ws = create("shop", testutil.WithTasks(2), testutil.WithBeat(), testutil.WithAutoscaling(2, 10))
		ns = ws.Namespace
	})

	It("gets every child, owned and labelled", func() {
		owned := []struct {
			obj  client.Object
			name string
		}{
			{&appsv1.Deployment{}, resources.AppName(ws)},
			{&appsv1.Deployment{}, resources.TasksName(ws)},
			{&appsv1.Deployment{}, resources.BeatName(ws)},
			{&appsv1.Deployment{}, resources.CacheName(ws)},
			{&appsv1.Deployment{}, resources.LoadBalancerName(ws)},
			{&appsv1.Deployment{}, resources.RedisName(ws)},
			{&appsv1.StatefulSet{}, resources.DatabaseName(ws)},
			{&appsv1.StatefulSet{}, resources.BrokerName(ws)},
			{&corev1.Service{}, resources.AppHeadlessName(ws)},
			{&corev1.Service{}, resources.CacheHeadlessName(ws)},
			{&corev1.Service{}, resources.LoadBalancerName(ws)},
			{&corev1.Service{}, resources.DatabaseName(ws)},
			{&corev1.Service{}, resources.DatabaseHeadlessName(ws)},
			{&corev1.Service{}, resources.RedisName(ws)},
			{&corev1.Service{}, resources.BrokerName(ws)},
			{&corev1.Secret{}, resources.ConnectionSecretName(ws)},
			{&autoscalingv2.HorizontalPodAutoscaler{}, resources.AppName(ws)},
			{&policyv1.PodDisruptionBudget{}, resources.AppName(ws)},
			{&policyv1.PodDisruptionBudget{}, resources.LoadBalancerName(ws)},
			{&appsv1.Deployment{}, resources.PoolerName(ws)},
			{&corev1.Service{}, resources.PoolerName(ws)},
			{&policyv1.PodDisruptionBudget{}, resources.PoolerName(ws)},
		}
		for _, o := range owned {
			obj := exists(o.obj, ns, o.name)
			Expect(ownedBy(obj, ws)).To(BeTrue(), "%T %s is not owned by the WebStack", obj, o.name)
			Expect(obj.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/instance", ws.Name))
			Expect(obj.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "webstack-operator"))
			Expect(obj.GetLabels()).To(HaveKey("app.kubernetes.io/component"))
		}
		var pols networkingv1.NetworkPolicyList
		Expect(k8sClient.List(ctx, &pols, client.InNamespace(ns))).To(Succeed())
		Expect(len(pols.Items)).To(BeNumerically(">=", 2), "a default deny and the allow rules")

		for _, name := range []string{resources.DatabaseCredentialsName(ws), resources.RedisCredentialsName(ws), resources.BrokerCredentialsName(ws)} {
			s := exists(&corev1.Secret{}, ns, name)
			Expect(metav1.GetControllerOf(s)).To(BeNil(), "credential Secret %s must not be owned: Retain keeps it", name)
			for k, v := range s.Data {
				Expect(len(v)).To(BeNumerically(">=", 43), "%s/%s is not 32 random bytes", name, k)
			}
		}
		Eventually(func() string { return getWS(ns, ws.Name).Status.ConnectionSecret }).Should(Equal(resources.ConnectionSecretName(ws)))
		conn := secretData(ns, resources.ConnectionSecretName(ws))
		Expect(conn).To(HaveKey("DATABASE_URL"))
		Expect(conn).To(HaveKey("REDIS_URL"))
		Expect(conn).To(HaveKey("CELERY_BROKER_URL"))
		Expect(conn).To(HaveKey("CACHE_URL"))
		// Transaction pooling is the default: the app goes through PgBouncer, the migration
		// Job straight to PostgreSQL.
		Expect(conn["DATABASE_URL"]).To(ContainSubstring("@" + resources.PoolerName(ws) + "."))
		Expect(conn).To(HaveKeyWithValue("DATABASE_DIRECT_URL", ContainSubstring("@"+resources.DatabaseName(ws)+".")))
		Eventually(func() *v1alpha1.TuningStatus { return getWS(ns, ws.Name).Status.Tuning }).ShouldNot(BeNil())
		Expect(getWS(ns, ws.Name).Status.Tuning.Pooler).NotTo(BeNil(), "status.tuning shows the pool sizes")
	})

	It("runs every pod under the restricted Pod Security profile", func() {
		templates := podTemplates(ns, ws)
		Expect(templates).To(HaveLen(9), "app, tasks, beat, cache, load balancer, Redis, pooler, database, broker")
		for name, t := range templates {
			Expect(admitPod(ns, name, t)).To(Succeed(), "the API server refused a pod of %s under the restricted profile", name)
			Expect(ptr.Deref(t.Spec.AutomountServiceAccountToken, true)).To(BeFalse(), name)
			if name == "deployment/"+resources.LoadBalancerName(ws) {
				// HAProxy takes every config change by a hitless reload: nothing on its template.
				Expect(t.Annotations).NotTo(HaveKey(v1alpha1.ConfigHashAnnotation), name)
			} else {
				Expect(t.Annotations).NotTo(BeEmpty(), "%s has no hash of what it reads at start", name)
			}
		}
	})

	It("passes the tuned numbers to the app", func() {
		t := tuning.For(ws)
		var app appsv1.Deployment
		Expect(k8sClient.Get(ctx, key(ns, resources.AppName(ws)), &app)).To(Succeed())
		c := app.Spec.Template.Spec.Containers[0]
		Expect(env(c, "WEB_CONCURRENCY")).To(Equal(strconv.Itoa(int(t.App.WorkersPerPod))))
		Expect(env(c, "GUNICORN_CMD_ARGS")).To(ContainSubstring("--workers " + strconv.Itoa(int(t.App.WorkersPerPod))))
		Expect(env(c, "CACHE_DEFAULT_TIMEOUT")).To(Equal("300"))
		Expect(*app.Spec.Template.Spec.TerminationGracePeriodSeconds).To(Equal(t.App.TerminationGracePeriodSeconds))

		var hpa autoscalingv2.HorizontalPodAutoscaler
		Expect(k8sClient.Get(ctx, key(ns, resources.AppName(ws)), &hpa)).To(Succeed())
		Expect(hpa.Spec.MaxReplicas).To(Equal(int32(10)))
		Expect(*hpa.Spec.MinReplicas).To(Equal(int32(2)))

		// The HPA owns replicas: when it scales the app, the operator leaves the count alone.
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			Expect(k8sClient.Get(ctx, key(ns, resources.AppName(ws)), &app)).To(Succeed())
			app.Spec.Replicas = ptr.To[int32](6)
			return k8sClient.Update(ctx, &app)
		})).To(Succeed())
		updateWS(ns, ws.Name, func(live *v1alpha1.WebStack) {
			live.Annotations = map[string]string{"example.com/poke": "hpa"}
		})
		Consistently(func() int32 {
			Expect(k8sClient.Get(ctx, key(ns, resources.AppName(ws)), &app)).To(Succeed())
			return *app.Spec.Replicas
		}).WithTimeout(2 * time.Second).Should(Equal(int32(6)))

		var cm corev1.ConfigMap
		Expect(k8sClient.Get(ctx, key(ns, resources.DatabaseConfigName(ws)), &cm)).To(Succeed())
		Expect(cm.Data["postgresql.conf"]).To(MatchRegexp(`max_connections\s*=\s*` + strconv.Itoa(int(t.Database.MaxConnections))))
		for _, v := range cm.Data {
			for _, pw := range secretData(ns, resources.DatabaseCredentialsName(ws)) {
				Expect(v).NotTo(ContainSubstring(string(pw)), "a password leaked into a ConfigMap")
			}
		}
	})

	It("reports status: not ready until the pods are, then Ready with tuning and endpoint", func() {
		Eventually(func() string { return condition(ns, ws.Name, v1alpha1.ConditionReady) }).Should(Equal("False/ComponentsNotReady"))
		Expect(condition(ns, ws.Name, v1alpha1.ConditionAppReady)).To(Equal("False/Pending"))
		waitSettled(ns, ws.Name)
		got := getWS(ns, ws.Name)
		Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		Expect(*got.Status.Tuning).To(Equal(tuning.For(ws).Status()))
		Expect(got.Status.Endpoint).To(Equal("http://shop-loadbalancer." + ns + ".svc:80"))
		Expect(got.Status.Components.App.Replicas).To(Equal("6/6"), "the count the HPA chose")
		for _, t := range v1alpha1.ComponentConditions {
			Expect(condition(ns, ws.Name, t)).To(HavePrefix("True/"), t)
		}
	})

	It("makes no write request once settled: not on a forced reconcile, not after a restart", func() {
		waitSettled(ns, ws.Name)
		before, reconciles := mgr.writes.count(), reconcileCount()
		// Force a reconcile without changing the spec: annotate it, as `kubectl annotate` does.
		poke := []byte(`{"metadata":{"annotations":{"example.com/poke":"` + time.Now().Format(time.RFC3339Nano) + `"}}}`)
		Expect(k8sClient.Patch(ctx, getWS(ns, ws.Name), client.RawPatch(types.MergePatchType, poke))).To(Succeed())
		Eventually(reconcileCount).Should(BeNumerically(">", reconciles), "an annotation edit starts a reconcile")
		quietFor(2 * time.Second)
		Expect(mgr.writes.since(before)).To(BeEmpty(), "a reconcile with nothing to do wrote")

		passwords := secretData(ns, resources.DatabaseCredentialsName(ws))
		reconciled := reconcileCount()
		mgr.stop()
		mgr = startManager()
		// The new manager reconciles every WebStack once its cache has synced.
		Eventually(reconcileCount).Should(BeNumerically(">", reconciled))
		quietFor(3 * time.Second)
		Expect(mgr.writes.since(0)).To(BeEmpty(), describeWrites(mgr.writes.since(0)))
		Expect(secretData(ns, resources.DatabaseCredentialsName(ws))).To(Equal(passwords), "passwords changed across a restart")
	})

	It("applies a cache rule in place, and rolls only the children whose startup inputs changed", func() {
		waitSettled(ns, ws.Name)
		before := podTemplates(ns, ws)
		Expect(before["deployment/"+resources.CacheName(ws)].Spec.Containers).To(ContainElement(HaveField("Image", testAgentImage)),
			"Varnish runs the in-pod agent beside it")
		updateWS(ns, ws.Name, func(live *v1alpha1.WebStack) {
			live.Spec.Cache.Rules = append(live.Spec.Cache.Rules, v1alpha1.CacheRule{PathPrefix: "/static/", TTL: &metav1.Duration{Duration: 24 * time.Hour}})
		})
		// The new VCL reaches the ConfigMap the running varnishd's agent loads in place; no
		// pod template changes (no Varnish restart, the cache survives).
		Eventually(func() string {
			var cm corev1.ConfigMap
			Expect(k8sClient.Get(ctx, key(ns, resources.CacheConfigName(ws)), &cm)).To(Succeed())
			return cm.Data["default.vcl"]
		}).Should(ContainSubstring("pathPrefix /static/, ttl 24h0m0s"))
		waitSettled(ns, ws.Name)
		after := podTemplates(ns, ws)
		for name, t := range before {
			Expect(after[name]).To(Equal(t), "%s changed although only the cache rules did", name)
		}

		// More database memory: the database rolls, and so does nothing but the database.
		before = podTemplates(ns, ws)
		updateWS(ns, ws.Name, func(live *v1alpha1.WebStack) {
			testutil.WithDatabaseMemory("2Gi")(live)
		})
		dbKey := "statefulset/" + resources.DatabaseName(ws)
		Eventually(func() string {
			return podTemplates(ns, ws)[dbKey].Annotations[v1alpha1.ConfigHashAnnotation]
		}).ShouldNot(Equal(before[dbKey].Annotations[v1alpha1.ConfigHashAnnotation]))
		after = podTemplates(ns, ws)
		for name, t := range before {
			if name != dbKey {
				Expect(after[name]).To(Equal(t), "%s changed although only the database memory did", name)
			}
		}
	})

	It("recreates a deleted child and reverts a hand edit", func() {
		waitSettled(ns, ws.Name)
		svc := &corev1.Service{}
		Expect(k8sClient.Get(ctx, key(ns, resources.AppHeadlessName(ws)), svc)).To(Succeed())
		uid := svc.UID
		Expect(k8sClient.Delete(ctx, svc)).To(Succeed())
		Eventually(func() bool {
			fresh := &corev1.Service{}
			return k8sClient.Get(ctx, key(ns, resources.AppHeadlessName(ws)), fresh) == nil && fresh.UID != uid
		}).Should(BeTrue(), "the deleted Service was not recreated")

		// A reconcile with nothing to do first, so that the reconciler has found every child
		// matching and remembers it: a hand edit must still be seen.
		reconciles := reconcileCount()
		poke := []byte(`{"metadata":{"annotations":{"example.com/poke":"` + time.Now().Format(time.RFC3339Nano) + `"}}}`)
		Expect(k8sClient.Patch(ctx, getWS(ns, ws.Name), client.RawPatch(types.MergePatchType, poke))).To(Succeed())
		Eventually(reconcileCount).Should(BeNumerically(">", reconciles))
		var lb appsv1.Deployment
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			Expect(k8sClient.Get(ctx, key(ns, resources.LoadBalancerName(ws)), &lb)).To(Succeed())
			lb.Spec.Replicas = ptr.To[int32](7)
			return k8sClient.Update(ctx, &lb)
		})).To(Succeed())
		Eventually(func() int32 {
			Expect(k8sClient.Get(ctx, key(ns, resources.LoadBalancerName(ws)), &lb)).To(Succeed())
			return *lb.Spec.Replicas
		}).Should(Equal(int32(2)), "the hand-scaled Deployment was not reverted")
	})

	It("prunes a disabled component and keeps its data", func() {
		updateWS(ns, ws.Name, func(live *v1alpha1.WebStack) {
			live.Spec.Cache.Enabled = ptr.To(false)
			live.Spec.Database.Enabled = ptr.To(false)
		})
		gone(&appsv1.Deployment{}, ns, resources.CacheName(ws))
		gone(&corev1.Service{}, ns, resources.CacheHeadlessName(ws))
		gone(&policyv1.PodDisruptionBudget{}, ns, resources.CacheName(ws))
		gone(&appsv1.StatefulSet{}, ns, resources.DatabaseName(ws))
		gone(&corev1.Service{}, ns, resources.DatabaseName(ws))
		Eventually(func() string { return condition(ns, ws.Name, v1alpha1.ConditionCacheReady) }).Should(Equal("True/Disabled"))
		Expect(secretData(ns, resources.DatabaseCredentialsName(ws))).NotTo(BeEmpty(), "disabling the database must keep its credentials")
		Expect(secretData(ns, resources.ConnectionSecretName(ws))).NotTo(HaveKey("DATABASE_URL"))

		updateWS(ns, ws.Name, func(live *v1alpha1.WebStack) {
			live.Spec.Tasks = nil
		})
		gone(&appsv1.Deployment{}, ns, resources.TasksName(ws))
		gone(&appsv1.Deployment{}, ns, resources.BeatName(ws))
		gone(&appsv1.StatefulSet{}, ns, resources.BrokerName(ws))
		Expect(secretData(ns, resources.BrokerCredentialsName(ws))).NotTo(BeEmpty())
	})
})

var _ = Describe("deletionPolicy", func() {
	// claim plays the StatefulSet controller: the database's volume claim, labelled as the
	// claim template is.
	claim := func(ws *v1alpha1.WebStack) *corev1.PersistentVolumeClaim {
		pvc := &corev1.PersistentVolumeClaim{}
		if realCluster {
			// The StatefulSet controller makes the claim and the binder binds it.
			Eventually(func() corev1.PersistentVolumeClaimPhase {
				Expect(client.IgnoreNotFound(k8sClient.Get(ctx, key(ws.Namespace, resources.DatabaseClaimName(ws)), pvc))).To(Succeed())
				return pvc.Status.Phase
			}).WithTimeout(60 * time.Second).Should(Equal(corev1.ClaimBound))
			return pvc
		}
		class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: expandableClass}, Provisioner: "example.com/none", AllowVolumeExpansion: ptr.To(true)}
		Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, class))).To(Succeed())
		pvc = &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: ws.Namespace, Name: resources.DatabaseClaimName(ws), Labels: resources.Labels(ws, resources.ComponentDatabase)},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName: ptr.To(expandableClass),
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
			},
		}
		Expect(k8sClient.Create(ctx, pvc)).To(Succeed())
		// Only bound claims can grow: play the volume binder.
		pvc.Status.Phase = corev1.ClaimBound
		pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}
		Expect(k8sClient.Status().Update(ctx, pvc)).To(Succeed())
		return pvc
	}

	It("Retain keeps the claim and the passwords, and a new WebStack of the same name adopts them", func() {
		ws := create("keep")
		exists(&appsv1.StatefulSet{}, ws.Namespace, resources.DatabaseName(ws))
		claim(ws)
		dbURL := string(exists(&corev1.Secret{}, ws.Namespace, resources.ConnectionSecretName(ws)).Data["DATABASE_URL"])
		Expect(dbURL).NotTo(BeEmpty())
		passwords := secretData(ws.Namespace, resources.DatabaseCredentialsName(ws))
		Expect(controllerutil.ContainsFinalizer(getWS(ws.Namespace, "keep"), v1alpha1.DataFinalizer)).To(BeFalse())

		Expect(k8sClient.Delete(ctx, ws)).To(Succeed())
		gone(&v1alpha1.WebStack{}, ws.Namespace, "keep")
		var pvc corev1.PersistentVolumeClaim
		Expect(k8sClient.Get(ctx, key(ws.Namespace, resources.DatabaseClaimName(ws)), &pvc)).To(Succeed())
		Expect(pvc.OwnerReferences).To(BeEmpty(), "garbage collection must never reach the claim")
		Expect(secretData(ws.Namespace, resources.DatabaseCredentialsName(ws))).To(Equal(passwords))

		again := testutil.WebStack("keep", testutil.InNamespace(ws.Namespace))
		Expect(k8sClient.Create(ctx, again)).To(Succeed())
		Eventually(func() string {
			var s corev1.Secret
			if err := k8sClient.Get(ctx, key(ws.Namespace, resources.ConnectionSecretName(ws)), &s); err != nil {
				return ""
			}
			return string(s.Data["DATABASE_URL"])
		}).Should(Equal(dbURL), "the re-created WebStack did not adopt the kept passwords")
		Expect(secretData(ws.Namespace, resources.DatabaseCredentialsName(ws))).To(Equal(passwords))
	})

	It("Delete removes the claim and the credentials with the WebStack", func() {
		ws := create("drop", testutil.WithDeletionPolicy(v1alpha1.DeletionDelete), testutil.WithTasks(1))
		Eventually(func() bool {
			return controllerutil.ContainsFinalizer(getWS(ws.Namespace, "drop"), v1alpha1.DataFinalizer)
		}).Should(BeTrue())
		exists(&corev1.Secret{}, ws.Namespace, resources.BrokerCredentialsName(ws))
		claim(ws)
		Expect(k8sClient.Delete(ctx, ws)).To(Succeed())
		gone(&v1alpha1.WebStack{}, ws.Namespace, "drop")
		// envtest runs no pvc-protection controller, so the claim keeps its protection
		// finalizer: deleted means a deletion timestamp here.
		Eventually(func() bool {
			var pvc corev1.PersistentVolumeClaim
			err := k8sClient.Get(ctx, key(ws.Namespace, resources.DatabaseClaimName(ws)), &pvc)
			return apierrors.IsNotFound(err) || err == nil && pvc.DeletionTimestamp != nil
		}).Should(BeTrue(), "the claim was not deleted")
		gone(&corev1.Secret{}, ws.Namespace, resources.DatabaseCredentialsName(ws))
		gone(&corev1.Secret{}, ws.Namespace, resources.RedisCredentialsName(ws))
		gone(&corev1.Secret{}, ws.Namespace, resources.BrokerCredentialsName(ws))
	})

	// The policy in force when the data would go decides, in either order of the switch to
	// Retain and the deletion, even when both happen while the operator is down.
	for _, order := range []string{"Retain, then delete", "delete, then Retain"} {
		It("keeps the data when deletionPolicy was switched to Retain: "+order, func() {
			name := map[string]string{"Retain, then delete": "retain-first", "delete, then Retain": "delete-first"}[order]
			ws := create(name, testutil.WithDeletionPolicy(v1alpha1.DeletionDelete))
			Eventually(func() bool {
				return controllerutil.ContainsFinalizer(getWS(ws.Namespace, name), v1alpha1.DataFinalizer)
			}).Should(BeTrue())
			exists(&corev1.Secret{}, ws.Namespace, resources.DatabaseCredentialsName(ws))
			claim(ws)
			passwords := secretData(ws.Namespace, resources.DatabaseCredentialsName(ws))

			mgr.stop()
			toRetain := func() {
				updateWS(ws.Namespace, name, func(live *v1alpha1.WebStack) { live.Spec.Database.DeletionPolicy = v1alpha1.DeletionRetain })
			}
			if order == "Retain, then delete" {
				toRetain()
				Expect(k8sClient.Delete(ctx, getWS(ws.Namespace, name))).To(Succeed())
			} else {
				Expect(k8sClient.Delete(ctx, getWS(ws.Namespace, name))).To(Succeed())
				toRetain()
			}
			mgr = startManager()

			gone(&v1alpha1.WebStack{}, ws.Namespace, name)
			var pvc corev1.PersistentVolumeClaim
			Expect(k8sClient.Get(ctx, key(ws.Namespace, resources.DatabaseClaimName(ws)), &pvc)).To(Succeed())
			Expect(pvc.DeletionTimestamp).To(BeNil(), "the claim was deleted although the policy was Retain")
			Expect(secretData(ws.Namespace, resources.DatabaseCredentialsName(ws))).To(Equal(passwords))
		})
	}

	It("grows the database claim when storage grows", func() {
		ws := create("grow", func(ws *v1alpha1.WebStack) { ws.Spec.Database.Storage.StorageClassName = ptr.To(expandableClass) })
		exists(&appsv1.StatefulSet{}, ws.Namespace, resources.DatabaseName(ws))
		claim(ws)
		updateWS(ws.Namespace, "grow", func(live *v1alpha1.WebStack) {
			live.Spec.Database.Storage.Size = ptr.To(resource.MustParse("20Gi"))
		})
		Eventually(func() string {
			var pvc corev1.PersistentVolumeClaim
			Expect(k8sClient.Get(ctx, key(ws.Namespace, resources.DatabaseClaimName(ws)), &pvc)).To(Succeed())
			q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
			return q.String()
		}).Should(Equal("20Gi"))
		var sts appsv1.StatefulSet
		Expect(k8sClient.Get(ctx, key(ws.Namespace, resources.DatabaseName(ws)), &sts)).To(Succeed())
		q := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]
		Expect(q.String()).To(Equal("10Gi"), "claim templates are immutable; the claim itself grows")
		Expect(condition(ws.Namespace, "grow", v1alpha1.ConditionDegraded)).NotTo(Equal("True/ApplyFailed"))
	})
})

var _ = Describe("migrations", func() {
	finishJob := func(ns, name string, t batchv1.JobConditionType) {
		var job batchv1.Job
		Expect(k8sClient.Get(ctx, key(ns, name), &job)).To(Succeed())
		now := metav1.Now()
		job.Status.StartTime = &now
		if t == batchv1.JobComplete {
			job.Status.Succeeded = 1
			job.Status.CompletionTime = &now
			job.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
			}
		} else {
			job.Status.Failed = 3
			job.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "BackoffLimitExceeded"},
				{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "BackoffLimitExceeded"},
			}
		}
		Expect(k8sClient.Status().Update(ctx, &job)).To(Succeed())
	}
	appImage := func(ws *v1alpha1.WebStack) string {
		var d appsv1.Deployment
		if err := k8sClient.Get(ctx, key(ws.Namespace, resources.AppName(ws)), &d); err != nil {
			return ""
		}
		return d.Spec.Template.Spec.Containers[0].Image
	}

	It("runs the migration before the app moves to a new image, and holds it when the migration fails", func() {
		skipOnRealCluster()
		ws := create("mig", testutil.WithMigration("python", "manage.py", "migrate", "--noinput"), testutil.WithTasks(1))
		ns := ws.Namespace
		first := resources.MigrationJobName(ws, ws.Spec.App.Image)
		exists(&batchv1.Job{}, ns, first)
		Eventually(func() string { return condition(ns, "mig", v1alpha1.ConditionProgressing) }).Should(Equal("True/Migrating"))
		Consistently(func() string { return appImage(ws) }).WithTimeout(time.Second).Should(BeEmpty(), "the app must wait for its first migration")

		finishJob(ns, first, batchv1.JobComplete)
		Eventually(func() string { return appImage(ws) }).Should(Equal("registry.example.com/shop:1.4"))
		waitSettled(ns, "mig")

		updateWS(ns, "mig", func(live *v1alpha1.WebStack) {
			live.Spec.App.Image = "registry.example.com/shop:1.5"
		})
		second := resources.MigrationJobName(getWS(ns, "mig"), "registry.example.com/shop:1.5")
		Expect(second).NotTo(Equal(first))
		job := exists(&batchv1.Job{}, ns, second)
		Expect(job.Spec.Template.Spec.Containers[0].Image).To(Equal("registry.example.com/shop:1.5"))
		Expect(job.Spec.TTLSecondsAfterFinished).NotTo(BeNil(), "finished Jobs are cleaned up by TTL")
		Consistently(func() string { return appImage(ws) }).WithTimeout(time.Second).Should(Equal("registry.example.com/shop:1.4"))

		finishJob(ns, second, batchv1.JobFailed)
		Eventually(func() string { return condition(ns, "mig", v1alpha1.ConditionDegraded) }).Should(Equal("True/MigrationFailed"))
		Consistently(func() string { return appImage(ws) }).WithTimeout(2*time.Second).Should(Equal("registry.example.com/shop:1.4"), "a failed migration must not roll the app")
		var tasks appsv1.Deployment
		Expect(k8sClient.Get(ctx, key(ns, resources.TasksName(ws)), &tasks)).To(Succeed())
		Expect(tasks.Spec.Template.Spec.Containers[0].Image).To(Equal("registry.example.com/shop:1.4"))
	})
})

// events lists the Events about a WebStack, as "Reason: note".
func events(ws *v1alpha1.WebStack) []string {
	var list eventsv1.EventList
	Expect(k8sClient.List(ctx, &list, client.InNamespace(ws.Namespace))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "WebStack" && e.Regarding.Name == ws.Name {
			out = append(out, e.Reason+": "+e.Note)
		}
	}
	return out
}

// reasons lists the reasons of the Events about a WebStack.
func reasons(ws *v1alpha1.WebStack) []string {
	var out []string
	for _, e := range events(ws) {
		reason, _, _ := strings.Cut(e, ":")
		out = append(out, reason)
	}
	return out
}

var _ = Describe("events", func() {
	It("tell a person about creation, rollouts, migrations and failures", func() {
		skipOnRealCluster()
		ws := create("told", testutil.WithMigration("python", "manage.py", "migrate"))
		ns := ws.Namespace
		// The first reconcile creates the stack but the app, and starts the migration: one Event.
		Eventually(func() []string { return events(ws) }).Should(ContainElement(And(
			HavePrefix("MigrationStarted: started Job "),
			ContainSubstring("; created "),
			ContainSubstring("generated the passwords in Secret "+resources.DatabaseCredentialsName(ws)))))
		job := resources.MigrationJobName(ws, ws.Spec.App.Image)
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var j batchv1.Job
			Expect(k8sClient.Get(ctx, key(ns, job), &j)).To(Succeed())
			now := metav1.Now()
			j.Status.StartTime = &now
			j.Status.Failed = 3
			j.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "BackoffLimitExceeded"},
				{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "BackoffLimitExceeded"},
			}
			return k8sClient.Status().Update(ctx, &j)
		})).To(Succeed())
		Eventually(func() []string { return reasons(ws) }).Should(ContainElement("MigrationFailed"))

		updateWS(ns, "told", func(live *v1alpha1.WebStack) {
			live.Spec.App.Migration = nil
			live.Spec.LoadBalancer.Replicas = 3
		})
		// The same reconcile creates the app (its migration is no longer asked for), so the
		// Event's reason is Created; the rollout of the load balancer is in its note.
		Eventually(func() []string { return events(ws) }).Should(ContainElement(
			ContainSubstring("applied a new spec to Deployment " + resources.LoadBalancerName(ws))))
	})

	It("sum up what a reconcile did in one Event, not one per child", func() {
		ws := create("one-event")
		// Ready is told too where pods run (a real cluster); nothing else is.
		notReady := func() []string {
			var out []string
			for _, e := range events(ws) {
				if !strings.HasPrefix(e, v1alpha1.ReasonReady+":") {
					out = append(out, e)
				}
			}
			return out
		}
		Eventually(notReady).Should(ConsistOf(
			MatchRegexp(`^Created: created \d+ objects \(\d+ ConfigMap, \d+ Deployment, .*\); generated the passwords in Secret `)))
		// Later reconciles (the children's own watch events, the status write) change nothing
		// and say nothing.
		Consistently(notReady).WithTimeout(2 * time.Second).Should(HaveLen(1))
	})
})

var _ = Describe("the connection budget", func() {
	It("marks a maxConnections below the budget Degraded, without raising it", func() {
		ws := create("tight", testutil.WithMaxConnections(5))
		Eventually(func() string { return condition(ws.Namespace, "tight", v1alpha1.ConditionDegraded) }).Should(Equal("True/ConnectionBudgetExceeded"))
		Eventually(func() []string { return reasons(ws) }).Should(ContainElement("ConnectionBudgetExceeded"))
		got := getWS(ws.Namespace, "tight")
		Expect(got.Status.Tuning.Database.MaxConnections).To(Equal(int32(5)))
		Expect(got.Status.Tuning.Warnings).NotTo(BeEmpty())
		var cm corev1.ConfigMap
		Eventually(func() error { return k8sClient.Get(ctx, key(ws.Namespace, resources.DatabaseConfigName(ws)), &cm) }).Should(Succeed())
		Expect(cm.Data["postgresql.conf"]).To(MatchRegexp(`max_connections\s*=\s*5\b`))
	})
})

var _ = Describe("a failing phase", func() {
	It("shows under its own reason: a credential Secret without its password is CredentialsFailed", func() {
		ns := newNamespace()
		ws := testutil.WebStack("lost", testutil.InNamespace(ns))
		name := resources.DatabaseCredentialsName(ws)
		// A Secret of that name already there but without the passwords, as a hand edit or a
		// bad restore leaves it: the operator never rewrites it.
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Data: map[string][]byte{"unrelated": []byte("x")}})).To(Succeed())
		Expect(k8sClient.Create(ctx, ws)).To(Succeed())
		// Each retry of the failing reconcile tries to create the Secret again: a write that
		// must not land in another spec's count of writes.
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, ws)).To(Succeed()) })
		Eventually(func() string { return condition(ns, "lost", v1alpha1.ConditionDegraded) }).Should(Equal("True/" + v1alpha1.ReasonCredentialsFailed))
		got := getWS(ns, "lost")
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionDegraded).Message).To(ContainSubstring("secret " + name + " has no key"))
		// Ready names the components first: none was created.
		Expect(condition(ns, "lost", v1alpha1.ConditionReady)).To(Equal("False/" + v1alpha1.ReasonComponentsNotReady))
		// No child is applied past the failed phase.
		Consistently(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, key(ns, resources.AppName(ws)), &appsv1.Deployment{}))
		}).WithTimeout(time.Second).Should(BeTrue())
	})
})

var _ = Describe("the manager's cache", func() {
	It("holds only the operator's objects, without managedFields", func() {
		ws := create("cached")
		ns := ws.Namespace
		exists(&corev1.ConfigMap{}, ns, resources.DatabaseConfigName(ws))
		unrelated := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "someone-elses"}, Data: map[string]string{"k": "v"}}
		Expect(k8sClient.Create(ctx, unrelated)).To(Succeed())
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "someone-elses"}, StringData: map[string]string{"k": "v"}}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())

		Eventually(func(g Gomega) {
			var cms corev1.ConfigMapList
			g.Expect(mgr.cache.List(ctx, &cms, client.InNamespace(ns))).To(Succeed())
			names := []string{}
			for _, cm := range cms.Items {
				names = append(names, cm.Name)
				g.Expect(cm.ManagedFields).To(BeEmpty(), "managedFields are stripped from the cache")
			}
			g.Expect(names).To(ContainElement(resources.DatabaseConfigName(ws)))
			g.Expect(names).NotTo(ContainElement("someone-elses"))
		}).Should(Succeed())
		var secrets corev1.SecretList
		Expect(mgr.cache.List(ctx, &secrets, client.InNamespace(ns))).To(Succeed())
		for _, s := range secrets.Items {
			Expect(s.Name).NotTo(Equal("someone-elses"), "unrelated Secrets must not be cached")
		}
	})
})

var _ = Describe("disabling the cache Redis", func() {
	It("prunes it, keeps its password, and drops REDIS_URL from the app", func() {
		ws := create("noredis", testutil.WithRedisPersistence(v1alpha1.PersistenceAOF))
		ns := ws.Namespace
		exists(&appsv1.StatefulSet{}, ns, resources.RedisName(ws))
		Expect(secretData(ns, resources.ConnectionSecretName(ws))).To(HaveKey("REDIS_URL"))
		updateWS(ns, "noredis", func(live *v1alpha1.WebStack) { live.Spec.Redis.Enabled = ptr.To(false) })
		gone(&appsv1.StatefulSet{}, ns, resources.RedisName(ws))
		gone(&corev1.Service{}, ns, resources.RedisName(ws))
		gone(&corev1.ConfigMap{}, ns, resources.RedisConfigName(ws))
		Eventually(func() map[string][]byte { return secretData(ns, resources.ConnectionSecretName(ws)) }).ShouldNot(HaveKey("REDIS_URL"))
		Expect(secretData(ns, resources.RedisCredentialsName(ws))).NotTo(BeEmpty())
		Eventually(func() string { return condition(ns, "noredis", v1alpha1.ConditionRedisReady) }).Should(Equal("True/Disabled"))
	})
})

var _ = Describe("moving the app from replicas to autoscaling", func() {
	It("keeps the running pod count instead of dropping to the API default of 1", func() {
		ws := create("scaled", testutil.WithReplicas(5))
		ns := ws.Namespace
		replicas := func() int32 {
			var d appsv1.Deployment
			Expect(k8sClient.Get(ctx, key(ns, resources.AppName(ws)), &d)).To(Succeed())
			return ptr.Deref(d.Spec.Replicas, -1)
		}
		Eventually(func() error { return k8sClient.Get(ctx, key(ns, resources.AppName(ws)), &appsv1.Deployment{}) }).Should(Succeed())
		Eventually(replicas).Should(Equal(int32(5)))
		updateWS(ns, "scaled", func(live *v1alpha1.WebStack) {
			live.Spec.App.Replicas = nil
			live.Spec.App.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: 2, MaxReplicas: 10}
		})
		exists(&autoscalingv2.HorizontalPodAutoscaler{}, ns, resources.AppName(ws))
		Consistently(replicas).WithTimeout(2*time.Second).Should(Equal(int32(5)), "the HPA takes over from 5 pods")
	})
})

var _ = Describe("creating a stack", func() {
	It("writes each child once, its status once and one Event", func() {
		if realCluster {
			Skip("pods become ready on a real cluster, and the status follows them with more writes")
		}
		before := mgr.writes.count()
		ws := create("frugal")
		ns := ws.Namespace
		Eventually(func() string { return getWS(ns, ws.Name).Status.ConnectionSecret }).ShouldNot(BeEmpty())
		quietFor(2 * time.Second)

		perPath := map[string]int{}
		var children, statuses, events int
		for _, w := range mgr.writes.since(before) {
			if !strings.Contains(w, "/namespaces/"+ns+"/") {
				continue
			}
			perPath[w]++
			switch {
			case strings.HasSuffix(w, "/webstacks/"+ws.Name+"/status"):
				statuses++
			case strings.Contains(w, "/events"):
				events++
			default:
				children++
			}
		}
		all := describeWrites(mgr.writes.since(before))
		for path, n := range perPath {
			if strings.HasPrefix(path, "PATCH ") {
				Expect(n).To(Equal(1), "%s written %d times\n%s", path, n, all)
			}
		}
		Expect(perPath["POST /api/v1/namespaces/"+ns+"/secrets"]).To(Equal(len(resources.CredentialSecrets(ws))), all)
		Expect(statuses).To(Equal(1), all)
		Expect(events).To(Equal(1), all)
		// The minimal stack: credentials, configs, workloads, Services, policies, budgets.
		Expect(children).To(BeNumerically(">=", 25), all)
	})
})

var _ = Describe("an upgrade from an operator that gave the app and the cache ClusterIP Services", func() {
	It("deletes those Services, which nothing in the stack uses", func() {
		ws := create("upgraded")
		ns := ws.Namespace
		exists(&corev1.Service{}, ns, resources.AppHeadlessName(ws))
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, key(ns, resources.AppName(ws)), &corev1.Service{}))).To(BeTrue(), "no ClusterIP Service for the app")
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, key(ns, resources.CacheName(ws)), &corev1.Service{}))).To(BeTrue(), "no ClusterIP Service for the cache")

		// What an earlier version left: owned, labelled ClusterIP Services.
		for _, name := range []string{resources.AppName(ws), resources.CacheName(ws)} {
			old := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: resources.Labels(ws, resources.ComponentApp)},
				Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
			}
			Expect(controllerutil.SetControllerReference(getWS(ns, ws.Name), old, k8sClient.Scheme())).To(Succeed())
			Expect(k8sClient.Create(ctx, old)).To(Succeed())
		}
		// The next reconcile (here: an annotation) prunes them.
		poke := []byte(`{"metadata":{"annotations":{"example.com/poke":"1"}}}`)
		Expect(k8sClient.Patch(ctx, getWS(ns, ws.Name), client.RawPatch(types.MergePatchType, poke))).To(Succeed())
		gone(&corev1.Service{}, ns, resources.AppName(ws))
		gone(&corev1.Service{}, ns, resources.CacheName(ws))
	})
})

var _ = Describe("an upgrade from an operator that gave the database, Redis and the broker ClusterIP Services", func() {
	It("replaces them with headless Services of the same names", func() {
		ws := create("headless", testutil.WithTasks(1))
		ns := ws.Namespace
		names := []string{resources.DatabaseName(ws), resources.RedisName(ws), resources.BrokerName(ws)}
		for _, name := range names {
			svc := exists(&corev1.Service{}, ns, name)
			Expect(svc.Spec.ClusterIP).To(Equal(corev1.ClusterIPNone), "a new stack's %s Service is headless", name)
		}

		// What an earlier version left, made while no operator runs: owned, labelled
		// ClusterIP Services under the same names.
		mgr.stop()
		old := map[string]types.UID{}
		for _, name := range names {
			Expect(k8sClient.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})).To(Succeed())
			gone(&corev1.Service{}, ns, name)
			svc := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: resources.Labels(ws, resources.ComponentDatabase)},
				Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "tcp", Port: 5432}}},
			}
			Expect(controllerutil.SetControllerReference(getWS(ns, ws.Name), svc, k8sClient.Scheme())).To(Succeed())
			Expect(k8sClient.Create(ctx, svc)).To(Succeed())
			Expect(svc.Spec.ClusterIP).NotTo(BeEmpty())
			Expect(svc.Spec.ClusterIP).NotTo(Equal(corev1.ClusterIPNone))
			old[name] = svc.UID
		}
		mgr = startManager()

		for _, name := range names {
			Eventually(func() string {
				var svc corev1.Service
				if err := k8sClient.Get(ctx, key(ns, name), &svc); err != nil || svc.UID == old[name] {
					return "old or missing"
				}
				return svc.Spec.ClusterIP
			}).Should(Equal(corev1.ClusterIPNone), "%s was not replaced by a headless Service", name)
		}
		Eventually(func() []string { return events(getWS(ns, ws.Name)) }).Should(ContainElement(ContainSubstring("replaced Service")))
	})
})

var _ = Describe("a spec the API server admits but a daemon would refuse", func() {
	It("is Degraded with the renderer's message, and nothing running is rewritten", func() {
		ws := create("refused", testutil.WithCacheRule("/static/", "1h"))
		ns := ws.Namespace
		cm := exists(&corev1.ConfigMap{}, ns, resources.CacheConfigName(ws))
		before := cm.Data
		waitSettled(ns, ws.Name)

		// PCRE2 in Varnish has lookbehind, but the renderer's checked subset does not: the CRD
		// admits it, the renderer refuses it.
		updateWS(ns, ws.Name, func(live *v1alpha1.WebStack) {
			live.Spec.Cache.Rules = append(live.Spec.Cache.Rules, v1alpha1.CacheRule{PathRegex: "(?<=a)b", Pass: true})
		})
		Eventually(func() string { return condition(ns, ws.Name, v1alpha1.ConditionDegraded) }).
			Should(Equal("True/" + v1alpha1.ReasonRenderFailed))
		var deg string
		for _, c := range getWS(ns, ws.Name).Status.Conditions {
			if c.Type == v1alpha1.ConditionDegraded {
				deg = c.Message
			}
		}
		Expect(deg).To(ContainSubstring("pathRegex"))
		Consistently(func() map[string]string {
			var now corev1.ConfigMap
			Expect(k8sClient.Get(ctx, key(ns, resources.CacheConfigName(ws)), &now)).To(Succeed())
			return now.Data
		}, 2*time.Second).Should(Equal(before), "the running Varnish' VCL was rewritten")
		Expect(k8sClient.Delete(ctx, getWS(ns, ws.Name))).To(Succeed())
	})
})

var _ = Describe("turning connection pooling off", func() {
	It("prunes the pooler and points the app straight at PostgreSQL", func() {
		ws := create("unpooled")
		ns := ws.Namespace
		exists(&appsv1.Deployment{}, ns, resources.PoolerName(ws))
		exists(&corev1.Secret{}, ns, resources.PoolerAuthName(ws))
		updateWS(ns, ws.Name, func(live *v1alpha1.WebStack) { live.Spec.Database.Pooling.Mode = v1alpha1.PoolingNone })
		gone(&appsv1.Deployment{}, ns, resources.PoolerName(ws))
		gone(&corev1.Service{}, ns, resources.PoolerName(ws))
		gone(&corev1.Secret{}, ns, resources.PoolerAuthName(ws))
		Eventually(func() string { return string(secretData(ns, resources.ConnectionSecretName(ws))["DATABASE_URL"]) }).
			Should(ContainSubstring("@" + resources.DatabaseName(ws) + "."))
		Expect(k8sClient.Delete(ctx, getWS(ns, ws.Name))).To(Succeed())
	})
})
