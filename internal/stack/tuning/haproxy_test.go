package tuning

import (
	"testing"
)

func TestLoadBalancer(t *testing.T) {
	cases := map[string]struct {
		// opts build an admitted spec unless raw is set.
		opts []option
		raw  bool
		// threads, serverMaxConnections, serverSlots
		want [3]int32
	}{
		"defaults: ceil(3 / 2)":                     {want: [3]int32{1, 2, 8}},
		"one replica takes all workers":             {opts: []option{withLoadBalancer(1, 0)}, want: [3]int32{1, 3, 8}},
		"ceil(8 x 4 / 3) = 11":                      {opts: []option{withWorkers(8), withThreads(4), withLoadBalancer(3, 0)}, want: [3]int32{1, 11, 8}},
		"100 replicas still 1 per server":           {opts: []option{withLoadBalancer(100, 0)}, want: [3]int32{1, 1, 8}},
		"2.9 cores is 2 threads":                    {opts: []option{withResources(LoadBalancer, list("cpu", "2900m"), nil)}, want: [3]int32{2, 2, 8}},
		"threads capped at 64":                      {opts: []option{withResources(LoadBalancer, list("cpu", "1000"), nil)}, want: [3]int32{64, 2, 8}},
		"slots: the power of two above autoscaling": {opts: []option{withAutoscaling(2, 30)}, want: [3]int32{1, 2, 32}},
		"zero replicas (API rejects) count 1":       {opts: []option{withLoadBalancer(0, 0)}, raw: true, want: [3]int32{1, 3, 8}},
		"negative replicas (API rejects) too":       {opts: []option{withLoadBalancer(-5, 0)}, raw: true, want: [3]int32{1, 3, 8}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ws := rawWebStack(c.opts...)
			if !c.raw {
				ws = webStack(t, c.opts...)
			}
			lb := For(ws).LoadBalancer
			if got := [3]int32{lb.Threads, lb.ServerMaxConnections, lb.ServerSlots}; got != c.want {
				t.Errorf("threads, serverMaxConnections, serverSlots = %v, want %v", got, c.want)
			}
		})
	}
}

func TestServerSlots(t *testing.T) {
	cases := map[string]struct {
		pods, want int32
	}{
		"none":                          {pods: 0, want: 8},
		"2 pods":                        {pods: 2, want: 8},
		"6 pods: scaling 2-6-2 keeps 8": {pods: 6, want: 8},
		"8 pods":                        {pods: 8, want: 8},
		"9 pods":                        {pods: 9, want: 16},
		"1000 pods":                     {pods: 1000, want: 1024},
		"beyond int32 saturates":        {pods: 1<<30 + 1, want: 1<<31 - 1},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := serverSlots(c.pods); got != c.want {
				t.Errorf("serverSlots(%d) = %d, want %d", c.pods, got, c.want)
			}
		})
	}
}
