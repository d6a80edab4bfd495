package crd_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/test/crd"
)

// object reads one manifest into an unstructured object in the test namespace, with a
// unique name so that cases do not collide.
func object(doc []byte, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal(doc, &u.Object)).To(Succeed())
	u.SetNamespace(namespace)
	if name != "" {
		u.SetName(name)
	}
	return u
}

func mustLoad(sub string) []crd.Case {
	cases, err := crd.Load(sub)
	if err != nil {
		panic(err)
	}
	return cases
}

func caseName(c crd.Case) string {
	if len(c.Name) > 40 {
		return c.Name[:40]
	}
	return c.Name
}

var _ = Describe("samples", func() {
	files, _ := filepath.Glob(filepath.Join(crd.Dir(), "..", "..", "..", "config", "samples", "*.yaml"))

	It("has samples to test", func() { Expect(len(files)).To(BeNumerically(">=", 2)) })

	for _, f := range files {
		It("accepts "+filepath.Base(f)+" and stores its defaults", func() {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			u := object(data, "")
			Expect(k8sClient.Create(ctx, u)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, u))).To(Succeed()) })

			var ws v1alpha1.WebStack
			Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: namespace, Name: u.GetName()}, &ws)).To(Succeed())
			s := ws.Spec
			Expect(s.App.Port).To(BeNumerically(">", 0))
			Expect(s.App.Threads).To(BeNumerically(">=", 1))
			Expect(s.App.HealthCheckPath).To(HavePrefix("/"))
			Expect(s.App.MemoryPerWorker).NotTo(BeNil())
			Expect(s.LoadBalancer.Image).NotTo(BeEmpty())
			Expect(s.LoadBalancer.Replicas).To(BeNumerically(">=", 1))
			Expect(s.LoadBalancer.Algorithm).NotTo(BeEmpty())
			Expect(s.LoadBalancer.Timeouts.Connect).NotTo(BeNil())
			Expect(s.LoadBalancer.Timeouts.Queue).NotTo(BeNil())
			Expect(s.LoadBalancer.Service.Type).NotTo(BeEmpty())
			Expect(s.Cache.Enabled).NotTo(BeNil())
			Expect(s.Cache.DefaultTTL).NotTo(BeNil())
			Expect(s.Redis.Persistence).NotTo(BeEmpty())
			Expect(s.Database.Version).NotTo(BeEmpty())
			Expect(s.Database.DeletionPolicy).NotTo(BeEmpty())
			Expect(s.Database.Storage.Size).NotTo(BeNil())
		})

		It("keeps "+filepath.Base(f)+" as it was through a typed client's read and update", func() {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			u := object(data, "typed-"+strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "webstack_v1alpha1_"), ".yaml"), "_", "-"))
			Expect(k8sClient.Create(ctx, u)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, u))).To(Succeed()) })
			stored := &unstructured.Unstructured{}
			stored.SetGroupVersionKind(u.GroupVersionKind())
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), stored)).To(Succeed())

			// What Go programs do (controllers, envtest suites): read typed, change an annotation, update.
			var ws v1alpha1.WebStack
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), &ws)).To(Succeed())
			ws.Annotations = map[string]string{"example.com/touched": "yes"}
			Expect(k8sClient.Update(ctx, &ws)).To(Succeed())

			after := &unstructured.Unstructured{}
			after.SetGroupVersionKind(u.GroupVersionKind())
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), after)).To(Succeed())
			// Go writes durations its own way ("2m" comes back "2m0s") and leaves out an explicit 0
			// (which means "derive it", as absent does); nothing else may change, and no empty
			// object may appear.
			Expect(sameMeaning("spec", stored.Object["spec"], after.Object["spec"])).To(Succeed())
		})
	}

	It("defaults a minimal WebStack exactly as documented", func() {
		data, err := os.ReadFile(filepath.Join(crd.Dir(), "..", "..", "..", "config", "samples", "webstack_v1alpha1_minimal.yaml"))
		Expect(err).NotTo(HaveOccurred())
		u := object(data, "defaults")
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, u)).To(Succeed()) })
		var ws v1alpha1.WebStack
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: namespace, Name: "defaults"}, &ws)).To(Succeed())
		s := ws.Spec
		Expect(s.App.Port).To(Equal(int32(8000)))
		Expect(s.App.Threads).To(Equal(int32(1)))
		Expect(s.App.MemoryPerWorker.String()).To(Equal("128Mi"))
		Expect(s.App.HealthCheckPath).To(Equal("/healthz"))
		Expect(s.App.Replicas).To(BeNil(), "replicas is defaulted by the operator, so it never conflicts with autoscaling")
		Expect(s.LoadBalancer.Image).To(Equal(v1alpha1.DefaultHAProxyImage))
		Expect(s.LoadBalancer.Replicas).To(Equal(int32(2)))
		Expect(s.LoadBalancer.Algorithm).To(Equal(v1alpha1.AlgorithmLeastConn))
		Expect(s.LoadBalancer.MaxConnections).To(Equal(int32(4096)))
		Expect(s.LoadBalancer.Timeouts.Connect.Duration.String()).To(Equal("5s"))
		Expect(s.LoadBalancer.Timeouts.Client.Duration.String()).To(Equal("30s"))
		Expect(s.LoadBalancer.Timeouts.Server.Duration.String()).To(Equal("30s"))
		Expect(s.LoadBalancer.Timeouts.Queue.Duration.String()).To(Equal("10s"))
		Expect(s.LoadBalancer.Service.Type).To(Equal(v1alpha1.ServiceType("ClusterIP")))
		Expect(s.LoadBalancer.Service.Port).To(Equal(int32(80)))
		Expect(*s.Cache.Enabled).To(BeTrue())
		Expect(s.Cache.Image).To(Equal(v1alpha1.DefaultVarnishImage))
		Expect(s.Cache.Replicas).To(Equal(int32(2)))
		Expect(s.Cache.DefaultTTL.Duration.String()).To(Equal("2m0s"))
		Expect(s.Cache.Grace.Duration.String()).To(Equal("1h0m0s"))
		Expect(*s.Redis.Enabled).To(BeTrue())
		Expect(s.Redis.Image).To(Equal(v1alpha1.DefaultRedisImage))
		Expect(s.Redis.Persistence).To(Equal(v1alpha1.PersistenceNone))
		Expect(s.Redis.DefaultTTL.Duration.String()).To(Equal("5m0s"))
		Expect(s.Redis.Storage.Size.String()).To(Equal("1Gi"))
		Expect(*s.Database.Enabled).To(BeTrue())
		Expect(s.Database.Version).To(Equal(v1alpha1.PostgresVersion("16")))
		Expect(s.Database.Storage.Size.String()).To(Equal("10Gi"))
		Expect(s.Database.DeletionPolicy).To(Equal(v1alpha1.DeletionRetain))
		Expect(s.Tasks).To(BeNil())
	})

	It("defaults tasks and their broker when tasks are set", func() {
		u := object([]byte("apiVersion: webstack.dev/v1alpha1\nkind: WebStack\nmetadata: {name: tasks-defaults}\nspec:\n  app: {image: x}\n  tasks: {command: [celery, -A, shop, worker]}\n"), "")
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, u)).To(Succeed()) })
		var ws v1alpha1.WebStack
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: namespace, Name: "tasks-defaults"}, &ws)).To(Succeed())
		t := ws.Spec.Tasks
		Expect(*t.Replicas).To(Equal(int32(1)))
		Expect(t.Queues).To(Equal([]string{"default"}))
		Expect(t.MemoryPerWorker.String()).To(Equal("128Mi"))
		Expect(t.Beat).To(BeFalse())
		Expect(t.Broker.Image).To(Equal(v1alpha1.DefaultRedisImage))
		Expect(t.Broker.Storage.Size.String()).To(Equal("1Gi"))
	})
})

