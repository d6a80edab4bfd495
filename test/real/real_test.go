package real

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

const (
	// operatorNS and release are where the chart goes.
	operatorNS = "webstack-system"
	release    = "webstack-operator"
	// ns holds the sample; it enforces the restricted Pod Security profile.
	ns    = "shop"
	stack = "django-shop"
	// host is the Host the sample's app accepts (DJANGO_ALLOWED_HOSTS).
	host = "shop.example.com"
)

// repoRoot is the module root; go test runs in test/real.
var repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))

// TestDjangoShopOnRealPods installs the chart into the real-containers cluster, applies the
// django-shop sample into a restricted namespace and checks it as a user would. It runs with
// WEBSTACK_E2E_REAL=1 (make test-e2e-real), needs root, and takes about 5 minutes warm.
// WEBSTACK_E2E_REAL_KEEP=1 leaves the cluster up afterwards (hack/real-cluster.sh down removes it).
func TestDjangoShopOnRealPods(t *testing.T) {
	if os.Getenv("WEBSTACK_E2E_REAL") != "1" {
		t.Skip("real-pods suite: set WEBSTACK_E2E_REAL=1 (make test-e2e-real); it starts a cluster with containerd and needs root")
	}
	bins := strings.TrimSpace(mustRun(t, 60*time.Minute, nil, filepath.Join(repoRoot, "hack", "controlplane.sh"), "node-bins"))
	helmBin := strings.TrimSpace(mustRun(t, 60*time.Minute, nil, filepath.Join(repoRoot, "hack", "controlplane.sh"), "helm"))
	// os.Setenv, not t.Setenv: the cleanups below still need both.
	if err := os.Setenv("PATH", bins+string(os.PathListSeparator)+helmBin+string(os.PathListSeparator)+os.Getenv("PATH")); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	if os.Getenv("WEBSTACK_E2E_REAL_KEEP") != "1" {
		t.Cleanup(func() {
			if t.Failed() {
				dumpState(t)
			}
			if _, err := run(t, 5*time.Minute, nil, filepath.Join(repoRoot, "hack", "real-cluster.sh"), "down"); err != nil {
				t.Errorf("hack/real-cluster.sh down: %v", err)
			}
		})
	} else {
		t.Cleanup(func() {
			if t.Failed() {
				dumpState(t)
			}
			t.Log("WEBSTACK_E2E_REAL_KEEP=1: the cluster stays up; hack/real-cluster.sh down removes it")
		})
	}
	// The cluster is the test's own: start from a clean one, even after a kept or interrupted run.
	mustRun(t, 5*time.Minute, nil, filepath.Join(repoRoot, "hack", "real-cluster.sh"), "down")
	kubeconfig := strings.TrimSpace(mustRun(t, 60*time.Minute, nil, filepath.Join(repoRoot, "hack", "real-cluster.sh"), "up"))
	if err := os.Setenv("KUBECONFIG", kubeconfig); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster up (images built and imported) in %s", time.Since(start).Round(time.Second))

	steps := []struct {
		name string
		fn   func(t *testing.T, s *shop)
	}{
		{"the chart installs and its manager pod runs under the restricted profile", installChart},
		{"the sample becomes Ready in a restricted namespace", applySample},
		{"a page through HAProxy comes from the app, then a Varnish HIT", pageThroughHAProxy},
		{"a Celery task runs through the broker", celeryTask},
		{"the daemons run with the numbers of status.tuning", tuningMatches},
		{"a deleted database pod comes back with the same data", databasePodComesBack},
		{"NetworkPolicies hold against a pod outside the stack", networkPoliciesHold},
	}
	s := &shop{}
	for _, step := range steps {
		stepStart := time.Now()
		ok := t.Run(step.name, func(t *testing.T) { step.fn(t, s) })
		t.Logf("%s: %s", step.name, time.Since(stepStart).Round(time.Second))
		if !ok {
			return
		}
	}
	t.Logf("whole test (cluster up to last check): %s", time.Since(start).Round(time.Second))
}

// shop carries what one step learns for the next ones.
type shop struct {
	base      string // http://<HAProxy ClusterIP>:<port>
	invoiceID int
	people    string // rows in catalog_person
}

