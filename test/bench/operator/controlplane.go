package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// benchUser is the manager's own user: the audit policy logs its requests and nobody else's.
const benchUser = "webstack-operator-bench"

// auditPolicy logs every request of the manager's user at Metadata level (verb, resource,
// name, response code, timestamps) and nothing else, so the log stays small and the
// harness's own requests never count.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: [` + benchUser + `]
- level: None
`

// controlPlane is one fresh kube-apiserver and etcd (envtest), with the CRD installed, the
// manager's user and kubeconfig, and the audit log of that user's requests.
type controlPlane struct {
	env *envtest.Environment
	// client and kube are the harness's own (envtest admin, not audited, no rate limit).
	client client.Client
	kube   kubernetes.Interface
	// kubeconfig is the manager's: user benchUser, group system:masters.
	kubeconfig string
	audit      *auditLog
	jobs       *jobController
	// apiPID and etcdPID are the control-plane processes, for CPU accounting.
	apiPID, etcdPID int
}

// assetsDir is where kube-apiserver and etcd are: $KUBEBUILDER_ASSETS (make sets it), else
// what hack/controlplane.sh prints (a warm cache answers at once).
func assetsDir() (string, error) {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d, nil
	}
	out, err := exec.Command("hack/controlplane.sh", "envtest").Output()
	if err != nil {
		return "", fmt.Errorf("hack/controlplane.sh envtest: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	must(clientgoscheme.AddToScheme(s))
	must(v1alpha1.AddToScheme(s))
	return s
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// startControlPlane starts envtest's API server and etcd with the audit log in dir.
func startControlPlane(ctx context.Context, dir string, namespaces int) (*controlPlane, error) {
	assets, err := assetsDir()
	if err != nil {
		return nil, err
	}
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "audit.log")
	env := &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join("config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		BinaryAssetsDirectory:    assets,
		ControlPlaneStartTimeout: time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	env.ControlPlane.GetAPIServer().Configure().
		Set("audit-policy-file", policy).
		Set("audit-log-path", logPath).
		Set("audit-log-format", "json").
		Set("audit-log-mode", "blocking").
		Set("audit-log-maxsize", "0").
		// envtest's default /24 holds 254 ClusterIPs; 1000 WebStacks need about 6000.
		Set("service-cluster-ip-range", "10.0.0.0/16")
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane (kube-apiserver and etcd from %s): %w", assets, err)
	}
	cp := &controlPlane{env: env}
	ok := false
	defer func() {
		if !ok {
			_ = env.Stop()
		}
	}()

	user, err := env.AddUser(envtest.User{Name: benchUser, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("adding user %s: %w", benchUser, err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	cp.kubeconfig = filepath.Join(dir, "manager.kubeconfig")
	if err := os.WriteFile(cp.kubeconfig, kc, 0o600); err != nil {
		return nil, err
	}

	admin := rest.CopyConfig(cfg)
	admin.QPS, admin.Burst = -1, 0
	if cp.client, err = client.New(admin, client.Options{Scheme: newScheme()}); err != nil {
		return nil, err
	}
	proto := rest.CopyConfig(admin)
	proto.ContentType = "application/vnd.kubernetes.protobuf"
	proto.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	if cp.kube, err = kubernetes.NewForConfig(proto); err != nil {
		return nil, err
	}
	for i := 0; i < namespaces; i++ {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaceName(i)}}
		if err := cp.client.Create(ctx, ns); err != nil {
			return nil, fmt.Errorf("creating namespace %s: %w", ns.Name, err)
		}
	}
	cp.audit = tailAudit(ctx, logPath)
	cp.apiPID = childPID(os.Getpid(), "kube-apiserver")
	cp.etcdPID = childPID(os.Getpid(), "etcd")
	ok = true
	return cp, nil
}

// onControlPlane runs f on a fresh control plane in dir, with the harness playing the Job
// controller and the API server warmed up for the samples, and stops it after.
func onControlPlane(ctx context.Context, cfg config, dir string, samples []*sample, f func(ctx context.Context, cp *controlPlane) error) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// The harness's watches end with ctx, before the API server is stopped (open watches
	// hold up its shutdown).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cp, err := startControlPlane(ctx, dir, cfg.namespaces)
	if err != nil {
		return err
	}
	defer func() {
		cancel()
		if err := cp.env.Stop(); err != nil {
			log.Printf("stopping the control plane: %v", err)
		}
	}()
	if cp.jobs, err = startJobController(ctx, cp.kube); err != nil {
		return err
	}
	if err := warmUp(ctx, cp.client, samples); err != nil {
		return err
	}
	return f(ctx, cp)
}

func namespaceName(i int) string { return fmt.Sprintf("bench-%02d", i) }

// fetchProfile saves a pprof profile of kube-apiserver (e.g. "profile?seconds=30"), asked
// for by the harness's own user, so the request is not counted as the manager's.
func (cp *controlPlane) fetchProfile(ctx context.Context, what, path string) error {
	name, query, _ := strings.Cut(what, "?")
	req := cp.kube.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/" + name).Timeout(2 * time.Minute)
	for _, kv := range strings.Split(query, "&") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			req = req.Param(k, v)
		}
	}
	raw, err := req.DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("kube-apiserver /debug/pprof/%s: %w", what, err)
	}
	return os.WriteFile(path, raw, 0o600)
}
