package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// managerSpec says how to start a manager: the binary and its extra flags.
type managerSpec struct {
	// label names it in the report: "manager", "baseline (--skip-unchanged=false)", ...
	label string
	bin   string
	// args come first (a subcommand of the harness for a what-if variant), then the flags.
	args []string
	// skipUnchanged is the --skip-unchanged flag.
	skipUnchanged bool
	// pprof adds --pprof-bind-address.
	pprof bool
	// memoryLimit, when set, runs the manager in a memory cgroup of this many bytes, as the
	// Helm chart's container limit does.
	memoryLimit int64
}

// managerProc is one running manager process.
type managerProc struct {
	cmd        *exec.Cmd
	pid        int
	metricsURL string
	// pprofURL is the manager's net/http/pprof, "" without.
	pprofURL string
	exited   chan struct{}

	mu      sync.Mutex
	peakRSS int64 // the highest VmRSS sampled since the last resetPeak
	stopped bool
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startManager runs the manager with the bench user's kubeconfig, and waits until its
// metrics endpoint answers.
func startManager(ctx context.Context, spec managerSpec, kubeconfig, logPath string) (*managerProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append(append([]string{}, spec.args...),
		"--metrics-bind-address=127.0.0.1:"+strconv.Itoa(port),
		"--health-probe-bind-address=0",
		"--skip-unchanged="+strconv.FormatBool(spec.skipUnchanged),
	)
	pprofURL := ""
	if spec.pprof {
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		args = append(args, "--pprof-bind-address=127.0.0.1:"+strconv.Itoa(pp))
		pprofURL = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/", pp)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "==== %s: %s %s\n", time.Now().Format(time.RFC3339Nano), spec.bin, strings.Join(args, " "))
	name, argv := spec.bin, args
	var cg *memoryCgroup
	if spec.memoryLimit > 0 {
		if cg, err = newMemoryCgroup(fmt.Sprintf("webstack-bench-%d-%d", os.Getpid(), port), spec.memoryLimit); err != nil {
			logf.Close()
			return nil, fmt.Errorf("a memory cgroup for the manager (-memory-limit 0 runs it without): %w", err)
		}
		name, argv = cg.wrap(spec.bin, args)
	}
	cmd := exec.Command(name, argv...)
	cmd.Env = append(withoutKubeEnv(os.Environ()), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		if cg != nil {
			cg.remove()
		}
		return nil, fmt.Errorf("starting %s: %w", spec.bin, err)
	}
	m := &managerProc{cmd: cmd, pid: cmd.Process.Pid, metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", port), pprofURL: pprofURL, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		if cg != nil {
			cg.remove()
		}
		close(m.exited)
	}()
	go m.sampleRSS()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := m.scrape(); err == nil {
			return m, nil
		}
		select {
		case <-m.exited:
			return nil, fmt.Errorf("the manager exited at start: see %s", logPath)
		case <-ctx.Done():
			m.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("the manager's metrics endpoint did not answer within a minute: see %s", logPath)
		}
	}
}

// withoutKubeEnv drops what would point the manager at another cluster.
func withoutKubeEnv(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if strings.HasPrefix(e, "KUBECONFIG=") || strings.HasPrefix(e, "KUBERNETES_SERVICE_") {
			continue
		}
		out = append(out, e)
	}
	return out
}

func (m *managerProc) sampleRSS() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.exited:
			return
		case <-t.C:
			rss, _ := memory(m.pid)
			m.mu.Lock()
			if rss > m.peakRSS {
				m.peakRSS = rss
			}
			m.mu.Unlock()
		}
	}
}

// resetPeak starts a new window for peak(); it returns the peak of the window it ends.
func (m *managerProc) resetPeak() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peakRSS
	m.peakRSS, _ = memory(m.pid)
	return p
}

// memory returns VmRSS now and VmHWM (the process's peak so far).
func (m *managerProc) memory() (rss, hwm int64) { return memory(m.pid) }

func (m *managerProc) cpu() float64 { return cpuSeconds(m.pid) }

