package memlimit

import (
	"io/fs"
	"os"
	"path"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// Percent is the share of its container's memory limit that the manager keeps
// the Go runtime's memory under. The rest is for what the runtime does not count: the
// executable's pages (about 40 MiB) and the kernel's own accounting.
const Percent = 75

// SetFromCgroup makes the garbage collector work harder as the manager nears its
// container's memory limit, instead of letting the heap double (GOGC=100) into an OOM kill:
// the informer cache of 1000 WebStacks is some 170 MiB of live heap. GOMEMLIMIT, when set,
// wins (GOMEMLIMIT=off: no soft limit). It returns the limit set, 0 for none.
func SetFromCgroup() int64 {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return 0
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	limit, ok := cgroupMemoryLimit(os.DirFS("/sys/fs/cgroup"), string(self))
	if !ok {
		return 0
	}
	soft := limit / 100 * Percent
	debug.SetMemoryLimit(soft)
	return soft
}

// cgroupMemoryLimit returns the memory limit of the cgroup described by selfCgroup (the
// text of /proc/self/cgroup), read from the cgroup file systems under root (/sys/fs/cgroup):
// memory.max of cgroup v2, or memory.limit_in_bytes of v1's memory controller. In a
// container with its own cgroup namespace the path is "/", and the files sit at the top.
// ok is false when there is no limit.
func cgroupMemoryLimit(root fs.FS, selfCgroup string) (limit int64, ok bool) {
	for _, line := range strings.Split(strings.TrimSpace(selfCgroup), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var candidates []string
		switch {
		case parts[0] == "0" && parts[1] == "":
			candidates = []string{path.Join(parts[2], "memory.max"), path.Join("unified", parts[2], "memory.max"), "memory.max"}
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			candidates = []string{path.Join("memory", parts[2], "memory.limit_in_bytes"), "memory/memory.limit_in_bytes"}
		default:
			continue
		}
		for _, name := range candidates {
			raw, err := fs.ReadFile(root, strings.TrimPrefix(path.Clean(name), "/"))
			if err != nil {
				continue
			}
			if n, limited := parseMemoryLimit(string(raw)); limited {
				return n, true
			}
			break
		}
	}
	return 0, false
}

// parseMemoryLimit reads a cgroup memory limit: "max" (v2) and v1's page-rounded maximum
// mean no limit.
func parseMemoryLimit(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0, false
	}
	return n, true
}
