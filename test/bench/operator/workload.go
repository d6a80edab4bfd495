package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// changeField is the field the change phase sets on every WebStack: cache.grace, which is
// in both the Varnish ConfigMap (the VCL) and the cache Deployment's arguments, so one change
// rewrites a ConfigMap and rolls a Deployment (cache.defaultTTL only changes the Deployment's
// arguments: the VCL does not hold it).
var changeField = []string{"spec", "cache", "grace"}

// changeValue is the value it takes; the samples have 1h.
const changeValue = "2h"

// placeholderName and placeholderNamespace stand for a WebStack's name and namespace in the
// rendered children; each stack's copy replaces them (they occur nowhere else in the output).
const (
	placeholderName      = "zzbenchzz"
	placeholderNamespace = "zzbenchnszz"
)

// sample is one of config/samples, with every child the operator makes for it.
type sample struct {
	name     string // "minimal" or "full"
	manifest map[string]any
	// children are what `webstack-operator render` prints: the desired objects, the
	// credential Secrets and the migration Job; affected are those the change rewrites.
	children, affected []child
	// create and apply are the children as JSON, as the operator writes them (the
	// credentials and the Job created once, the rest applied); changed are the affected
	// children rendered with the change. The floor writes copies of them.
	create, apply, changed [][]byte
}

// child is named by its suffix after the WebStack's name.
type child struct{ Kind, Suffix string }

// key names the child of WebStack ws as the audit log does: "resource/namespace/name".
func (c child) key(ns, ws string) string {
	resource := strings.ToLower(c.Kind)
	if strings.HasSuffix(resource, "y") {
		resource = strings.TrimSuffix(resource, "y") + "ie"
	}
	return resource + "s/" + ns + "/" + ws + c.Suffix
}