func installChart(t *testing.T, _ *shop) {
	restrictedNamespace(t, operatorNS)
	mustRun(t, 6*time.Minute, nil, "helm", "install", release, "charts/webstack-operator", "-n", operatorNS, "--wait", "--timeout", "5m")
	kubectl(t, "wait", "--for=condition=Established", "--timeout=60s", "crd/webstacks.webstack.dev")
	kubectl(t, "-n", operatorNS, "rollout", "status", "deployment/"+release, "--timeout=3m")
	image := kubectl(t, "-n", operatorNS, "get", "pods", "-l", "app.kubernetes.io/instance="+release,
		"-o", "jsonpath={.items[*].status.containerStatuses[*].imageID}")
	if strings.TrimSpace(image) == "" {
		t.Fatal("the manager pod reports no running image")
	}
}

// lowerRequests fits the sample on a 2-CPU node: as committed it requests about 5.75 CPUs
// (1 CPU each for the two app pods, the worker and the database, and the defaults of the
// others). Every component gets a CPU request of 100m; memory and everything else is the
// sample's (the defaults fill what it does not set).
func lowerRequests(t *testing.T, sample []byte) []byte {
	t.Helper()
	var ws v1alpha1.WebStack
	if err := yaml.UnmarshalStrict(sample, &ws); err != nil {
		t.Fatalf("reading the sample: %v", err)
	}
	if ws.Spec.Tasks == nil {
		t.Fatal("the sample has no tasks: the test checks a Celery task")
	}
	for _, r := range []*corev1.ResourceRequirements{
		&ws.Spec.App.Resources, &ws.Spec.Tasks.Resources, &ws.Spec.Tasks.Broker.Resources,
		&ws.Spec.LoadBalancer.Resources, &ws.Spec.Cache.Resources, &ws.Spec.Redis.Resources,
		&ws.Spec.Database.Resources,
	} {
		if r.Requests == nil {
			r.Requests = corev1.ResourceList{}
		}
		r.Requests[corev1.ResourceCPU] = resource.MustParse("100m")
	}
	out, err := yaml.Marshal(&ws)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func applySample(t *testing.T, _ *shop) {
	restrictedNamespace(t, ns)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "-n", ns, "create", "secret", "generic", stack+"-django", "--from-literal=DJANGO_SECRET_KEY="+hex.EncodeToString(key))
	sample, err := os.ReadFile(filepath.Join(repoRoot, "config", "samples", "webstack_v1alpha1_django_shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, time.Minute, lowerRequests(t, sample), "kubectl", "-n", ns, "apply", "-f", "-")
	start := time.Now()
	kubectl(t, "-n", ns, "wait", "--for=condition=Ready", "ws/"+stack, "--timeout=10m")
	t.Logf("WebStack Ready %s after apply", time.Since(start).Round(time.Second))
	// Every pod runs, except the migration Job's: its attempts before the database
	// accepted connections fail (issue 18), and the Job is complete.
	out := kubectl(t, "-n", ns, "get", "pods", "-o", `jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.metadata.labels.job-name}{"\n"}{end}`)
	t.Logf("pods:\n%s", out)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && (f[1] == "Succeeded" || f[1] == "Failed") {
			continue
		}
		if len(f) != 2 || f[1] != "Running" {
			t.Errorf("pod %q is not Running", line)
		}
	}
	jobs := kubectl(t, "-n", ns, "get", "jobs", "-o", `jsonpath={range .items[*]}{.metadata.name} {.status.succeeded}{"\n"}{end}`)
	for _, line := range strings.Split(strings.TrimSpace(jobs), "\n") {
		if f := strings.Fields(line); len(f) != 2 || f[1] != "1" {
			t.Errorf("job %q has not succeeded", line)
		}
	}
}

func pageThroughHAProxy(t *testing.T, s *shop) {
	// The catalog is empty after the migration: seed it as a user would.
	kubectl(t, "-n", ns, "exec", "deploy/"+stack+"-app", "--", "python", "manage.py", "seed", "--people", "200", "--authors", "5", "--books-per-author", "2")
	ip := kubectl(t, "-n", ns, "get", "service", stack+"-loadbalancer", "-o", "jsonpath={.spec.clusterIP}:{.spec.ports[0].port}")
	s.base = "http://" + strings.TrimSpace(ip)
	// Ready does not wait for Varnish's backend probe: a probe that failed while the app
	// pods were starting leaves the backend sick until enough probes pass (threshold 3 of
	// 5, every 5 s), and Varnish answers 503 meanwhile. Wait for the first page as a user
	// would, and report how long it took.
	start := time.Now()
	first := get(t, s.base+"/people/1/")
	for first.StatusCode == http.StatusServiceUnavailable && time.Since(start) < 90*time.Second {
		time.Sleep(time.Second)
		first = get(t, s.base+"/people/1/")
	}
	t.Logf("first page %s after the WebStack was Ready", time.Since(start).Round(time.Second))
	if first.StatusCode != http.StatusOK || !strings.Contains(first.body, `data-id="1"`) {
		t.Fatalf("GET /people/1/ through %s: status %d, not the person page:\n%.400s", s.base, first.StatusCode, first.body)
	}
	if got := first.Header.Get("X-Cache"); got != "MISS" {
		t.Errorf("first GET /people/1/: X-Cache %q, want MISS", got)
	}
	second := get(t, s.base+"/people/1/")
	if got := second.Header.Get("X-Cache"); got != "HIT" {
		t.Errorf("second GET /people/1/: X-Cache %q, want HIT (Varnish)", got)
	}
	if second.body != first.body {
		t.Error("the HIT differs from the page the app served")
	}
}

func celeryTask(t *testing.T, s *shop) {
	r := do(t, "POST", s.base+"/api/invoices/", `{"person": 5, "book": 1, "quantity": 2}`)
	if r.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/invoices/: status %d, want 202\n%.400s", r.StatusCode, r.body)
	}
	var inv struct {
		ID         int    `json:"id"`
		Status     string `json:"status"`
		RenderedBy string `json:"rendered_by"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal([]byte(r.body), &inv); err != nil || inv.Status != "pending" {
		t.Fatalf("POST /api/invoices/ answered %s (%v), want a pending invoice", r.body, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for inv.Status != "done" {
		if time.Now().After(deadline) {
			t.Fatalf("invoice %d still %q after 60s: no worker ran the task", inv.ID, inv.Status)
		}
		time.Sleep(500 * time.Millisecond)
		if err := json.Unmarshal([]byte(get(t, fmt.Sprintf("%s/api/invoices/%d/", s.base, inv.ID)).body), &inv); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.HasPrefix(inv.RenderedBy, "celery@"+stack+"-tasks-") {
		t.Errorf("invoice rendered by %q, want a worker pod (celery@%s-tasks-...)", inv.RenderedBy, stack)
	}
	if !strings.HasPrefix(inv.Body, fmt.Sprintf("INVOICE %d", inv.ID)) {
		t.Errorf("invoice body %.80q does not start with INVOICE %d", inv.Body, inv.ID)
	}
	s.invoiceID = inv.ID
}

func tuningMatches(t *testing.T, _ *shop) {
	want := strings.TrimSpace(kubectl(t, "-n", ns, "get", "ws/"+stack, "-o", "jsonpath={.status.tuning.database.maxConnections}"))
	got := strings.TrimSpace(psql(t, "postgres", "SHOW max_connections"))
	if want == "" || got != want {
		t.Errorf("PostgreSQL max_connections %q, status.tuning.database.maxConnections %q", got, want)
	}
	for _, r := range []string{"redis", "broker"} {
		wantMem := strings.TrimSpace(kubectl(t, "-n", ns, "get", "ws/"+stack, "-o", "jsonpath={.status.tuning."+r+".maxMemory}"))
		// The cache Redis is a Deployment, the broker a StatefulSet.
		workload := map[string]string{"redis": "deploy/", "broker": "statefulset/"}[r] + stack + "-" + r
		out := kubectl(t, "-n", ns, "exec", workload, "-c", "redis", "--", "redis-cli", "CONFIG", "GET", "maxmemory")
		lines := strings.Fields(out)
		if len(lines) != 2 {
			t.Errorf("%s: CONFIG GET maxmemory answered %q", r, out)
			continue
		}
		wantBytes, err := redisBytes(wantMem)
		if err != nil {
			t.Errorf("%s: status.tuning.%s.maxMemory %q: %v", r, r, wantMem, err)
			continue
		}
		if lines[1] != strconv.FormatInt(wantBytes, 10) {
			t.Errorf("%s: maxmemory %s bytes, status.tuning.%s.maxMemory %q (%d bytes)", r, lines[1], r, wantMem, wantBytes)
		}
	}
}

// redisBytes reads status.tuning's maxMemory, a Kubernetes quantity ("192Mi"), as bytes.
func redisBytes(s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, err
	}
	return q.Value(), nil
}

func databasePodComesBack(t *testing.T, s *shop) {
	db := appDatabase(t)
	countSQL := "SELECT count(*) FROM catalog_person"
	invoiceSQL := fmt.Sprintf("SELECT status FROM catalog_invoice WHERE id = %d", s.invoiceID)
	people := strings.TrimSpace(psql(t, db, countSQL))
	if people == "" || people == "0" {
		t.Fatalf("catalog_person has %q rows before the restart, want the seeded ones", people)
	}
	pod := stack + "-database-0"
	oldUID := kubectl(t, "-n", ns, "get", "pod", pod, "-o", "jsonpath={.metadata.uid}")
	claim := kubectl(t, "-n", ns, "get", "pvc", "data-"+pod, "-o", "jsonpath={.spec.volumeName}")
	kubectl(t, "-n", ns, "delete", "pod", pod, "--wait=true", "--timeout=2m")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		uid, err := run(t, 30*time.Second, nil, "kubectl", "-n", ns, "get", "pod", pod, "-o", "jsonpath={.metadata.uid}")
		if err == nil && uid != "" && uid != oldUID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s was not recreated within 3 minutes", pod)
		}
		time.Sleep(time.Second)
	}
	kubectl(t, "-n", ns, "wait", "--for=condition=Ready", "pod/"+pod, "--timeout=3m")
	if got := kubectl(t, "-n", ns, "get", "pvc", "data-"+pod, "-o", "jsonpath={.spec.volumeName}"); got != claim {
		t.Errorf("the new pod's claim is bound to %q, was %q", got, claim)
	}
	if got := strings.TrimSpace(psql(t, db, countSQL)); got != people {
		t.Errorf("catalog_person has %s rows after the restart, had %s", got, people)
	}
	if got := strings.TrimSpace(psql(t, db, invoiceSQL)); got != "done" {
		t.Errorf("invoice %d is %q after the restart, was done", s.invoiceID, got)
	}
	// The app reconnects: the invoice is served from the restarted database.
	deadline = time.Now().Add(time.Minute)
	for {
		r := get(t, fmt.Sprintf("%s/api/invoices/%d/", s.base, s.invoiceID))
		if r.StatusCode == http.StatusOK && strings.Contains(r.body, `"status": "done"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app does not serve invoice %d after the database restart: %d %.200s", s.invoiceID, r.StatusCode, r.body)
		}
		time.Sleep(time.Second)
	}
}

