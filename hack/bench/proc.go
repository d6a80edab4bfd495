package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc (100 on every Linux build the
// benchmark runs on; Go cannot ask sysconf without cgo).
const clockTicks = 100

type procStat struct {
	comm string
	ppid int
	// cpu is user + system time, in seconds.
	cpu float64
}

// readStat reads /proc/PID/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	st := procStat{comm: s[open+1 : closing]}
	f := strings.Fields(s[closing+1:])
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("short /proc/%d/stat", pid)
	}
	st.ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	st.cpu = (ut + stime) / clockTicks
	return st, nil
}

// cpuSeconds is the CPU time a process used so far; 0 if it is gone.
func cpuSeconds(pid int) float64 {
	if pid == 0 {
		return 0
	}
	st, err := readStat(pid)
	if err != nil {
		return 0
	}
	return st.cpu
}

// machineCPU returns the busy and total CPU seconds of the whole machine (/proc/stat).
func machineCPU() (busy, total float64) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	var idle float64
	for i, v := range fields[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		// guest and guest_nice are already in user and nice.
		if i >= 8 {
			break
		}
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return (total - idle) / clockTicks, total / clockTicks
}

// memory reads VmRSS and VmHWM (the peak) of a process, in bytes.
func memory(pid int) (rss, hwm int64) {
	m := memoryDetail(pid)
	return m["VmRSS"], m["VmHWM"]
}

// memoryDetail reads the memory lines of /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile,
// ...), in bytes.
func memoryDetail(pid int) map[string]int64 {
	out := map[string]int64{}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[2] == "kB" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			out[strings.TrimSuffix(fields[0], ":")] = kb * 1024
		}
	}
	return out
}

// machineInfo describes where the benchmark ran.
type machineInfo struct {
	CPUs      int     `json:"cpus"`
	CPUModel  string  `json:"cpuModel"`
	MemoryGiB float64 `json:"memoryGiB"`
	Kernel    string  `json:"kernel"`
	GoVersion string  `json:"goVersion"`
	APIServer string  `json:"kubeAPIServer"`
	Etcd      string  `json:"etcd"`
	LoadStart string  `json:"loadAverageAtStart"`
	LoadEnd   string  `json:"loadAverageAtEnd"`
	// Commit is the repository's HEAD when the manager was built, "+ local changes" when
	// the manager's sources differed from it.
	Commit string `json:"commit"`
}

func firstLineWith(path, prefix string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return sc.Text()
		}
	}
	return ""
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
