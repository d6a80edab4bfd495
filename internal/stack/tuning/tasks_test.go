package tuning

import (
	"testing"
)

func TestTasks(t *testing.T) {
	cases := map[string]struct {
		opts []option
		// concurrency, pods, beat; nil means no tasks
		want *[3]int32
	}{
		"no tasks":                   {want: nil},
		"defaults: 1 pod, 1 process": {opts: []option{withTasks(1)}, want: &[3]int32{1, 1, 0}},
		"beat counts once":           {opts: []option{withTasks(4), withBeat()}, want: &[3]int32{1, 4, 1}},
		"floor(2.5 cores) = 2":       {opts: []option{withResources(Tasks, list("cpu", "2500m", "memory", "1Gi"), nil)}, want: &[3]int32{2, 1, 0}},
		"memory caps: 384Mi / 128Mi": {opts: []option{withResources(Tasks, list("cpu", "16", "memory", "384Mi"), nil)}, want: &[3]int32{3, 1, 0}},
		"capped at 256":              {opts: []option{withResources(Tasks, list("cpu", "300", "memory", "64Gi"), nil)}, want: &[3]int32{256, 1, 0}},
		"explicit concurrency wins":  {opts: []option{withConcurrency(7), withResources(Tasks, list("cpu", "1", "memory", "128Mi"), nil)}, want: &[3]int32{7, 1, 0}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := For(webStack(t, c.opts...))
			switch {
			case c.want == nil && (r.Tasks != nil || r.Broker != nil):
				t.Errorf("tasks %+v, broker %+v; want none", r.Tasks, r.Broker)
			case c.want != nil && (r.Tasks == nil || r.Broker == nil):
				t.Errorf("tasks %+v, broker %+v; want both", r.Tasks, r.Broker)
			case c.want != nil:
				if got := [3]int32{r.Tasks.Concurrency, r.Tasks.Pods, r.Tasks.Beat}; got != *c.want {
					t.Errorf("concurrency, pods, beat = %v, want %v", got, *c.want)
				}
			}
		})
	}
}
