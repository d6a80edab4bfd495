package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// jobController plays the Job controller, which envtest does not run: it marks every
// migration Job succeeded as soon as it appears, as if its pod had exited 0.
type jobController struct {
	kube kubernetes.Interface
	jobs chan *batchv1.Job
	mu   sync.Mutex
	err  error // the first Job it failed to complete
}

func startJobController(ctx context.Context, kube kubernetes.Interface) (*jobController, error) {
	c := &jobController{kube: kube, jobs: make(chan *batchv1.Job, 4096)}
	f := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = "app.kubernetes.io/managed-by=webstack-operator"
	}))
	inf := f.Batch().V1().Jobs().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(o any) {
		if j := o.(*batchv1.Job); !jobFinished(j) {
			c.jobs <- j.DeepCopy()
		}
	}}); err != nil {
		return nil, err
	}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil, fmt.Errorf("the harness's informer for Jobs did not sync")
	}
	for range 4 {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-c.jobs:
					if err := c.complete(ctx, j); err != nil && ctx.Err() == nil {
						c.mu.Lock()
						if c.err == nil {
							c.err = err
						}
						c.mu.Unlock()
					}
				}
			}
		}()
	}
	return c, nil
}

func (c *jobController) error() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func jobFinished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func (c *jobController) complete(ctx context.Context, j *batchv1.Job) error {
	for attempt := 0; ; attempt++ {
		now := metav1.Now()
		start := metav1.NewTime(now.Add(-time.Second))
		cond := func(t batchv1.JobConditionType) batchv1.JobCondition {
			return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now, Reason: "CompletionsReached", Message: "Reached expected number of succeeded pods"}
		}
		j.Status = batchv1.JobStatus{StartTime: &start, CompletionTime: &now, Succeeded: 1, Conditions: []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete)}}
		_, err := c.kube.BatchV1().Jobs(j.Namespace).UpdateStatus(ctx, j, metav1.UpdateOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt > 5 {
			return fmt.Errorf("completing Job %s/%s: %w", j.Namespace, j.Name, err)
		}
		if j, err = c.kube.BatchV1().Jobs(j.Namespace).Get(ctx, j.Name, metav1.GetOptions{}); err != nil || jobFinished(j) {
			return err
		}
	}
}