// stop sends SIGTERM (a graceful shutdown, as a rollout would) and waits for the exit.
func (m *managerProc) stop() {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.stopped = true
	m.mu.Unlock()
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
}

// fetchProfile saves the manager's pprof profile (e.g. "profile?seconds=30", "heap?gc=1").
func (m *managerProc) fetchProfile(ctx context.Context, what, path string) error {
	if m.pprofURL == "" {
		return fmt.Errorf("the manager serves no pprof")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.pprofURL+what, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pprofTop is `go tool pprof -top` of a profile, its first lines.
func pprofTop(path string, lines int, extra ...string) string {
	args := append([]string{"tool", "pprof", "-top"}, extra...)
	out, err := exec.Command("go", append(args, path)...).Output()
	if err != nil {
		return fmt.Sprintf("go tool pprof: %v", err)
	}
	ls := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(ls) > lines {
		ls = ls[:lines]
	}
	return strings.Join(ls, "\n")
}

// metricSample is one line of the Prometheus text format.
type metricSample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape reads the manager's metrics endpoint (text format, parsed just enough).
func (m *managerProc) scrape() ([]metricSample, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(m.metricsURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", m.metricsURL, resp.Status)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) ([]metricSample, error) {
	var out []metricSample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s := metricSample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			s.name = line[:i]
			for _, kv := range splitLabels(line[i+1 : j]) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					s.labels[k] = strings.Trim(v, `"`)
				}
			}
			rest = strings.TrimSpace(line[j+1:])
		} else {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			s.name, rest = f[0], strings.Join(f[1:], " ")
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		s.value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

// splitLabels splits `a="x",b="y,z"` at the commas outside quotes.
func splitLabels(s string) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// sum adds the samples named name whose labels include every label of match.
func sum(samples []metricSample, name string, match map[string]string) float64 {
	total := 0.0
	for _, s := range samples {
		if s.name != name {
			continue
		}
		ok := true
		for k, v := range match {
			if s.labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			total += s.value
		}
	}
	return total
}

// controllerState is what the manager's metrics say about the WebStack controller.
type controllerState struct {
	reconciles     float64 // controller_runtime_reconcile_total, every result
	errors         float64 // controller_runtime_reconcile_errors_total
	reconcileTime  float64 // controller_runtime_reconcile_time_seconds_sum
	queueDepth     float64
	activeWorkers  float64
	maxConcurrent  float64
	clientRequests float64 // rest_client_requests_total (the manager's own count)
	heapInuse      float64 // go_memstats_heap_inuse_bytes
	heapAlloc      float64 // go_memstats_heap_alloc_bytes (live objects and not yet collected garbage)
	rateLimiter    float64 // rest_client_rate_limiter_duration_seconds_sum (what-if manager only)
	requestTime    float64 // rest_client_request_duration_seconds_sum (what-if manager only)
}

func (m *managerProc) controller() (controllerState, error) {
	s, err := m.scrape()
	if err != nil {
		return controllerState{}, err
	}
	c := map[string]string{"controller": "webstack"}
	return controllerState{
		reconciles:     sum(s, "controller_runtime_reconcile_total", c),
		errors:         sum(s, "controller_runtime_reconcile_errors_total", c),
		reconcileTime:  sum(s, "controller_runtime_reconcile_time_seconds_sum", c),
		queueDepth:     sum(s, "workqueue_depth", map[string]string{"name": "webstack"}),
		activeWorkers:  sum(s, "controller_runtime_active_workers", c),
		maxConcurrent:  sum(s, "controller_runtime_max_concurrent_reconciles", c),
		clientRequests: sum(s, "rest_client_requests_total", nil),
		heapInuse:      sum(s, "go_memstats_heap_inuse_bytes", nil),
		heapAlloc:      sum(s, "go_memstats_heap_alloc_bytes", nil),
		rateLimiter:    sum(s, "rest_client_rate_limiter_duration_seconds_sum", nil),
		requestTime:    sum(s, "rest_client_request_duration_seconds_sum", nil),
	}, nil
}
