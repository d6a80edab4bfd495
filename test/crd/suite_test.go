package crd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/test/crd"
)

var (
	testEnv    *envtest.Environment
	k8sClient  client.Client
	kubeconfig string
	namespace  string
	ctx        = context.Background()
)

func TestCRD(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "WebStack CRD admission")
}

var _ = BeforeSuite(func() {
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(crd.Dir(), "..", "..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "starting the API server: run `make test` (it sets KUBEBUILDER_ASSETS) or set USE_EXISTING_CLUSTER=true")
	DeferCleanup(func() { Expect(testEnv.Stop()).To(Succeed()) })

	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	if strings.EqualFold(os.Getenv("USE_EXISTING_CLUSTER"), "true") {
		// envtest cannot add users to a cluster it did not start: kubectl uses $KUBECONFIG.
		kubeconfig = os.Getenv("KUBECONFIG")
	} else {
		admin, err := testEnv.AddUser(envtest.User{Name: "crd-admin", Groups: []string{"system:masters"}}, cfg)
		Expect(err).NotTo(HaveOccurred())
		kc, err := admin.KubeConfig()
		Expect(err).NotTo(HaveOccurred())
		kubeconfig = filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(os.WriteFile(kubeconfig, kc, 0o600)).To(Succeed())
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "crd-admission-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	namespace = ns.Name
	DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, ns))).To(Succeed()) })
	fmt.Fprintf(GinkgoWriter, "testing in namespace %s\n", namespace)
})