// loadSamples reads the samples and renders them with the manager binary, before and after
// the change.
func loadSamples(bin, dir string) ([]*sample, error) {
	var out []*sample
	for _, name := range []string{"minimal", "full"} {
		path := filepath.Join("config", "samples", "webstack_v1alpha1_"+name+".yaml")
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		s := &sample{name: name}
		if err := yaml.Unmarshal(raw, &s.manifest); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		m := deepCopyMap(s.manifest)
		must(unstructured.SetNestedField(m, placeholderName, "metadata", "name"))
		must(unstructured.SetNestedField(m, placeholderNamespace, "metadata", "namespace"))
		before, err := render(bin, dir, m)
		if err != nil {
			return nil, err
		}
		must(unstructured.SetNestedField(m, changeValue, changeField...))
		after, err := render(bin, dir, m)
		if err != nil {
			return nil, err
		}
		for _, k := range sortedKeys(before) {
			kind, name, _ := strings.Cut(k, "/")
			c := child{Kind: kind, Suffix: strings.TrimPrefix(name, placeholderName)}
			s.children = append(s.children, c)
			if !reflect.DeepEqual(before[k], after[k]) {
				s.affected = append(s.affected, c)
				js, err := json.Marshal(after[k])
				must(err)
				s.changed = append(s.changed, js)
			}
			secretData(before[k])
			js, err := json.Marshal(before[k])
			must(err)
			if kind == "Job" || kind == "Secret" && strings.HasSuffix(name, "-credentials") {
				s.create = append(s.create, js)
			} else {
				s.apply = append(s.apply, js)
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
	must(err)
	f := filepath.Join(dir, "render-input.yaml")
	if err := os.WriteFile(f, raw, 0o600); err != nil {
		return nil, err
	}
	out, err := exec.Command(bin, "render", "-f", f).Output()
	if err != nil {
		return nil, fmt.Errorf("webstack-operator render: %w", err)
	}
	objs := map[string]map[string]any{}
	for _, doc := range strings.Split(string(out), "---\n") {
		var o map[string]any
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			return nil, fmt.Errorf("reading render's output: %w", err)
		}
		if o != nil {
			u := unstructured.Unstructured{Object: o}
			objs[u.GetKind()+"/"+u.GetName()] = o
		}
	}
	return objs, nil
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

func deepCopyMap(m map[string]any) map[string]any {
	return (&unstructured.Unstructured{Object: m}).DeepCopy().Object
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

// parallel runs f(i) for i in [0, n), workers at a time, and returns the first error.
func parallel(n, workers int, f func(i int) error) error {
	var g errgroup.Group
	g.SetLimit(workers)
	for i := range n {
		g.Go(func() error { return f(i) })
	}
	return g.Wait()
}

// webStack is the WebStack of s with only its name, for patches.
func webStack(s stack) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("webstack.dev/v1alpha1")
	u.SetKind("WebStack")
	u.SetName(s.name)
	u.SetNamespace(s.namespace)
	return u
}

// createStacks creates the WebStacks at once (16 requests in flight) and returns when each
// create request was sent; created, if not nil, is told of each as it returns.
func createStacks(ctx context.Context, c client.Client, ss []stack, created func(i int, sent time.Time, uid types.UID)) ([]time.Time, error) {
	sent := make([]time.Time, len(ss))
	return sent, parallel(len(ss), 16, func(i int) error {
		u := &unstructured.Unstructured{Object: deepCopyMap(ss[i].sample.manifest)}
		u.SetName(ss[i].name)
		u.SetNamespace(ss[i].namespace)
		sent[i] = time.Now()
		if err := c.Create(ctx, u); err != nil {
			return fmt.Errorf("creating WebStack %s/%s: %w", ss[i].namespace, ss[i].name, err)
		}
		if created != nil {
			created(i, sent[i], u.GetUID())
		}
		return nil
	})
}

// patchStacks sets the change field on every WebStack (a JSON merge patch, as kubectl
// patch --type=merge sends) and returns when each request was sent; patched, if not nil, is
// told of each as it returns.
func patchStacks(ctx context.Context, c client.Client, ss []stack, patched func(i int, sent time.Time, uid types.UID)) ([]time.Time, error) {
	patch := map[string]any{}
	must(unstructured.SetNestedField(patch, changeValue, changeField...))
	body, err := json.Marshal(patch)
	must(err)
	sent := make([]time.Time, len(ss))
	return sent, parallel(len(ss), 16, func(i int) error {
		u := webStack(ss[i])
		sent[i] = time.Now()
		if err := c.Patch(ctx, u, client.RawPatch(types.MergePatchType, body)); err != nil {
			return fmt.Errorf("patching WebStack %s/%s: %w", ss[i].namespace, ss[i].name, err)
		}
		if patched != nil {
			patched(i, sent[i], u.GetUID())
		}
		return nil
	})
}

// warmUp creates and deletes one WebStack of each sample: the first request for a new CRD
// makes the API server build its handler (schema, CEL programs), which takes seconds on this
// machine and would otherwise count as the first WebStack's latency.
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

// createUnrelated creates n ConfigMaps and n Secrets of 1 KiB each, without the operator's
// labels, spread over their own namespaces: objects the manager must not cache.
func createUnrelated(ctx context.Context, c client.Client, n int) error {
	const namespaces = 10
	for i := range namespaces {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%02d", i)}}); err != nil {
			return err
		}
	}
	payload := strings.Repeat("unrelated data that the webstack-operator must never cache. ", 20)[:1024]
	return parallel(2*n, 32, func(i int) error {
		meta := metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%05d", i/2), Namespace: fmt.Sprintf("unrelated-%02d", i%namespaces),
			Labels: map[string]string{"app.kubernetes.io/name": "something-else"}}
		if i%2 == 0 {
			return c.Create(ctx, &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"payload": payload}})
		}
		return c.Create(ctx, &corev1.Secret{ObjectMeta: meta, Data: map[string][]byte{"payload": []byte(payload)}})
	})
}
