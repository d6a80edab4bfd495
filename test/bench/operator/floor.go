package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
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

// floorWorkers is the manager's default --max-concurrent-reconciles.
const floorWorkers = 4

// floorResult is the floor at one size. Its phases hold Timing, Requests and CPU (Harness is
// the bare client with the harness; Manager stays 0).
type floorResult struct {
	N        int      `json:"n"`
	Creation *phase   `json:"creation,omitempty"`
	Change   *phase   `json:"change,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

// floorRun measures the floor for n WebStacks on a fresh control plane.
func floorRun(ctx context.Context, cfg config, samples []*sample, n int) (*floorResult, error) {
	res := &floorResult{N: n}
	return res, onControlPlane(ctx, cfg, filepath.Join(cfg.tmp, fmt.Sprintf("n%d-floor", n)), samples, func(ctx context.Context, cp *controlPlane) error {
		restCfg, err := clientcmd.BuildConfigFromFlags("", cp.kubeconfig)
		if err != nil {
			return err
		}
		restCfg.QPS = -1
		bare, err := client.New(restCfg, client.Options{Scheme: newScheme()})
		if err != nil {
			return err
		}
		ss := stacks(n, cfg.namespaces, samples)
		log.Printf("floor N=%d: creating", n)
		if res.Creation, err = floorPhase(ctx, cp, len(ss),
			func(ready func(int, time.Time, types.UID)) error {
				_, err := createStacks(ctx, cp.client, ss, ready)
				return err
			},
			func(i int, uid types.UID) error {
				return floorWrite(ctx, bare, ss[i], uid, 1, ss[i].sample.create, ss[i].sample.apply)
			}); err != nil {
			res.Errors = append(res.Errors, "creation: "+err.Error())
			return nil
		}
		log.Printf("floor N=%d: change", n)
		if res.Change, err = floorPhase(ctx, cp, len(ss),
			func(ready func(int, time.Time, types.UID)) error {
				_, err := patchStacks(ctx, cp.client, ss, ready)
				return err
			},
			func(i int, uid types.UID) error {
				return floorWrite(ctx, bare, ss[i], uid, 2, nil, ss[i].sample.changed)
			}); err != nil {
			res.Errors = append(res.Errors, "change: "+err.Error())
		}
		return nil
	})
}

// floorPhase starts the harness's requests (creates or patches of the WebStacks) and, as
// each returns, hands its WebStack to one of floorWorkers workers; it measures from the first
// request to the last answer.
func floorPhase(ctx context.Context, cp *controlPlane, n int, start func(ready func(int, time.Time, types.UID)) error, work func(int, types.UID) error) (*phase, error) {
	sent, done := make([]time.Time, n), make([]time.Time, n)
	queue := make(chan func() error, n)
	var g errgroup.Group
	for range floorWorkers {
		g.Go(func() error {
			for f := range queue {
				if err := f(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	begin := takeSnapshot(cp, 0)
	err := start(func(i int, at time.Time, uid types.UID) {
		sent[i] = at
		queue <- func() error {
			defer func() { done[i] = time.Now() }()
			return work(i, uid)
		}
	})
	close(queue)
	if err := cmp.Or(err, g.Wait()); err != nil {
		return nil, err
	}
	end := takeSnapshot(cp, 0)
	t := timings(begin.at, sent, done)
	// The audit log is written as requests complete: give it a moment to catch up.
	_ = sleep(ctx, time.Second)
	return &phase{Timing: &t, Seconds: end.at.Sub(begin.at).Seconds(), CPU: begin.cpuUntil(end),
		Requests: countRequests(cp.audit.between(begin.at, end.at.Add(time.Second)))}, nil
}

// floorWrite writes one WebStack's children as the operator does (create those in create,
// apply those in apply) and a status with the observed generation and a Ready condition.
func floorWrite(ctx context.Context, c client.Client, s stack, uid types.UID, generation int64, create, apply [][]byte) error {
	for i, raw := range slices.Concat(create, apply) {
		u, err := forStack(raw, s, uid)
		if err != nil {
			return err
		}
		if i < len(create) {
			err = c.Create(ctx, u)
		} else {
			err = c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("webstack-operator"), client.ForceOwnership)
		}
		if err != nil {
			return fmt.Errorf("floor: writing %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	body, err := json.Marshal(map[string]any{"status": map[string]any{
		"observedGeneration": generation,
		"conditions": []any{map[string]any{
			"type": "Ready", "status": "False", "reason": "Progressing", "observedGeneration": generation,
			"message": "children written by the benchmark's bare client", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		}},
	}})
	must(err)
	if err := c.Status().Patch(ctx, webStack(s), client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("floor: writing the status of %s/%s: %w", s.namespace, s.name, err)
	}
	return nil
}

// forStack makes a stack's copy of a rendered child, owned by the WebStack with uid.
func forStack(raw []byte, s stack, uid types.UID) (*unstructured.Unstructured, error) {
	raw = bytes.ReplaceAll(raw, []byte(placeholderNamespace), []byte(s.namespace))
	raw = bytes.ReplaceAll(raw, []byte(placeholderName), []byte(s.name))
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