var _ = Describe("invalid manifests", func() {
	cases := mustLoad("invalid")
	It("has at least 30 of them", func() { Expect(len(cases)).To(BeNumerically(">=", 30)) })

	entries := make([]TableEntry, 0, len(cases))
	for _, c := range cases {
		entries = append(entries, Entry(c.Name, c))
	}
	DescribeTable("are rejected by the API server with a message naming the field",
		func(c crd.Case) {
			u := object(c.New, "")
			if u.GetName() == "shop" {
				u.SetName(caseName(c))
			}
			err := k8sClient.Create(ctx, u)
			if err == nil {
				_ = k8sClient.Delete(ctx, u)
			}
			Expect(err).To(HaveOccurred(), "the API server accepted %s", c.Name)
			Expect(err.Error()).To(ContainSubstring(c.Expect))
		},
		entries,
	)
})

var _ = Describe("updates", func() {
	update := func(c crd.Case) error {
		name := caseName(c)
		old := object(c.Old, name)
		Expect(k8sClient.Create(ctx, old)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, old)).To(Succeed()) })
		updated := object(c.New, name)
		updated.SetResourceVersion(old.GetResourceVersion())
		return k8sClient.Update(ctx, updated)
	}

	rejected := []TableEntry{}
	for _, c := range mustLoad("transitions") {
		rejected = append(rejected, Entry(c.Name, c))
	}
	DescribeTable("that shrink storage, change the database version or change the storage class are rejected",
		func(c crd.Case) {
			err := update(c)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(c.Expect))
		},
		rejected,
	)

	allowed := []TableEntry{}
	for _, c := range mustLoad("transitions-allowed") {
		allowed = append(allowed, Entry(c.Name, c))
	}
	DescribeTable("that grow storage, keep the database version or set a first storage class are accepted",
		func(c crd.Case) { Expect(update(c)).To(Succeed()) },
		allowed,
	)
})

