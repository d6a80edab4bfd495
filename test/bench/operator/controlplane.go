package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// benchUser is the manager's own user: the audit policy logs its requests and nobody else's.
const benchUser = "webstack-operator-bench"

const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: [` + benchUser + `]
- level: None
`

// controlPlane is one fresh kube-apiserver and etcd (envtest) with the CRD installed, the
// manager's kubeconfig (benchUser, group system:masters) and the audit log of its requests.
type controlPlane struct {
	env *envtest.Environment
	// client and kube are the harness's own: envtest's admin, not audited, no rate limit.
	client          client.Client
	kube            kubernetes.Interface
	kubeconfig      string
	audit           *auditLog
	jobs            *jobController
	apiPID, etcdPID int
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// onControlPlane runs f on a fresh control plane in dir, with the harness playing the Job
// controller and the API server warmed up for the samples, and stops it after.
func onControlPlane(ctx context.Context, cfg config, dir string, samples []*sample, f func(ctx context.Context, cp *controlPlane) error) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	policy, logPath := filepath.Join(dir, "audit-policy.yaml"), filepath.Join(dir, "audit.log")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		return err
	}
	cp := &controlPlane{env: &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join("config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}}
	cp.env.ControlPlane.GetAPIServer().Configure().
		Set("audit-policy-file", policy).
		Set("audit-log-path", logPath).
		Set("audit-log-format", "json").
		Set("audit-log-mode", "blocking").
		Set("audit-log-maxsize", "0").
		// envtest's default /24 holds 254 ClusterIPs; 1000 WebStacks need about 6000.
		Set("service-cluster-ip-range", "10.0.0.0/16")
	admin, err := cp.env.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane (kube-apiserver and etcd from $KUBEBUILDER_ASSETS): %w", err)
	}
	// The harness's watches end with ctx, before the API server is stopped (open watches hold
	// up its shutdown).
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		if err := cp.env.Stop(); err != nil {
			log.Printf("stopping the control plane: %v", err)
		}
	}()
	user, err := cp.env.AddUser(envtest.User{Name: benchUser, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding user %s: %w", benchUser, err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	cp.kubeconfig = filepath.Join(dir, "manager.kubeconfig")
	if err := os.WriteFile(cp.kubeconfig, kc, 0o600); err != nil {
		return err
	}
	admin.QPS, admin.Burst = -1, 0
	if cp.client, err = client.New(admin, client.Options{}); err != nil {
		return err
	}
	proto := rest.CopyConfig(admin)
	proto.ContentType = "application/vnd.kubernetes.protobuf"
	if cp.kube, err = kubernetes.NewForConfig(proto); err != nil {
		return err
	}
	for i := range cfg.Namespaces {
		if err := cp.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaceName(i)}}); err != nil {
			return fmt.Errorf("creating a namespace: %w", err)
		}
	}
	cp.audit = tailAudit(ctx, logPath)
	cp.apiPID, cp.etcdPID = childPID("kube-apiserver"), childPID("etcd")
	if cp.jobs, err = startJobController(ctx, cp.kube); err != nil {
		return err
	}
	if err := warmUp(ctx, cp.client, samples); err != nil {
		return err
	}
	return f(ctx, cp)
}

func namespaceName(i int) string { return fmt.Sprintf("bench-%02d", i) }

// apiServerProfile is a 30 s CPU profile of kube-apiserver, asked for by the harness's own
// user so that the request is not counted as the manager's.
func (cp *controlPlane) apiServerProfile(ctx context.Context) ([]byte, error) {
	return cp.kube.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "30").Timeout(2 * time.Minute).DoRaw(ctx)
}
