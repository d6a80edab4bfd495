package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// run runs a command with a deadline and returns its stdout (stdout and stderr on error);
// stderr goes to the GinkgoWriter. stdin may be nil.
func run(timeout time.Duration, stdin []byte, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = repoRoot
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	fmt.Fprintf(GinkgoWriter, "$ %s %s\n", name, strings.Join(args, " "))
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %s: %w", name, timeout, ctx.Err())
	}
	if stderr.Len() > 0 {
		fmt.Fprintf(GinkgoWriter, "%s", stderr.String())
	}
	if err != nil {
		return out.String() + stderr.String(), fmt.Errorf("%s %s: %w\n%s%s", name, strings.Join(args, " "), err, out.String(), stderr.String())
	}
	return out.String(), nil
}

// mustRun is run that fails the spec on error.
func mustRun(timeout time.Duration, stdin []byte, name string, args ...string) string {
	GinkgoHelper()
	out, err := run(timeout, stdin, name, args...)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// kubectl runs kubectl against the suite's cluster (KUBECONFIG is set in BeforeSuite) as
// cluster admin, and fails the spec if it fails.
func kubectl(args ...string) string {
	GinkgoHelper()
	return mustRun(5*time.Minute, nil, "kubectl", args...)
}

func helm(args ...string) string {
	GinkgoHelper()
	return mustRun(5*time.Minute, nil, "helm", args...)
}

// restrictedNamespace creates ns with the restricted Pod Security Standard enforced.
func restrictedNamespace(ns string) {
	GinkgoHelper()
	out, err := run(time.Minute, nil, "kubectl", "create", "namespace", ns)
	if err != nil && !strings.Contains(out, "AlreadyExists") {
		Expect(err).NotTo(HaveOccurred())
	}
	kubectl("label", "--overwrite", "namespace", ns,
		"pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/enforce-version=latest")
	// Pods are refused until the controller-manager has made the namespace's ServiceAccount.
	Eventually(func() error {
		return k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "default"}, &corev1.ServiceAccount{})
	}).WithTimeout(time.Minute).Should(Succeed())
}

// installChart installs the chart as a user would, into a restricted namespace, checks its
// manager pod is admitted there, then scales the manager to 0 (kwok runs no process) so that
// only the out-of-cluster manager reconciles.
func installChart() {
	GinkgoHelper()
	By("installing the chart into " + operatorNS + " (restricted)")
	restrictedNamespace(operatorNS)
	helm("install", release, "charts/webstack-operator", "-n", operatorNS, "--create-namespace", "--wait", "--timeout", "2m")
	kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/webstacks.webstack.dev")
	// --wait returned, so the chart's pod passed restricted admission and went Ready (kwok).
	Expect(kubectl("get", "pods", "-n", operatorNS, "-l", "app.kubernetes.io/instance="+release,
		"--field-selector=status.phase=Running", "-o", "name")).NotTo(BeEmpty(), "the chart's manager pod was not admitted under the restricted profile")
	helm("upgrade", release, "charts/webstack-operator", "-n", operatorNS, "--reuse-values", "--set", "replicaCount=0", "--wait", "--timeout", "2m")
	Eventually(func() string {
		return kubectl("get", "pods", "-n", operatorNS, "-l", "app.kubernetes.io/instance="+release, "-o", "name")
	}).WithTimeout(time.Minute).Should(BeEmpty())
}

// managerProcess is the manager binary running out of cluster.
type managerProcess struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

// agentImage is the chart's default --agent-image: its image.repository and appVersion.
var agentImage = "ghcr.io/webstack-dev/webstack-operator:" + chartAppVersion()

// chartAppVersion reads appVersion from the chart.
func chartAppVersion() string {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "charts", "webstack-operator", "Chart.yaml"))
	if err != nil {
		panic(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "appVersion:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	panic("the chart has no appVersion")
}

func startManager(bin, kubeconfig, logPath string) *managerProcess {
	GinkgoHelper()
	logFile, err := os.Create(logPath)
	Expect(err).NotTo(HaveOccurred())
	// Without --leader-elect: controller-runtime cannot find a lease namespace out of
	// cluster. The chart's leader-election Role is checked with `kubectl auth can-i`.
	// The agent image as the chart passes it by default (the operator's own image and tag).
	cmd := exec.Command(bin, "manager", "--metrics-bind-address=0", "--health-probe-bind-address=0", "--zap-log-level=info",
		"--agent-image="+agentImage)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	Expect(cmd.Start()).To(Succeed())
	m := &managerProcess{cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() {
		m.done <- cmd.Wait()
		logFile.Close()
	}()
	GinkgoWriter.Printf("manager pid %d, log %s\n", cmd.Process.Pid, logPath)
	Consistently(m.done).WithTimeout(3*time.Second).ShouldNot(Receive(), "the manager exited at once; log: %s", logPath)
	return m
}

// stop sends SIGTERM and waits (bounded) for the manager to exit; idempotent.
func (m *managerProcess) stop() {
	if m == nil || m.cmd.ProcessState != nil {
		return
	}
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		GinkgoWriter.Printf("signalling the manager: %v\n", err)
	}
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// running fails the spec when the manager has exited.
func (m *managerProcess) expectRunning() {
	GinkgoHelper()
	select {
	case err := <-m.done:
		m.done <- err
		Fail(fmt.Sprintf("the manager exited (%v); log: %s\n%s", err, m.log, tail(m.log, 40)))
	default:
	}
}

// forbidden returns the manager's log lines that report a refused request: a permission
// the chart's ClusterRole or Role lacks.
func (m *managerProcess) forbidden() []string {
	data, err := os.ReadFile(m.log)
	Expect(err).NotTo(HaveOccurred())
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(strings.ToLower(l), "forbidden") {
			lines = append(lines, l)
		}
	}
	return lines
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// gone is a Gomega-friendly "the object no longer exists".
func gone(obj client.Object) func() error {
	key := client.ObjectKeyFromObject(obj)
	return func() error {
		err := k8s.Get(context.Background(), key, obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%T %s still exists", obj, key)
	}
}
