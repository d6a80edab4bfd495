package tuning

import (
	"testing"
)

func TestCache(t *testing.T) {
	cases := map[string]struct {
		memory             string
		storage, transient int64
	}{
		"default 512Mi":   {"", 307, 51},
		"1Gi":             {"1Gi", 614, 102},
		"10Mi":            {"10Mi", 6, 1},
		"5Mi rounds to 0": {"5Mi", 3, 0},
		"1000M is 953Mi":  {"1000M", 571, 95},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var opts []option
			if c.memory != "" {
				opts = append(opts, withResources(Cache, list("memory", c.memory), nil))
			}
			r := For(webStack(t, opts...)).Cache
			if r.StorageMiB != c.storage || r.TransientMiB != c.transient {
				t.Errorf("storage %d, transient %d; want %d, %d", r.StorageMiB, r.TransientMiB, c.storage, c.transient)
			}
		})
	}
}
