package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log"
	"path/filepath"
	"slices"
	"time"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The floor: a bare client with the manager's user and no operator running makes the writes
// the operator makes for each WebStack (creation: every child, created or applied as the
// operator does, and one status write; change: the rewritten children and a status write),
// reading and deciding nothing, one WebStack per worker like the manager's. Its time is the
// least any controller writing these objects could need on this machine.

// floorWorkers is the manager's default --max-concurrent-reconciles.
const floorWorkers = 4

// floorResult is the floor at one size; its phases hold Timing, Requests and CPU (Harness is
// the bare client's).
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
		bare, err := client.New(restCfg, client.Options{})
		if err != nil {
			return err
		}
		ss := stacks(n, cfg.Namespaces, samples)
		log.Printf("floor N=%d: creating, then the change", n)
		if res.Creation, err = floorPhase(ctx, cp, bare, ss, createStacks, 1, func(s *sample) ([][]byte, [][]byte) { return s.create, s.apply }); err != nil {
			res.Errors = append(res.Errors, "creation: "+err.Error())
		} else if res.Change, err = floorPhase(ctx, cp, bare, ss, patchStacks, 2, func(s *sample) ([][]byte, [][]byte) { return nil, s.changed }); err != nil {
			res.Errors = append(res.Errors, "change: "+err.Error())
		}
		return nil
	})
}

// floorPhase sends the harness's creates or patches of the WebStacks and hands each, as it
// returns, to one of floorWorkers workers that writes its children; it measures from the
// first request to the last answer.
func floorPhase(ctx context.Context, cp *controlPlane, bare client.Client, ss []stack, act actFunc, generation int64, children func(*sample) (create, apply [][]byte)) (*phase, error) {
	sent, done := make([]time.Time, len(ss)), make([]time.Time, len(ss))
	queue := make(chan func() error, len(ss))
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
	_, err := act(ctx, cp.client, ss, func(i int, at time.Time, uid types.UID) {
		sent[i] = at
		queue <- func() error {
			defer func() { done[i] = time.Now() }()
			create, apply := children(ss[i].sample)
			return floorWrite(ctx, bare, ss[i], uid, generation, create, apply)
		}
	})
	close(queue)
	if err := cmp.Or(err, g.Wait()); err != nil {
		return nil, err
	}
	end := takeSnapshot(cp, 0)
	t := timings(begin.at, sent, done)
	_ = sleep(ctx, time.Second) // the audit log is written as requests complete: let it catch up
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
			err = c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(v1alpha1.FieldManager), client.ForceOwnership)
		}
		if err != nil {
			return fmt.Errorf("floor: writing %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	body := mustJSON(map[string]any{"status": map[string]any{
		"observedGeneration": generation,
		"conditions": []any{map[string]any{
			"type": "Ready", "status": "False", "reason": "Progressing", "observedGeneration": generation,
			"message": "children written by the benchmark's bare client", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		}},
	}})
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
