package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

const (
	// clusterName keeps the suite off the `make run` cluster (webstack).
	clusterName = "e2e"
	// release and operatorNS are where the chart goes; the chart names its objects after the
	// release, so the ServiceAccount, ClusterRole and Deployment are all "webstack-operator".
	release    = "webstack-operator"
	operatorNS = "webstack-system"
	// serviceAccount is the identity the out-of-cluster manager impersonates.
	serviceAccount = "system:serviceaccount:" + operatorNS + ":" + release
)

var (
	// repoRoot is the module root; go test runs in test/e2e.
	repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))
	// artifacts holds the impersonating kubeconfig, the manager binary and its log.
	artifacts string
	// adminKubeconfig is the cluster's admin kubeconfig from hack/cluster.sh.
	adminKubeconfig string
	k8s             client.Client
	scheme          = runtime.NewScheme()
	manager         *managerProcess
)

func TestE2E(t *testing.T) {
	if os.Getenv("WEBSTACK_E2E") != "1" {
		t.Skip("end-to-end suite: set WEBSTACK_E2E=1 (make test-e2e); it starts a local cluster")
	}
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(3 * time.Minute)
	SetDefaultEventuallyPollingInterval(time.Second)
	RunSpecs(t, "webstack-operator e2e")
}

var _ = BeforeSuite(func() {
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())
	Expect(apiextensionsv1.AddToScheme(scheme)).To(Succeed())

	var err error
	artifacts = os.Getenv("WEBSTACK_E2E_ARTIFACTS")
	if artifacts == "" {
		artifacts, err = os.MkdirTemp("", "webstack-e2e-")
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(os.MkdirAll(artifacts, 0o755)).To(Succeed())
	GinkgoWriter.Printf("artifacts (manager log, kubeconfigs): %s\n", artifacts)

	By("building the control plane binaries (cached) and putting kubectl and helm on PATH")
	bins := strings.TrimSpace(mustRun(20*time.Minute, nil, filepath.Join(repoRoot, "hack", "controlplane.sh"), "cluster-bins"))
	Expect(os.Setenv("PATH", bins+string(os.PathListSeparator)+os.Getenv("PATH"))).To(Succeed())
	Expect(os.Setenv("WEBSTACK_CLUSTER", clusterName)).To(Succeed())

	By("bringing up cluster " + clusterName)
	DeferCleanup(func() {
		if os.Getenv("WEBSTACK_E2E_KEEP") == "1" {
			GinkgoWriter.Printf("WEBSTACK_E2E_KEEP=1: leaving cluster %s up; remove it with WEBSTACK_CLUSTER=%s hack/cluster.sh down\n", clusterName, clusterName)
			return
		}
		_, err := run(2*time.Minute, nil, filepath.Join(repoRoot, "hack", "cluster.sh"), "down")
		Expect(err).NotTo(HaveOccurred())
	})
	// The cluster is the suite's own: start from a clean one even after an interrupted run.
	mustRun(2*time.Minute, nil, filepath.Join(repoRoot, "hack", "cluster.sh"), "down")
	adminKubeconfig = strings.TrimSpace(mustRun(5*time.Minute, nil, filepath.Join(repoRoot, "hack", "cluster.sh"), "up"))
	Expect(os.Setenv("KUBECONFIG", adminKubeconfig)).To(Succeed())
	cfg, err := clientcmd.BuildConfigFromFlags("", adminKubeconfig)
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	By("building the manager")
	bin := filepath.Join(artifacts, "webstack-operator")
	mustRun(10*time.Minute, nil, "go", "build", "-C", repoRoot, "-o", bin, "./cmd/webstack-operator")

	installChart()
	DeferCleanup(func() {
		// Idempotent: the last spec uninstalls already when it gets there.
		_, _ = run(2*time.Minute, nil, "helm", "uninstall", release, "-n", operatorNS, "--ignore-not-found", "--wait", "--timeout", "90s")
	})

	By("running the manager out of cluster as " + serviceAccount)
	impersonating := filepath.Join(artifacts, "kubeconfig-"+release+".yaml")
	writeImpersonatingKubeconfig(adminKubeconfig, impersonating, serviceAccount)
	manager = startManager(bin, impersonating, filepath.Join(artifacts, "manager.log"))
	DeferCleanup(func() { manager.stop() })
})

// writeImpersonatingKubeconfig copies the admin kubeconfig with every user impersonating
// user, so that the manager gets exactly the permissions the chart grants user.
func writeImpersonatingKubeconfig(admin, out, user string) {
	cfg, err := clientcmd.LoadFromFile(admin)
	Expect(err).NotTo(HaveOccurred())
	Expect(cfg.AuthInfos).NotTo(BeEmpty())
	for _, ai := range cfg.AuthInfos {
		ai.Impersonate = user
	}
	Expect(clientcmd.WriteToFile(*cfg, out)).To(Succeed())
}