// probeScript tries a TCP connection to each host:port argument and prints "host:port open"
// or "host:port closed" (refused, or no answer within 3 s: a dropped SYN).
const probeScript = `import socket, sys
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        print(target, "open")
    except OSError:
        print(target, "closed")
`

func networkPoliciesHold(t *testing.T, s *shop) {
	if enforcer := strings.TrimSpace(mustRun(t, time.Minute, nil, filepath.Join(repoRoot, "hack", "real-cluster.sh"), "netpol")); enforcer == "none" {
		t.Skip("this cluster enforces no NetworkPolicies (WEBSTACK_REAL_NETPOL=none)")
	}
	const outside = "outside"
	restrictedNamespace(t, outside)
	ip := func(svc string) string {
		return strings.TrimSpace(kubectl(t, "-n", ns, "get", "service", svc, "-o", "jsonpath={.spec.clusterIP}"))
	}
	podIPs := func(selector string) []string {
		return strings.Fields(kubectl(t, "-n", ns, "get", "pods", "-l", selector, "-o", "jsonpath={.items[*].status.podIP}"))
	}
	closed := []string{ip(stack+"-database") + ":5432", ip(stack+"-redis") + ":6379", ip(stack+"-broker") + ":6379"}
	for _, p := range podIPs("app.kubernetes.io/component=cache") {
		closed = append(closed, p+":8080")
	}
	for _, p := range podIPs("app.kubernetes.io/component=app") {
		closed = append(closed, p+":8000")
	}
	// HAProxy's public frontend is open to anyone: it proves the probe reaches the stack.
	open := []string{ip(stack+"-loadbalancer") + ":80"}
	if len(closed) < 5 {
		t.Fatalf("found too few targets (%v): the pod labels changed?", closed)
	}
	overrides := `{"spec":{"securityContext":{"runAsNonRoot":true,"runAsUser":1000,"seccompProfile":{"type":"RuntimeDefault"}},` +
		`"containers":[{"name":"probe","image":"registry.example.com/django-shop:0.1.0","command":["python3","-c",` + jsonString(probeScript) + `],` +
		`"args":` + jsonList(append(append([]string{}, closed...), open...)) + `,` +
		`"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`
	kubectl(t, "-n", outside, "run", "probe", "--image=registry.example.com/django-shop:0.1.0", "--restart=Never", "--overrides="+overrides)
	kubectl(t, "-n", outside, "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/probe", "--timeout=2m")
	out := kubectl(t, "-n", outside, "logs", "probe")
	t.Logf("from a pod in namespace %s:\n%s", outside, out)
	state := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			state[f[0]] = f[1]
		}
	}
	for _, target := range closed {
		if state[target] != "closed" {
			t.Errorf("%s is %q from outside the stack, want closed", target, state[target])
		}
	}
	for _, target := range open {
		if state[target] != "open" {
			t.Errorf("HAProxy's frontend %s is %q from outside the stack, want open", target, state[target])
		}
	}
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func jsonList(items []string) string { b, _ := json.Marshal(items); return string(b) }

