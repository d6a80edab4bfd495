package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// sample is one of config/samples, with every child the operator makes for it.
type sample struct {
	name     string // "minimal" or "full"
	manifest map[string]any
	// children are what `webstack-operator render` prints: the desired objects, the
	// credential Secrets and the migration Job, named by suffix after the WebStack's name.
	children []child
	// affected are the children whose content changes with the benchmark's field change.
	affected []child
}

type child struct{ Kind, Suffix string }

func (c child) key(ns, ws string) string { return c.Kind + "/" + ns + "/" + ws + c.Suffix }

// changeField is the field the change phase sets on every WebStack: cache.grace, which is
// in both the Varnish ConfigMap (the VCL) and the cache Deployment's arguments, so one change
// rewrites a ConfigMap and rolls a Deployment (cache.defaultTTL only changes the Deployment's
// arguments: the VCL does not hold it).
var changeField = []string{"spec", "cache", "grace"}

// changeValues are the values it takes, one per change phase; the samples have 1h.
var changeValues = []string{"2h", "3h", "4h", "5h"}

// loadSamples reads the samples and renders them with the manager binary.
func loadSamples(bin, dir string) ([]*sample, error) {
	var out []*sample
	for _, name := range []string{"minimal", "full"} {
		path := filepath.Join("config", "samples", "webstack_v1alpha1_"+name+".yaml")
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		s := &sample{name: name, manifest: m}
		before, err := render(bin, dir, m)
		if err != nil {
			return nil, err
		}
		changed := deepCopyMap(m)
		if err := unstructured.SetNestedField(changed, changeValues[0], changeField...); err != nil {
			return nil, err
		}
		after, err := render(bin, dir, changed)
		if err != nil {
			return nil, err
		}
		wsName, _, _ := unstructured.NestedString(m, "metadata", "name")
		for _, k := range sortedKeys(before) {
			kind, name, _ := strings.Cut(k, "/")
			if !strings.HasPrefix(name, wsName+"-") {
				return nil, fmt.Errorf("render %s: child %s is not named after the WebStack", path, k)
			}
			c := child{Kind: kind, Suffix: strings.TrimPrefix(name, wsName)}
			s.children = append(s.children, c)
			if !reflect.DeepEqual(before[k], after[k]) {
				s.affected = append(s.affected, c)
			}
		}
		if len(s.affected) == 0 {
			return nil, fmt.Errorf("changing %s changes no child of the %s sample", strings.Join(changeField, "."), name)
		}
		out = append(out, s)
	}
	return out, nil
}

// render runs `webstack-operator render -f` on a manifest and returns its objects by
// "Kind/name".
func render(bin, dir string, manifest map[string]any) (map[string]map[string]any, error) {
	raw, err := yaml.Marshal(manifest)
	if err != nil {
		return nil, err
	}
	f := filepath.Join(dir, "render-input.yaml")
	if err := os.WriteFile(f, raw, 0o600); err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "render", "-f", f)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("webstack-operator render: %w: %s", err, stderr.String())
	}
	objs := map[string]map[string]any{}
	for _, doc := range strings.Split(stdout.String(), "---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var o map[string]any
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			return nil, fmt.Errorf("reading render's output: %w", err)
		}
		kind, _, _ := unstructured.NestedString(o, "kind")
		name, _, _ := unstructured.NestedString(o, "metadata", "name")
		objs[kind+"/"+name] = o
	}
	return objs, nil
}

func deepCopyMap(m map[string]any) map[string]any {
	return runtimeDeepCopy(m).(map[string]any)
}

func runtimeDeepCopy(v any) any {
	b, err := json.Marshal(v)
	must(err)
	var out any
	must(json.Unmarshal(b, &out))
	return out
}

// stack is one WebStack of a run.
type stack struct {
	name, namespace string
	sample          *sample
}

// stacks are N WebStacks, alternately the minimal and the full sample, spread over the
// namespaces.
func stacks(n, namespaces int, samples []*sample) []stack {
	out := make([]stack, n)
	for i := range out {
		out[i] = stack{name: fmt.Sprintf("ws-%04d", i), namespace: namespaceName(i % namespaces), sample: samples[i%len(samples)]}
	}
	return out
}

// parallel runs f(i) for i in [0, n) on workers goroutines and returns the first error.
func parallel(n, workers int, f func(i int) error) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return firstErr
}

// createStacks creates the WebStacks at once (16 requests in flight) and returns when each
// create request was sent and when it returned; created, if not nil, is told of each as it
// returns.
func createStacks(ctx context.Context, c client.Client, ss []stack, created func(i int, sent time.Time, uid types.UID)) (sent, returned []time.Time, err error) {
	sent, returned = make([]time.Time, len(ss)), make([]time.Time, len(ss))
	err = parallel(len(ss), 16, func(i int) error {
		u := &unstructured.Unstructured{Object: deepCopyMap(ss[i].sample.manifest)}
		u.SetName(ss[i].name)
		u.SetNamespace(ss[i].namespace)
		sent[i] = time.Now()
		if err := c.Create(ctx, u); err != nil {
			return fmt.Errorf("creating WebStack %s/%s: %w", ss[i].namespace, ss[i].name, err)
		}
		returned[i] = time.Now()
		if created != nil {
			created(i, sent[i], u.GetUID())
		}
		return nil
	})
	return sent, returned, err
}

