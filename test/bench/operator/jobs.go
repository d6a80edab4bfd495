package main

import (
	"cmp"
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
	"k8s.io/client-go/util/retry"
)

// jobController plays the Job controller, which envtest does not run: it marks every
// migration Job succeeded as soon as it appears, as if its pod had exited 0.
type jobController struct {
	mu  sync.Mutex
	err error // the first Job it failed to complete
}

func startJobController(ctx context.Context, kube kubernetes.Interface) (*jobController, error) {
	c := &jobController{}
	f := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = "app.kubernetes.io/managed-by=webstack-operator"
	}))
	inf := f.Batch().V1().Jobs().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(o any) {
		go func() {
			if err := complete(ctx, kube, o.(*batchv1.Job).DeepCopy()); err != nil && ctx.Err() == nil {
				c.mu.Lock()
				c.err = cmp.Or(c.err, err)
				c.mu.Unlock()
			}
		}()
	}}); err != nil {
		return nil, err
	}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil, fmt.Errorf("the harness's informer for Jobs did not sync")
	}
	return c, nil
}

func (c *jobController) error() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// complete writes the status the Job controller writes when the Job's pod succeeded; after a
// conflict it reads the Job again.
func complete(ctx context.Context, kube kubernetes.Interface, j *batchv1.Job) error {
	ns, name := j.Namespace, j.Name
	err := retry.RetryOnConflict(retry.DefaultRetry, func() (err error) {
		if j == nil {
			if j, err = kube.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		for _, c := range j.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		now := metav1.Now()
		start := metav1.NewTime(now.Add(-time.Second))
		cond := func(t batchv1.JobConditionType) batchv1.JobCondition {
			return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now, Reason: "CompletionsReached", Message: "Reached expected number of succeeded pods"}
		}
		j.Status = batchv1.JobStatus{StartTime: &start, CompletionTime: &now, Succeeded: 1, Conditions: []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete)}}
		_, err = kube.BatchV1().Jobs(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{})
		j = nil
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("completing Job %s/%s: %w", ns, name, err)
	}
	return nil
}
