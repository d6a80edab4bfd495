package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The floor: what the API server needs to take the operator's writes when nothing else is
// done. A bare client, with the manager's user and no operator running, makes the requests
// the operator's creation makes for each WebStack (every child as the operator writes it:
// server-side apply, or a create for the credential Secrets and the migration Job; one
// status write) and, for the change, the rewritten ConfigMap and Deployment and a status
// write. It reads nothing and decides nothing, with as many requests in flight as the
// manager has workers. Its time is the least any controller writing the same objects one
// WebStack per worker could need on this machine; the operator's time over it is what the
// operator itself costs.

// floorName and floorNamespace stand for a WebStack's name and namespace in the rendered
// children; each stack's copy replaces them (they occur nowhere else in the output).
const (
	floorName      = "zzfloorzz"
	floorNamespace = "zzfloornszz"
)

// floorWorkers is the manager's default --max-concurrent-reconciles.
const floorWorkers = 4

// floorObjects are one sample's rendered children as JSON, with the placeholders.
type floorObjects struct {
	create, apply [][]byte
	// changed are the children the change rewrites, rendered with the change's value.
	changed [][]byte
}

type floorResult struct {
	N int `json:"n"`
	// Variant names a what-if of the rendered children ("" for them as the operator makes them).
	Variant  string     `json:"variant,omitempty"`
	Creation floorPhase `json:"creation"`
	Change   floorPhase `json:"change"`
	Errors   []string   `json:"errors,omitempty"`
}

type floorPhase struct {
	Timing   timing        `json:"timing"`
	Requests requestCounts `json:"requests"`
	// CPU: Harness is the bare client (and the harness's watches); Manager stays 0.
	CPU cpuUse `json:"cpuSeconds"`
}

// headlessVariant is the floor's what-if: the database's, Redis' and the broker's Services
// headless (their clients resolve the pod's address on each connection), so that a stack
// allocates 2 ClusterIPs (the load balancer and its app listener) instead of 5.
const headlessVariant = "database, Redis and broker Services headless"

// headlessComponents are the components whose ClusterIP Services the what-if makes headless.
var headlessComponents = []string{"database", "redis", "broker"}

// renderFloor renders the samples with the placeholders, for the floor's copies; variant ""
// keeps them as the operator makes them.
func renderFloor(bin, dir string, samples []*sample, variant string) (map[string]*floorObjects, error) {
	out := map[string]*floorObjects{}
	for _, s := range samples {
		m := deepCopyMap(s.manifest)
		must(unstructured.SetNestedField(m, floorName, "metadata", "name"))
		must(unstructured.SetNestedField(m, floorNamespace, "metadata", "namespace"))
		before, err := render(bin, dir, m)
		if err != nil {
			return nil, err
		}
		must(unstructured.SetNestedField(m, changeValues[0], changeField...))
		after, err := render(bin, dir, m)
		if err != nil {
			return nil, err
		}
		fo := &floorObjects{}
		for _, k := range sortedKeys(before) {
			obj := before[k]
			secretData(obj)
			if variant == headlessVariant {
				makeHeadless(obj)
			}
			raw, err := json.Marshal(obj)
			if err != nil {
				return nil, err
			}
			kind, name, _ := strings.Cut(k, "/")
			// As the operator writes them: credentials and the Job are created once.
			if kind == "Job" || kind == "Secret" && strings.HasSuffix(name, "-credentials") {
				fo.create = append(fo.create, raw)
			} else {
				fo.apply = append(fo.apply, raw)
			}
		}
		for _, c := range s.affected {
			obj, ok := after[c.Kind+"/"+floorName+c.Suffix]
			if !ok {
				return nil, fmt.Errorf("render: no %s %s%s after the change", c.Kind, floorName, c.Suffix)
			}
			raw, err := json.Marshal(obj)
			if err != nil {
				return nil, err
			}
			fo.changed = append(fo.changed, raw)
		}
		out[s.name] = fo
	}
	return out, nil
}

