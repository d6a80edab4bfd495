package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
)

// configHashAnnotation is on every workload's pod template: a hash of its rendered config.
const configHashAnnotation = "webstack.dev/config-hash"

// tracker watches every kind the operator creates and records when each object first
// appeared and when its content changed. It also plays the Job controller, which envtest
// does not run: every migration Job is marked complete as soon as it appears.
type tracker struct {
	mu sync.Mutex
	// seen is when each "Kind/namespace/name" first appeared.
	seen map[string]time.Time
	// history is each object's fingerprints over time (see fingerprint).
	history map[string][]mark
	// jobsCompleted counts the Jobs the harness completed.
	jobsCompleted int
	jobErr        error

	kube kubernetes.Interface
	jobs chan *batchv1.Job
	// inFlight dedupes Jobs queued for completion.
	inFlight map[string]bool
}

type mark struct {
	at time.Time
	fp string
}

func startTracker(ctx context.Context, kube kubernetes.Interface) (*tracker, error) {
	t := &tracker{seen: map[string]time.Time{}, history: map[string][]mark{}, kube: kube, jobs: make(chan *batchv1.Job, 4096), inFlight: map[string]bool{}}
	f := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = "app.kubernetes.io/managed-by=webstack-operator"
	}))
	for _, inf := range []cache.SharedIndexInformer{
		f.Apps().V1().Deployments().Informer(), f.Apps().V1().StatefulSets().Informer(),
		f.Core().V1().Services().Informer(), f.Core().V1().ConfigMaps().Informer(),
		f.Core().V1().Secrets().Informer(), f.Policy().V1().PodDisruptionBudgets().Informer(),
		f.Networking().V1().NetworkPolicies().Informer(), f.Autoscaling().V2().HorizontalPodAutoscalers().Informer(),
		f.Batch().V1().Jobs().Informer(),
	} {
		if err := inf.SetTransform(crcache.TransformStripManagedFields()); err != nil {
			return nil, err
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { t.observe(o) },
			UpdateFunc: func(_, o any) { t.observe(o) },
		}); err != nil {
			return nil, err
		}
	}
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("the harness's informer for %v did not sync", typ)
		}
	}
	for i := 0; i < 4; i++ {
		go t.completeJobs(ctx)
	}
	return t, nil
}

// kindOf names the kind of a typed object (informers do not fill TypeMeta).
func kindOf(o any) string {
	switch o.(type) {
	case *appsv1.Deployment:
		return "Deployment"
	case *appsv1.StatefulSet:
		return "StatefulSet"
	case *corev1.Service:
		return "Service"
	case *corev1.ConfigMap:
		return "ConfigMap"
	case *corev1.Secret:
		return "Secret"
	case *policyv1.PodDisruptionBudget:
		return "PodDisruptionBudget"
	case *networkingv1.NetworkPolicy:
		return "NetworkPolicy"
	case *autoscalingv2.HorizontalPodAutoscaler:
		return "HorizontalPodAutoscaler"
	case *batchv1.Job:
		return "Job"
	}
	return fmt.Sprintf("%T", o)
}

// fingerprint is what the change phase compares: a ConfigMap's data, a Deployment's
// pod-template config hash, and for anything else its resourceVersion.
func fingerprint(o any) string {
	switch x := o.(type) {
	case *corev1.ConfigMap:
		b, _ := json.Marshal(x.Data) // sorted keys
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:8])
	case *appsv1.Deployment:
		return x.Spec.Template.Annotations[configHashAnnotation]
	case metav1.Object:
		return x.GetResourceVersion()
	}
	return ""
}

func (t *tracker) observe(o any) {
	now := time.Now()
	m, ok := o.(metav1.Object)
	if !ok {
		return
	}
	key := kindOf(o) + "/" + m.GetNamespace() + "/" + m.GetName()
	fp := fingerprint(o)
	t.mu.Lock()
	if _, ok := t.seen[key]; !ok {
		t.seen[key] = now
	}
	h := t.history[key]
	if len(h) == 0 || h[len(h)-1].fp != fp {
		t.history[key] = append(h, mark{at: now, fp: fp})
	}
	job, isJob := o.(*batchv1.Job)
	queue := isJob && !jobFinished(job) && !t.inFlight[key]
	if queue {
		t.inFlight[key] = true
	}
	t.mu.Unlock()
	if queue {
		t.jobs <- job.DeepCopy()
	}
}

func jobFinished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// completeJobs marks Jobs as succeeded, as the Job controller would after its pod exited 0.
func (t *tracker) completeJobs(ctx context.Context) {
	for {
		var j *batchv1.Job
		select {
		case <-ctx.Done():
			return
		case j = <-t.jobs:
		}
		err := t.completeJob(ctx, j)
		t.mu.Lock()
		delete(t.inFlight, "Job/"+j.Namespace+"/"+j.Name)
		if err == nil {
			t.jobsCompleted++
		} else if t.jobErr == nil && ctx.Err() == nil {
			t.jobErr = err
		}
		t.mu.Unlock()
	}
}

func (t *tracker) completeJob(ctx context.Context, j *batchv1.Job) error {
	for attempt := 0; ; attempt++ {
		now := metav1.Now()
		start := metav1.NewTime(now.Add(-time.Second))
		j.Status = batchv1.JobStatus{
			StartTime:      &start,
			CompletionTime: &now,
			Succeeded:      1,
			Conditions: []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now, Reason: "CompletionsReached", Message: "Reached expected number of succeeded pods"},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now, Reason: "CompletionsReached", Message: "Reached expected number of succeeded pods"},
			},
		}
		_, err := t.kube.BatchV1().Jobs(j.Namespace).UpdateStatus(ctx, j, metav1.UpdateOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt > 5 {
			return fmt.Errorf("completing Job %s/%s: %w", j.Namespace, j.Name, err)
		}
		fresh, gerr := t.kube.BatchV1().Jobs(j.Namespace).Get(ctx, j.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if jobFinished(fresh) {
			return nil
		}
		j = fresh
	}
}

// firstSeen is when an object first appeared.
func (t *tracker) firstSeen(key string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.seen[key]
	return at, ok
}

// current is the latest fingerprint of an object.
func (t *tracker) current(key string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.history[key]
	if len(h) == 0 {
		return ""
	}
	return h[len(h)-1].fp
}

// changedAfter is when the object's fingerprint first differed from fp after from.
func (t *tracker) changedAfter(key, fp string, from time.Time) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range t.history[key] {
		if !m.at.Before(from) && m.fp != fp {
			return m.at, true
		}
	}
	return time.Time{}, false
}

func (t *tracker) jobState() (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.jobsCompleted, t.jobErr
}