// warmUp creates and deletes one WebStack of each sample before the manager runs: the first
// request for a new CRD makes the API server build its handler (schema, CEL programs), which
// takes seconds on this machine and would otherwise count as the first WebStack's latency.
func warmUp(ctx context.Context, c client.Client, samples []*sample) error {
	for _, s := range samples {
		u := &unstructured.Unstructured{Object: deepCopyMap(s.manifest)}
		u.SetName("warm-up-" + s.name)
		u.SetNamespace(namespaceName(0))
		if err := c.Create(ctx, u); err != nil {
			return fmt.Errorf("warming up the API server: %w", err)
		}
		if err := c.Delete(ctx, u); err != nil {
			return fmt.Errorf("warming up the API server: %w", err)
		}
	}
	return nil
}

// patchStacks sets the change field on every WebStack (a JSON merge patch, as kubectl
// patch --type=merge sends) and returns when each request was sent; patched, if not nil, is
// told of each as it returns.
func patchStacks(ctx context.Context, c client.Client, ss []stack, value string, patched func(i int, sent time.Time, uid types.UID)) ([]time.Time, error) {
	patch := map[string]any{}
	must(unstructured.SetNestedField(patch, value, changeField...))
	body, err := json.Marshal(patch)
	if err != nil {
		return nil, err
	}
	sent := make([]time.Time, len(ss))
	err = parallel(len(ss), 16, func(i int) error {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("webstack.dev/v1alpha1")
		u.SetKind("WebStack")
		u.SetName(ss[i].name)
		u.SetNamespace(ss[i].namespace)
		sent[i] = time.Now()
		if err := c.Patch(ctx, u, client.RawPatch(types.MergePatchType, body)); err != nil {
			return fmt.Errorf("patching WebStack %s/%s: %w", ss[i].namespace, ss[i].name, err)
		}
		if patched != nil {
			patched(i, sent[i], u.GetUID())
		}
		return nil
	})
	return sent, err
}

// createUnrelated creates n ConfigMaps and n Secrets of about 1 KiB each, without the
// operator's labels, spread over their own namespaces: objects the manager must not cache.
func createUnrelated(ctx context.Context, c client.Client, n int) error {
	const namespaces = 10
	for i := 0; i < namespaces; i++ {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%02d", i)}}
		if err := c.Create(ctx, ns); err != nil {
			return err
		}
	}
	payload := strings.Repeat("unrelated data that the webstack-operator must never cache. ", 20)[:1024]
	return parallel(2*n, 32, func(i int) error {
		meta := metav1.ObjectMeta{
			Name:      fmt.Sprintf("unrelated-%05d", i/2),
			Namespace: fmt.Sprintf("unrelated-%02d", i%namespaces),
			Labels:    map[string]string{"app.kubernetes.io/name": "something-else"},
		}
		var obj client.Object
		if i%2 == 0 {
			obj = &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"payload": payload}}
		} else {
			obj = &corev1.Secret{ObjectMeta: meta, Data: map[string][]byte{"payload": []byte(payload)}}
		}
		return c.Create(ctx, obj)
	})
}

// countChildren lists, for every kind the operator creates, the objects labelled as
// belonging to each WebStack (app.kubernetes.io/instance), and returns the count per
// "namespace/instance".
func countChildren(ctx context.Context, c client.Client) (map[string]int, error) {
	counts := map[string]int{}
	for _, kind := range childKinds {
		list := &unstructured.UnstructuredList{}
		list.SetAPIVersion(kind.apiVersion)
		list.SetKind(kind.kind + "List")
		if err := c.List(ctx, list, client.HasLabels{"app.kubernetes.io/instance"}, client.MatchingLabels{"app.kubernetes.io/managed-by": "webstack-operator"}); err != nil {
			return nil, fmt.Errorf("listing %s: %w", kind.kind, err)
		}
		for _, it := range list.Items {
			counts[it.GetNamespace()+"/"+it.GetLabels()["app.kubernetes.io/instance"]]++
		}
	}
	return counts, nil
}

var childKinds = []struct{ apiVersion, kind string }{
	{"apps/v1", "Deployment"}, {"apps/v1", "StatefulSet"}, {"v1", "Service"}, {"v1", "ConfigMap"},
	{"v1", "Secret"}, {"policy/v1", "PodDisruptionBudget"}, {"networking.k8s.io/v1", "NetworkPolicy"},
	{"autoscaling/v2", "HorizontalPodAutoscaler"}, {"batch/v1", "Job"},
}