var _ = Describe("kubectl explain", func() {
	It("prints the doc comments of cache.rules", func() {
		var out []byte
		Eventually(func(g Gomega) {
			var err error
			out, err = exec.Command("kubectl", "--kubeconfig", kubeconfig, "explain", "webstack.spec.cache.rules").CombinedOutput()
			g.Expect(err).NotTo(HaveOccurred(), string(out))
		}).WithTimeout(30_000_000_000).Should(Succeed())
		text := strings.Join(strings.Fields(string(out)), " ")
		Expect(text).To(ContainSubstring("rules set the caching of paths, at most 64; the first matching rule wins."))
		Expect(text).To(ContainSubstring("pathPrefix matches request paths that start with it"))
		Expect(text).To(ContainSubstring("ignoreCookies strips the Cookie request header"))
		Expect(text).To(ContainSubstring("pass: true never caches matching requests"))
	})
})

// sameMeaning reports where got differs from want other than in the way a typed client
// writes a WebStack back: durations in Go's form, explicit zeros left out.
func sameMeaning(path string, want, got any) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %v became %v", path, want, got)
		}
		for k, wv := range w {
			gv, found := g[k]
			if !found {
				if n, isNum := wv.(int64); isNum && n == 0 {
					continue
				}
				return fmt.Errorf("%s.%s: %v is gone", path, k, wv)
			}
			if err := sameMeaning(path+"."+k, wv, gv); err != nil {
				return err
			}
		}
		for k, gv := range g {
			if _, found := w[k]; !found {
				return fmt.Errorf("%s.%s: %v appeared", path, k, gv)
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: %v became %v", path, want, got)
		}
		for i := range w {
			if err := sameMeaning(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); err != nil {
				return err
			}
		}
		return nil
	case string:
		if g, ok := got.(string); ok && g != w {
			wd, werr := time.ParseDuration(w)
			gd, gerr := time.ParseDuration(g)
			if werr == nil && gerr == nil && wd == gd {
				return nil
			}
		}
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("%s: %v became %v", path, want, got)
	}
	return nil
}
