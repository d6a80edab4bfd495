package main

import (
	"os"

	"github.com/prometheus/procfs"
)

var procFS, _ = procfs.NewDefaultFS()

// cpuSeconds is the CPU time (user and system) a process used so far; 0 if it is gone.
func cpuSeconds(pid int) float64 {
	if p, err := procFS.Proc(pid); err == nil && pid != 0 {
		if st, err := p.Stat(); err == nil {
			return st.CPUTime()
		}
	}
	return 0
}

// machineCPU returns the busy and total CPU seconds of the whole machine.
func machineCPU() (busy, total float64) {
	st, err := procFS.Stat()
	if err != nil {
		return 0, 0
	}
	c := st.CPUTotal
	idle := c.Idle + c.Iowait
	total = c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal + idle
	return total - idle, total
}

// memory reads a process's VmRSS and VmHWM (its peak), in bytes.
func memory(pid int) (rss, hwm int64) {
	if p, err := procFS.Proc(pid); err == nil {
		if st, err := p.NewStatus(); err == nil {
			return int64(st.VmRSS), int64(st.VmHWM)
		}
	}
	return 0, 0
}

// childPID finds a child of this process by its command name (envtest starts kube-apiserver
// and etcd as children); 0 if there is none.
func childPID(comm string) int {
	procs, _ := procFS.AllProcs()
	for _, p := range procs {
		if st, err := p.Stat(); err == nil && st.PPID == os.Getpid() && st.Comm == comm {
			return p.PID
		}
	}
	return 0
}
