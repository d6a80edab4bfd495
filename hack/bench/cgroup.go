package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// memoryCgroup is a cgroup of the harness's own with a memory limit: the manager runs in it
// as it runs in its container under the Helm chart's limit, and derives its Go soft memory
// limit from it (cmd/webstack-operator/memlimit.go) as it does there.
type memoryCgroup struct {
	dir   string
	limit int64
}

// newMemoryCgroup makes a child of this process's memory cgroup (v1 memory controller, or
// v2) with the given limit in bytes. It needs root and a writable cgroup file system.
func newMemoryCgroup(name string, limit int64) (*memoryCgroup, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	var parent, limitFile string
	for _, line := range strings.Split(strings.TrimSpace(string(self)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			parent, limitFile = filepath.Join("/sys/fs/cgroup/memory", parts[2]), "memory.limit_in_bytes"
		case parts[0] == "0" && parts[1] == "" && parent == "":
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", parts[2], "cgroup.controllers")); err == nil {
				parent, limitFile = filepath.Join("/sys/fs/cgroup", parts[2]), "memory.max"
			}
		}
	}
	if parent == "" {
		return nil, fmt.Errorf("no memory cgroup found in /proc/self/cgroup")
	}
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, limitFile), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		_ = os.Remove(dir)
		return nil, fmt.Errorf("setting %s: %w", limitFile, err)
	}
	return &memoryCgroup{dir: dir, limit: limit}, nil
}

// wrap returns the command line that moves itself into the cgroup and then execs bin with
// args (the same PID throughout, so the harness measures the manager itself).
func (c *memoryCgroup) wrap(bin string, args []string) (string, []string) {
	return "/bin/sh", append([]string{"-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, c.dir, bin}, args...)
}

// remove deletes the cgroup; its processes must have exited.
func (c *memoryCgroup) remove() { _ = os.Remove(c.dir) }
