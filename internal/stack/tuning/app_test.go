package tuning

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// Specs the API would not admit (no defaults, zero memoryPerWorker): the documented fallbacks
// apply instead of a division by zero.
func TestAppFallbacks(t *testing.T) {
	zero := resource.MustParse("0")
	cases := map[string]struct {
		ws                        *v1alpha1.WebStack
		workers, threads, maxPods int32
		grace                     int64
		explanation               string
	}{
		"no defaults at all": {
			ws: &v1alpha1.WebStack{}, workers: 3, threads: 1, maxPods: 2, grace: 45,
			explanation: "min(floor(2 x 1 cores) + 1, max(1, floor(512Mi / 128Mi))) = min(3, 4) = 3",
		},
		"zero memoryPerWorker puts no memory cap": {
			ws: rawWebStack(func(ws *v1alpha1.WebStack) {
				ws.Spec.App.MemoryPerWorker = &zero
				ws.Spec.App.Resources.Limits = list("cpu", "4", "memory", "64Mi")
			}),
			workers: 9, threads: 1, maxPods: 2, grace: 45,
			explanation: "floor(2 x 4 cores) + 1 = 9 (memoryPerWorker 0 is not positive: no memory cap)",
		},
		"negative replicas and durations count as 0": {
			ws:      rawWebStack(withReplicas(-3), withTimeouts(-time.Second, -time.Hour)),
			workers: 3, threads: 1, maxPods: 0, grace: 5,
		},
		"zero cpu still gives one worker": {
			ws:      rawWebStack(withResources(App, list("cpu", "0"), nil)),
			workers: 1, threads: 1, maxPods: 2, grace: 45,
		},
		"sub-second timeouts round up once": {
			// 0.4s + 0.7s + 5s = 6.1s -> 7
			ws:      rawWebStack(withTimeouts(400*time.Millisecond, 700*time.Millisecond)),
			workers: 3, threads: 1, maxPods: 2, grace: 7,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := For(c.ws)
			a := r.App
			if a.WorkersPerPod != c.workers || a.ThreadsPerWorker != c.threads || a.MaxPods != c.maxPods || a.TerminationGracePeriodSeconds != c.grace {
				t.Errorf("got workers %d, threads %d, maxPods %d, grace %d; want %d, %d, %d, %d",
					a.WorkersPerPod, a.ThreadsPerWorker, a.MaxPods, a.TerminationGracePeriodSeconds, c.workers, c.threads, c.maxPods, c.grace)
			}
			if c.explanation != "" && !strings.HasPrefix(r.Lines[0].Explanation, c.explanation) {
				t.Errorf("explanation %q, want it to start with %q", r.Lines[0].Explanation, c.explanation)
			}
		})
	}
}

func TestCeilSeconds(t *testing.T) {
	cases := map[string]struct {
		in   []time.Duration
		want int64
	}{
		"whole":                  {[]time.Duration{30 * time.Second, 10 * time.Second, 5 * time.Second}, 45},
		"fractions add up":       {[]time.Duration{1500 * time.Millisecond, 1500 * time.Millisecond}, 3},
		"a nanosecond rounds up": {[]time.Duration{time.Second + 1}, 2},
		"the largest durations do not overflow": {
			[]time.Duration{time.Duration(1<<63 - 1), time.Duration(1<<63 - 1), 5 * time.Second}, 2*9223372036 + 2 + 5,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := ceilSeconds(c.in...); got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
}
