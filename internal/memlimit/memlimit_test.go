package memlimit

import (
	"testing"
	"testing/fstest"
)

func TestCgroupMemoryLimit(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	cases := map[string]struct {
		fs        fstest.MapFS
		self      string
		wantLimit int64
		wantOK    bool
	}{
		"v2 in a container's own namespace": {
			fs:        fstest.MapFS{"memory.max": file("335544320\n")},
			self:      "0::/\n",
			wantLimit: 335544320, wantOK: true,
		},
		"v2 without a limit": {
			fs:   fstest.MapFS{"memory.max": file("max\n")},
			self: "0::/\n",
		},
		"v2 nested path": {
			fs: fstest.MapFS{
				"kubepods/pod1/c1/memory.max": file("268435456\n"),
				"memory.max":                  file("max\n"),
			},
			self:      "0::/kubepods/pod1/c1\n",
			wantLimit: 268435456, wantOK: true,
		},
		"v1 memory controller among others": {
			fs: fstest.MapFS{
				"memory/bench/memory.limit_in_bytes": file("335544320\n"),
				"memory/memory.limit_in_bytes":       file("9223372036854771712\n"),
			},
			self:      "9:name=systemd:/\n4:memory:/bench\n3:cpu,cpuacct:/\n0::/\n",
			wantLimit: 335544320, wantOK: true,
		},
		"v1 unlimited": {
			fs:   fstest.MapFS{"memory/memory.limit_in_bytes": file("9223372036854771712\n")},
			self: "4:memory:/\n",
		},
		"v1 path hidden by a namespace falls back to the top": {
			fs:        fstest.MapFS{"memory/memory.limit_in_bytes": file("536870912\n")},
			self:      "4:memory:/docker/abc\n",
			wantLimit: 536870912, wantOK: true,
		},
		"no cgroup files": {
			fs:   fstest.MapFS{},
			self: "0::/\n",
		},
		"garbage": {
			fs:   fstest.MapFS{"memory.max": file("lots\n")},
			self: "0::/\n",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			limit, ok := cgroupMemoryLimit(tc.fs, tc.self)
			if limit != tc.wantLimit || ok != tc.wantOK {
				t.Errorf("cgroupMemoryLimit() = %d, %v; want %d, %v", limit, ok, tc.wantLimit, tc.wantOK)
			}
		})
	}
}
