package main

import "github.com/prometheus/procfs"

// procFS is /proc, read through procfs.
var procFS, _ = procfs.NewDefaultFS()

// cpuSeconds is the CPU time (user and system) a process used so far; 0 if it is gone.
func cpuSeconds(pid int) float64 {
	if pid == 0 {
		return 0
	}
	p, err := procFS.Proc(pid)
	if err != nil {
		return 0
	}
	st, err := p.Stat()
	if err != nil {
		return 0
	}
	return st.CPUTime()
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

// memory reads a process's VmRSS, VmHWM (its peak), RssAnon and RssFile, in bytes.
func memory(pid int) procfs.ProcStatus {
	if p, err := procFS.Proc(pid); err == nil {
		if st, err := p.NewStatus(); err == nil {
			return st
		}
	}
	return procfs.ProcStatus{}
}

// childPID finds a child process of this one by its command name (envtest starts
// kube-apiserver and etcd as children); 0 if there is none.
func childPID(self int, comm string) int {
	procs, _ := procFS.AllProcs()
	for _, p := range procs {
		if st, err := p.Stat(); err == nil && st.PPID == self && st.Comm == comm {
			return p.PID
		}
	}
	return 0
}