// appDatabase is the app's database: the one that is not PostgreSQL's own.
func appDatabase(t *testing.T) string {
	t.Helper()
	out := strings.Fields(psql(t, "postgres", "SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1')"))
	if len(out) != 1 {
		t.Fatalf("databases besides postgres and the templates: %q, want the app's one", out)
	}
	return out[0]
}

// psql runs SQL as the superuser through the server pod's local socket.
func psql(t *testing.T, db, sql string) string {
	t.Helper()
	return kubectl(t, "-n", ns, "exec", stack+"-database-0", "-c", "postgres", "--", "psql", "-X", "-U", "postgres", "-d", db, "-tAc", sql)
}

func restrictedNamespace(t *testing.T, name string) {
	t.Helper()
	kubectl(t, "create", "namespace", name)
	kubectl(t, "label", "namespace", name, "pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/enforce-version=latest")
	// Pods are refused until the controller-manager has made the namespace's ServiceAccount.
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := run(t, 10*time.Second, nil, "kubectl", "-n", name, "get", "serviceaccount", "default"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s has no default ServiceAccount after a minute", name)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

type response struct {
	*http.Response
	body string
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func get(t *testing.T, url string) *response { return do(t, "GET", url, "") }

func do(t *testing.T, method, url, body string) *response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return &response{Response: resp, body: string(b)}
}

// dumpState logs what a failure needs: the pods, the WebStack and recent events.
func dumpState(t *testing.T) {
	if os.Getenv("KUBECONFIG") == "" {
		return // the cluster did not come up: hack/real-cluster.sh said why
	}
	for _, args := range [][]string{
		{"get", "pods", "-A", "-o", "wide"},
		{"-n", ns, "get", "ws", stack, "-o", "yaml"},
		{"get", "events", "-A", "--sort-by=.lastTimestamp"},
		{"-n", operatorNS, "logs", "deploy/" + release, "--tail=50"},
	} {
		out, _ := run(t, time.Minute, nil, "kubectl", args...)
		t.Logf("$ kubectl %s\n%s", strings.Join(args, " "), out)
	}
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	return mustRun(t, 12*time.Minute, nil, "kubectl", args...)
}

func mustRun(t *testing.T, timeout time.Duration, stdin []byte, name string, args ...string) string {
	t.Helper()
	out, err := run(t, timeout, stdin, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// run runs a command with a deadline from the repository root; it returns stdout, or
// stdout and stderr with the error.
func run(t *testing.T, timeout time.Duration, stdin []byte, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = repoRoot
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s: %w", timeout, ctx.Err())
	}
	if err != nil {
		return out.String() + stderr.String(), fmt.Errorf("%s %s: %w\n%s%s", name, strings.Join(args, " "), err, out.String(), stderr.String())
	}
	return out.String(), nil
}
