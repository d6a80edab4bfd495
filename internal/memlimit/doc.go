// Package memlimit sets the Go runtime's soft memory limit from the memory limit of the
// process's cgroup (its container), so the manager collects garbage before it is OOM-killed.
package memlimit
