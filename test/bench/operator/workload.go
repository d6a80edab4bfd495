package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// The change sets cache.grace (the samples have 1h), which is in both the Varnish ConfigMap
// and the cache Deployment's arguments: one ConfigMap rewritten, one Deployment rolled.
var changeField = []string{"spec", "cache", "grace"}

const changeValue = "2h"

// placeholderName and placeholderNamespace stand for a WebStack's name and namespace in the
// rendered children; each stack's copy replaces them.
const (
	placeholderName      = "zzbenchzz"
	placeholderNamespace = "zzbenchnszz"
)

// sample is one of config/samples with the children `webstack-operator render` prints for
// it; affected are those the change rewrites. create, apply and changed are the children as
// the operator writes them (created once, applied, applied after the change): the floor's.
type sample struct {
	name                   string
	manifest               map[string]any
	children, affected     []child
	create, apply, changed [][]byte
}

// child is named by its suffix after the WebStack's name.
type child struct{ Kind, Suffix string }

// key names the child of WebStack ws as the audit log does: "resource/namespace/name".
func (c child) key(ns, ws string) string {
	plural, _ := meta.UnsafeGuessKindToResource(schema.GroupVersionKind{Kind: c.Kind})
	return plural.Resource + "/" + ns + "/" + ws + c.Suffix
}

// loadSamples renders the samples with the manager binary, before and after the change.
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
		m := runtime.DeepCopyJSON(s.manifest)
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
		for _, k := range slices.Sorted(maps.Keys(before)) {
			kind, name, _ := strings.Cut(k, "/")
			c := child{Kind: kind, Suffix: strings.TrimPrefix(name, placeholderName)}
			s.children = append(s.children, c)
			if !reflect.DeepEqual(before[k], after[k]) {
				s.affected = append(s.affected, c)
				s.changed = append(s.changed, mustJSON(after[k]))
			}
			secretData(before[k])
			if kind == "Job" || kind == "Secret" && strings.HasSuffix(name, "-credentials") {
				s.create = append(s.create, mustJSON(before[k]))
			} else {
				s.apply = append(s.apply, mustJSON(before[k]))
			}
		}
		if len(s.affected) == 0 {
			return nil, fmt.Errorf("changing %s changes no child of the %s sample", strings.Join(changeField, "."), name)
		}
		out = append(out, s)
	}
	return out, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	must(err)
	return b
}

// render runs `webstack-operator render -f` and returns its objects by "Kind/name".
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

// stack is one WebStack of a run.
type stack struct {
	name, namespace string
	sample          *sample
}

// stacks are N WebStacks, alternately minimal and full, spread over the namespaces.
func stacks(n, namespaces int, samples []*sample) []stack {
	out := make([]stack, n)
	for i := range out {
		out[i] = stack{name: fmt.Sprintf("ws-%04d", i), namespace: namespaceName(i % namespaces), sample: samples[i%len(samples)]}
	}
	return out
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

// eachStack sends one request per WebStack, 16 in flight, and returns when each was sent;
// done, if not nil, is told of each as it returns.
func eachStack(ss []stack, send func(s stack, u *unstructured.Unstructured) error, done func(i int, sent time.Time, uid types.UID)) ([]time.Time, error) {
	sent := make([]time.Time, len(ss))
	var g errgroup.Group
	g.SetLimit(16)
	for i, s := range ss {
		g.Go(func() error {
			u := webStack(s)
			sent[i] = time.Now()
			if err := send(s, u); err != nil {
				return fmt.Errorf("WebStack %s/%s: %w", s.namespace, s.name, err)
			}
			if done != nil {
				done(i, sent[i], u.GetUID())
			}
			return nil
		})
	}
	return sent, g.Wait()
}

// actFunc sends one request per WebStack (createStacks, patchStacks).
type actFunc = func(ctx context.Context, c client.Client, ss []stack, done func(int, time.Time, types.UID)) ([]time.Time, error)

// createStacks creates the WebStacks at once.
func createStacks(ctx context.Context, c client.Client, ss []stack, done func(int, time.Time, types.UID)) ([]time.Time, error) {
	return eachStack(ss, func(s stack, u *unstructured.Unstructured) error {
		u.Object = runtime.DeepCopyJSON(s.sample.manifest)
		u.SetName(s.name)
		u.SetNamespace(s.namespace)
		return c.Create(ctx, u)
	}, done)
}

// patchStacks sets the change field on every WebStack with a JSON merge patch, as
// `kubectl patch --type=merge` does.
func patchStacks(ctx context.Context, c client.Client, ss []stack, done func(int, time.Time, types.UID)) ([]time.Time, error) {
	patch := map[string]any{}
	must(unstructured.SetNestedField(patch, changeValue, changeField...))
	body := mustJSON(patch)
	return eachStack(ss, func(_ stack, u *unstructured.Unstructured) error {
		return c.Patch(ctx, u, client.RawPatch(types.MergePatchType, body))
	}, done)
}

// warmUp creates and deletes one WebStack of each sample: the API server builds a new CRD's
// handler (schema, CEL programs) on its first request, which would count as a WebStack's latency.
func warmUp(ctx context.Context, c client.Client, samples []*sample) error {
	for _, s := range samples {
		u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(s.manifest)}
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