// makeHeadless turns a ClusterIP Service of one of headlessComponents into a headless one.
func makeHeadless(obj map[string]any) {
	if obj["kind"] != "Service" {
		return
	}
	component, _, _ := unstructured.NestedString(obj, "metadata", "labels", "app.kubernetes.io/component")
	if ip, _, _ := unstructured.NestedString(obj, "spec", "clusterIP"); ip == "" && slices.Contains(headlessComponents, component) {
		must(unstructured.SetNestedField(obj, "None", "spec", "clusterIP"))
	}
}

// secretData turns render's readable stringData back into data, as the operator sends it.
func secretData(obj map[string]any) {
	sd, ok := obj["stringData"].(map[string]any)
	if !ok {
		return
	}
	data := map[string]any{}
	for k, v := range sd {
		data[k] = base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(v)))
	}
	obj["data"] = data
	delete(obj, "stringData")
}

// forStack makes a stack's copy of a rendered child, owned by the WebStack with uid.
func forStack(raw []byte, s stack, uid types.UID) (*unstructured.Unstructured, error) {
	raw = bytes.ReplaceAll(raw, []byte(floorNamespace), []byte(s.namespace))
	raw = bytes.ReplaceAll(raw, []byte(floorName), []byte(s.name))
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	refs := u.GetOwnerReferences()
	for i := range refs {
		refs[i].UID = uid
	}
	u.SetOwnerReferences(refs)
	return u, nil
}

// floorRun measures the floor for n WebStacks on a fresh control plane.
func floorRun(ctx context.Context, cfg config, samples []*sample, objs map[string]*floorObjects, n int, variant string) (*floorResult, error) {
	dir := filepath.Join(cfg.tmp, fmt.Sprintf("n%d-floor-%s", n, slug(variant+" as made")))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	cp, err := startControlPlane(runCtx, dir, cfg.namespaces)
	if err != nil {
		cancel()
		return nil, err
	}
	defer func() {
		cancel()
		if err := cp.stop(); err != nil {
			log.Printf("stopping the control plane: %v", err)
		}
	}()
	ctx = runCtx
	// The harness's watches run as in an operator run: the API server serves them too.
	if _, err := startTracker(ctx, cp.kube); err != nil {
		return nil, err
	}
	ss := stacks(n, cfg.namespaces, samples)
	if err := warmUp(ctx, cp.client, samples); err != nil {
		return nil, err
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", cp.kubeconfig)
	if err != nil {
		return nil, err
	}
	restCfg.QPS = -1
	bare, err := client.New(restCfg, client.Options{Scheme: newScheme()})
	if err != nil {
		return nil, err
	}
	res := &floorResult{N: n, Variant: variant}
	log.Printf("floor N=%d %s: creating", n, variant)
	if res.Creation, err = floorPhaseRun(ctx, cp, len(ss),
		func(created func(int, time.Time, types.UID)) error {
			_, _, err := createStacks(ctx, cp.client, ss, created)
			return err
		},
		func(i int, uid types.UID) error { return floorCreate(ctx, bare, ss[i], objs[ss[i].sample.name], uid) }); err != nil {
		res.Errors = append(res.Errors, "creation: "+err.Error())
		return res, nil
	}
	log.Printf("floor N=%d %s: change", n, variant)
	if res.Change, err = floorPhaseRun(ctx, cp, len(ss),
		func(patched func(int, time.Time, types.UID)) error {
			_, err := patchStacks(ctx, cp.client, ss, changeValues[0], patched)
			return err
		},
		func(i int, uid types.UID) error { return floorChange(ctx, bare, ss[i], objs[ss[i].sample.name], uid) }); err != nil {
		res.Errors = append(res.Errors, "change: "+err.Error())
	}
	return res, nil
}

// floorPhaseRun starts the harness's requests (creates or patches of the WebStacks) and, as
// each returns, hands its WebStack to one of floorWorkers workers; it measures from the first
// request to the last answer.
func floorPhaseRun(ctx context.Context, cp *controlPlane, n int, start func(done func(int, time.Time, types.UID)) error, work func(int, types.UID) error) (floorPhase, error) {
	type ready struct {
		i   int
		uid types.UID
	}
	queue := make(chan ready, n)
	sent, done := make([]time.Time, n), make([]time.Time, n)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	start0 := takeSnapshot(cp, 0)
	t0 := start0.at
	for w := 0; w < floorWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range queue {
				if err := work(r.i, r.uid); err != nil {
					fail(err)
				}
				done[r.i] = time.Now()
			}
		}()
	}
	go func() {
		defer close(queue)
		if err := start(func(i int, at time.Time, uid types.UID) {
			sent[i] = at
			queue <- ready{i, uid}
		}); err != nil {
			fail(err)
		}
	}()
	wg.Wait()
	end := takeSnapshot(cp, 0)
	if firstErr != nil {
		return floorPhase{}, firstErr
	}
	p := floorPhase{Timing: timings(t0, sent, done)}
	// The audit log is written as requests complete: give it a moment to catch up.
	_ = sleep(ctx, time.Second)
	p.Requests = countRequests(cp.audit.between(t0, end.at.Add(time.Second)))
	p.CPU = start0.cpuUntil(end)
	return p, nil
}

