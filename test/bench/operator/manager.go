package main

import (
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

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// memoryLimitRatio is the share of its container's memory limit that the manager keeps the Go
// runtime's heap under (GOMEMLIMIT, which automemlimit sets from the cgroup in the container).
// The harness runs the manager outside a container, so it sets GOMEMLIMIT itself.
const memoryLimitRatio = 0.75

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

// startManager runs the manager binary with the bench user's kubeconfig (and pprof if asked),
// under GOMEMLIMIT = memoryLimitRatio × memoryLimit if that is set, and waits until its
// metrics endpoint answers.
func startManager(ctx context.Context, bin string, pprof bool, memoryLimit int64, kubeconfig, logPath string) (*managerProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(port), "--health-probe-bind-address=0"}
	m := &managerProc{metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", port), exited: make(chan struct{})}
	if pprof {
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		args = append(args, "--pprof-bind-address=127.0.0.1:"+strconv.Itoa(pp))
		m.pprofURL = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/", pp)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "==== %s: %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	m.cmd = exec.Command(bin, args...)
	m.cmd.Env = append(withoutKubeEnv(os.Environ()), "KUBECONFIG="+kubeconfig)
	if memoryLimit > 0 {
		m.cmd.Env = append(m.cmd.Env, fmt.Sprintf("GOMEMLIMIT=%d", int64(memoryLimitRatio*float64(memoryLimit))))
	}
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	m.pid = m.cmd.Process.Pid
	go func() {
		_ = m.cmd.Wait()
		logf.Close()
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

// withoutKubeEnv drops what would point the manager at another cluster, and GOMEMLIMIT.
func withoutKubeEnv(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, "KUBECONFIG=") && !strings.HasPrefix(e, "KUBERNETES_SERVICE_") && !strings.HasPrefix(e, "GOMEMLIMIT=") {
			out = append(out, e)
		}
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
			rss := int64(memory(m.pid).VmRSS)
			m.mu.Lock()
			m.peakRSS = max(m.peakRSS, rss)
			m.mu.Unlock()
		}
	}
}

// resetPeak starts a new window for the peak RSS; it returns the peak of the window it ends.
func (m *managerProc) resetPeak() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peakRSS
	m.peakRSS = int64(memory(m.pid).VmRSS)
	return p
}

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
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o600)
}

// pprofTop is `go tool pprof -top` of a profile, its first lines.
func pprofTop(path string, lines int, extra ...string) string {
	args := append([]string{"tool", "pprof", "-top"}, extra...)
	out, err := exec.Command("go", append(args, path)...).Output()
	if err != nil {
		return fmt.Sprintf("go tool pprof: %v", err)
	}
	ls := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.Join(ls[:min(lines, len(ls))], "\n")
}

// scrape reads the manager's metrics endpoint (Prometheus text format).
func (m *managerProc) scrape() (map[string]*dto.MetricFamily, error) {
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

func parseMetrics(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

// sum adds the samples (counter, gauge or untyped; a histogram's sum) of the family name
// whose labels include every label of match.
func sum(families map[string]*dto.MetricFamily, name string, match map[string]string) float64 {
	f, ok := families[name]
	if !ok {
		return 0
	}
	total := 0.0
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range match {
			ok = ok && labels[k] == v
		}
		if !ok {
			continue
		}
		total += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue() + m.GetHistogram().GetSampleSum()
	}
	return total
}

// controllerState is what the manager's metrics say about the WebStack controller.
type controllerState struct {
	reconciles    float64 // controller_runtime_reconcile_total, every result
	errors        float64 // controller_runtime_reconcile_errors_total
	reconcileTime float64 // controller_runtime_reconcile_time_seconds (its sum)
	queueDepth    float64
	activeWorkers float64
	maxConcurrent float64
	heapInuse     float64 // go_memstats_heap_inuse_bytes
}

func (m *managerProc) controller() (controllerState, error) {
	s, err := m.scrape()
	if err != nil {
		return controllerState{}, err
	}
	c := map[string]string{"controller": "webstack"}
	return controllerState{
		reconciles:    sum(s, "controller_runtime_reconcile_total", c),
		errors:        sum(s, "controller_runtime_reconcile_errors_total", c),
		reconcileTime: sum(s, "controller_runtime_reconcile_time_seconds", c),
		queueDepth:    sum(s, "workqueue_depth", map[string]string{"name": "webstack"}),
		activeWorkers: sum(s, "controller_runtime_active_workers", c),
		maxConcurrent: sum(s, "controller_runtime_max_concurrent_reconciles", c),
		heapInuse:     sum(s, "go_memstats_heap_inuse_bytes", nil),
	}, nil
}
