package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/controllers"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

var (
	// realCluster is true with USE_EXISTING_CLUSTER=true: real workload, Job and volume
	// controllers run there, so the suite does not play them.
	realCluster = strings.EqualFold(os.Getenv("USE_EXISTING_CLUSTER"), "true")
	testEnv     *envtest.Environment
	cfg         *rest.Config
	k8sClient   client.Client
	scheme      = runtime.NewScheme()
	// mgr is the running manager; restartManager replaces it.
	mgr *runningManager
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "WebStack controller")
}

var _ = BeforeSuite(func() {
	// The reconciler's log, shown with a failed spec (or always with ginkgo -v).
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "starting the API server: run `make test` (it sets KUBEBUILDER_ASSETS) or set USE_EXISTING_CLUSTER=true")
	DeferCleanup(func() { Expect(testEnv.Stop()).To(Succeed()) })
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	mgr = startManager()
	DeferCleanup(func() { mgr.stop() })
})

// writeCounter counts the write requests (anything but GET, LIST and WATCH) that the manager
// sends to the API server, at the transport, so nothing the client does escapes it.
type writeCounter struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeCounter) RoundTrip(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.mu.Lock()
			w.writes = append(w.writes, req.Method+" "+req.URL.Path)
			w.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// since returns the writes after the first n, excluding leader election (not used here).
func (w *writeCounter) since(n int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.writes[n:]...)
}

func (w *writeCounter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.writes)
}

type runningManager struct {
	writes *writeCounter
	cache  cache.Cache
	cancel context.CancelFunc
	done   chan struct{}
}

func (m *runningManager) stop() {
	m.cancel()
	<-m.done
}

// testAgentImage is the in-pod agent's image, as the chart passes it by default: the pods
// under test are the ones users get.
const testAgentImage = "ghcr.io/webstack-dev/webstack-operator:test"

// startManager runs the operator's manager, as main does, with a write-counting transport.
func startManager() *runningManager {
	c := rest.CopyConfig(cfg)
	wc := &writeCounter{}
	c.Wrap(wc.RoundTrip)
	m, err := ctrl.NewManager(c, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(controllers.Setup(m, controllers.Options{SkipUnchanged: true, AgentImage: testAgentImage})).To(Succeed())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(m.Start(ctx)).To(Succeed())
	}()
	return &runningManager{writes: wc, cache: m.GetCache(), cancel: cancel, done: done}
}

// newNamespace creates a namespace that enforces the restricted Pod Security profile.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "ws-",
		Labels:       map[string]string{"pod-security.kubernetes.io/enforce": "restricted"},
	}}
	Expect(k8sClient.Create(context.Background(), ns)).To(Succeed())
	return ns.Name
}

func key(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

// getWS reads a WebStack.
func getWS(ns, name string) *v1alpha1.WebStack {
	ws := &v1alpha1.WebStack{}
	Expect(k8sClient.Get(context.Background(), key(ns, name), ws)).To(Succeed())
	return ws
}

// markWorkloadsReady plays the workload controllers envtest does not run: every Deployment
// and StatefulSet of the WebStack reports all its pods updated and ready.
func markWorkloadsReady(ws *v1alpha1.WebStack) {
	if realCluster {
		return
	}
	ctx := context.Background()
	sel := client.MatchingLabels(resources.InstanceLabels(ws))
	var deps appsv1.DeploymentList
	Expect(k8sClient.List(ctx, &deps, client.InNamespace(ws.Namespace), sel)).To(Succeed())
	for i := range deps.Items {
		d := &deps.Items[i]
		n := ptr.Deref(d.Spec.Replicas, 1)
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, ReadyReplicas: n, UpdatedReplicas: n, AvailableReplicas: n}
		Expect(k8sClient.Status().Update(ctx, d)).To(Succeed())
	}
	var sets appsv1.StatefulSetList
	Expect(k8sClient.List(ctx, &sets, client.InNamespace(ws.Namespace), sel)).To(Succeed())
	for i := range sets.Items {
		s := &sets.Items[i]
		n := ptr.Deref(s.Spec.Replicas, 1)
		s.Status = appsv1.StatefulSetStatus{ObservedGeneration: s.Generation, Replicas: n, ReadyReplicas: n, UpdatedReplicas: n, CurrentReplicas: n, AvailableReplicas: n}
		Expect(k8sClient.Status().Update(ctx, s)).To(Succeed())
	}
}

// condition returns "Status/Reason" of a condition, or "" when it is absent.
func condition(ns, name, t string) string {
	ws := getWS(ns, name)
	for _, c := range ws.Status.Conditions {
		if c.Type == t {
			if c.ObservedGeneration != ws.Generation {
				return "stale"
			}
			return string(c.Status) + "/" + c.Reason
		}
	}
	return ""
}

// waitSettled waits until the WebStack is Ready and the manager made no write for a while.
func waitSettled(ns, name string) {
	Eventually(func() string {
		markWorkloadsReady(getWS(ns, name))
		return condition(ns, name, v1alpha1.ConditionReady)
	}).Should(Equal("True/Ready"))
	quietFor(2 * time.Second)
}

// quietFor waits until the manager has made no write request for d.
func quietFor(d time.Duration) {
	Eventually(func() bool {
		n := mgr.writes.count()
		time.Sleep(d)
		return mgr.writes.count() == n
	}).WithTimeout(30 * time.Second).Should(BeTrue())
}

func describeWrites(w []string) string {
	return fmt.Sprintf("%d writes:\n%s", len(w), strings.Join(w, "\n"))
}

// reconcileCount is the number of WebStack reconciles finished so far, by any manager of
// this process (controller-runtime's own metric).
func reconcileCount() int {
	families, err := metrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	total := 0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "webstack" {
					total += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return total
}