// floorCreate writes one WebStack's children as the operator's creation does, and its status.
func floorCreate(ctx context.Context, c client.Client, s stack, fo *floorObjects, uid types.UID) error {
	for _, raw := range fo.create {
		u, err := forStack(raw, s, uid)
		if err != nil {
			return err
		}
		if err := c.Create(ctx, u); err != nil {
			return fmt.Errorf("floor: creating %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	if err := floorApply(ctx, c, s, fo.apply, uid); err != nil {
		return err
	}
	return floorStatus(ctx, c, s, 1)
}

// floorChange writes the children the change rewrites, and the status.
func floorChange(ctx context.Context, c client.Client, s stack, fo *floorObjects, uid types.UID) error {
	if err := floorApply(ctx, c, s, fo.changed, uid); err != nil {
		return err
	}
	return floorStatus(ctx, c, s, 2)
}

func floorApply(ctx context.Context, c client.Client, s stack, objs [][]byte, uid types.UID) error {
	for _, raw := range objs {
		u, err := forStack(raw, s, uid)
		if err != nil {
			return err
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("webstack-operator"), client.ForceOwnership); err != nil {
			return fmt.Errorf("floor: applying %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}

// floorStatus writes a status with the observed generation and a Ready condition.
func floorStatus(ctx context.Context, c client.Client, s stack, generation int64) error {
	now := time.Now().UTC().Format(time.RFC3339)
	patch := map[string]any{"status": map[string]any{
		"observedGeneration": generation,
		"conditions": []any{map[string]any{
			"type": "Ready", "status": "False", "reason": "Progressing", "observedGeneration": generation,
			"message": "children written by the benchmark's bare client", "lastTransitionTime": now,
		}},
	}}
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("webstack.dev/v1alpha1")
	u.SetKind("WebStack")
	u.SetName(s.name)
	u.SetNamespace(s.namespace)
	if err := c.Status().Patch(ctx, u, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("floor: writing the status of %s/%s: %w", s.namespace, s.name, err)
	}
	return nil
}

// floorSection writes the floor's table beside the operator's numbers of the same size.
func (r *report) floorSection(b *strings.Builder) {
	if len(r.Floor) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## The API server's floor: the same writes without the operator\n\n")
	p("A bare client (the manager's user, %d requests in flight, one WebStack per worker like the manager's %d workers; source: [floor.go](../hack/bench/floor.go)) makes the writes the operator's creation makes for each WebStack, with nothing read and nothing decided: the credential Secrets and the migration Job created, every other child sent with server-side apply as the operator sends it, one status write. For the change, after the same JSON merge patch of every WebStack, it applies the rewritten ConfigMap and Deployment and writes the status. The harness's watches run as in the operator's runs. One run per size on a fresh control plane, after the operator's runs. Its time is the least that writing these objects takes this API server on this machine, whoever writes them.\n\n", floorWorkers, floorWorkers)
	p("| N | phase | bare client | operator (median) | operator / bare | requests per WebStack: bare / operator | API server CPU per WebStack: bare / operator | CPU s of the bare run: apiserver / etcd / client+harness / other | CPU use |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, f := range r.Floor {
		n := float64(f.N)
		if len(f.Errors) > 0 {
			p("| %d | | failed: %s | | | | | | |\n", f.N, strings.Join(f.Errors, "; "))
			continue
		}
		op := r.size(f.N)
		if f.Variant != "" {
			op = nil
		}
		for _, ph := range []struct {
			name string
			bare floorPhase
		}{{"creation", f.Creation}, {"change", f.Change}} {
			opTotal, opRatio, opReqs, opAPI := "not measured", "", "", ""
			name := ph.name
			if f.Variant != "" {
				name, opTotal = ph.name+", what-if: "+f.Variant, "-"
			}
			bareReqs := float64(ph.bare.Requests.Writes+ph.bare.Requests.Reads) / n
			if op != nil {
				t, pr := op.CreationTotal, op.CreationPhase
				if ph.name == "change" {
					t, pr = op.ChangeTotal, op.ChangePhase
				}
				opTotal = sec(t)
				opRatio = fmt.Sprintf("%.2fx", safeDiv(t, ph.bare.Timing.TotalSeconds))
				opReqs = fmt.Sprintf(" / %.1f", float64(pr.Requests.Writes+pr.Requests.Reads)/n)
				opAPI = fmt.Sprintf(" / %.0f ms", 1000*pr.CPU.APIServer/n)
			}
			c := ph.bare.CPU
			p("| %d | %s | %s | %s | %s | %.1f%s | %.0f ms%s | %.1f / %.1f / %.1f / %.1f | %.0f%% |\n", f.N, name, sec(ph.bare.Timing.TotalSeconds), opTotal, opRatio,
				bareReqs, opReqs, 1000*c.APIServer/n, opAPI, c.APIServer, c.Etcd, c.Harness, c.Other, 100*c.Utilization)
		}
	}
	p("\nThe operator's requests per WebStack include its Events (one per reconcile that changed something) and, for the full sample, the second status write of the migration gate; the bare client writes one status and no Event. \"operator\" is the median of its runs of that size (table Creation and Change above).\n")
	for _, v := range r.Floor {
		if v.Variant == "" || len(v.Errors) > 0 {
			continue
		}
		if f := r.floorAt(v.N); f != nil {
			p("\nWhat-if at N=%d (%s, so %s): the bare client's creation took %s against %s as the operator makes the Services (%.2fx), %.0f against %.0f ms of API server CPU per WebStack. The Services the operator makes are unchanged; this measures what that product change would buy.\n",
				v.N, v.Variant, "2 ClusterIPs per stack instead of 5", sec(v.Creation.Timing.TotalSeconds), sec(f.Creation.Timing.TotalSeconds),
				safeDiv(f.Creation.Timing.TotalSeconds, v.Creation.Timing.TotalSeconds), 1000*v.Creation.CPU.APIServer/float64(v.N), 1000*f.Creation.CPU.APIServer/float64(v.N))
		}
	}
	p("\n")
}

// floorAt is the floor measured at n, if any.
func (r *report) floorAt(n int) *floorResult {
	for _, f := range r.Floor {
		if f.N == n && f.Variant == "" && len(f.Errors) == 0 {
			return f
		}
	}
	return nil
}

// floorFinding compares the operator's time for a phase at n with the floor's and the
// target, for the findings.
func (r *report) floorFinding(n int, phase string, operator, target float64) string {
	f := r.floorAt(n)
	if f == nil {
		return ""
	}
	bare := f.Creation
	if phase == "change" {
		bare = f.Change
	}
	t := bare.Timing.TotalSeconds
	text := fmt.Sprintf(" A bare client making the same writes with no operator (section \"The API server's floor\") needed %s for the %s at N=%d in the same benchmark, %.0f ms of API server CPU per WebStack: the operator took %.2fx that.",
		sec(t), phase, n, 1000*bare.CPU.APIServer/float64(n), safeDiv(operator, t))
	if t > target {
		return text + fmt.Sprintf(" The target of %.0f s is below what this API server takes for these writes on this machine, whoever makes them; the operator's own cost is the difference.", target)
	}
	return text + fmt.Sprintf(" The floor is within the target of %.0f s: the operator's own cost (the difference) is what misses it.", target)
}
