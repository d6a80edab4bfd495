package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// memoryLimitRatio is the share of its container's memory limit the manager keeps its heap
// under (GOMEMLIMIT, set by automemlimit in the container; here by the harness).
const memoryLimitRatio = 0.75

// managerProc is one running manager process.
type managerProc struct {
	cmd                  *exec.Cmd
	pid                  int
	metricsURL, pprofURL string // pprofURL: "" without pprof
	exited               chan struct{}
	stopOnce             sync.Once
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return l.Addr().String()
}

// startManager runs the manager with the bench user's kubeconfig, under GOMEMLIMIT if
// memoryLimit is set, and waits until its controller started its workers (its informers
// synced), so that a phase measures the reconciler, not the start of the process.
func startManager(ctx context.Context, bin string, pprof bool, memoryLimit int64, kubeconfig, logPath string) (*managerProc, error) {
	metrics := freeAddr()
	args := []string{"--metrics-bind-address=" + metrics, "--health-probe-bind-address=0"}
	m := &managerProc{metricsURL: "http://" + metrics + "/metrics", exited: make(chan struct{})}
	if pprof {
		addr := freeAddr()
		args = append(args, "--pprof-bind-address="+addr)
		m.pprofURL = "http://" + addr + "/debug/pprof/"
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	offset, _ := logf.Seek(0, io.SeekEnd)
	fmt.Fprintf(logf, "==== %s: %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	m.cmd = exec.Command(bin, args...)
	for _, e := range os.Environ() { // nothing that points at another cluster or sets GOMEMLIMIT
		if !strings.HasPrefix(e, "KUBECONFIG=") && !strings.HasPrefix(e, "KUBERNETES_SERVICE_") && !strings.HasPrefix(e, "GOMEMLIMIT=") {
			m.cmd.Env = append(m.cmd.Env, e)
		}
	}
	m.cmd.Env = append(m.cmd.Env, "KUBECONFIG="+kubeconfig)
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
	for deadline := time.Now().Add(time.Minute); ; {
		if b, err := os.ReadFile(logPath); err == nil && strings.Contains(string(b[offset:]), `"msg":"Starting workers"`) {
			return m, nil
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("the manager did not start its workers within a minute: see %s", logPath)
		}
		select {
		case <-ctx.Done():
			m.stop()
			return nil, ctx.Err()
		case <-m.exited:
			return nil, fmt.Errorf("the manager exited: see %s", logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM (a graceful shutdown, as a rollout would) and waits for the exit.
func (m *managerProc) stop() {
	m.stopOnce.Do(func() {
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(30 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.exited
		}
	})
}

// get reads url (the manager's metrics or pprof).
func get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// managerProfile is a 30 s CPU profile of the manager.
func (m *managerProc) managerProfile(ctx context.Context) ([]byte, error) {
	if m.pprofURL == "" {
		return nil, fmt.Errorf("the manager serves no pprof")
	}
	return get(ctx, m.pprofURL+"profile?seconds=30")
}

// pprofTop saves a profile to path and returns the first lines of `go tool pprof -top`.
func pprofTop(raw []byte, err error, path string, lines int, extra ...string) string {
	if err == nil {
		err = os.WriteFile(path, raw, 0o600)
	}
	if err != nil {
		return err.Error()
	}
	out, err := exec.Command("go", append(append([]string{"tool", "pprof", "-top"}, extra...), path)...).Output()
	if err != nil {
		return fmt.Sprintf("go tool pprof: %v", err)
	}
	ls := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.Join(ls[:min(lines, len(ls))], "\n")
}

func parseMetrics(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

// sum adds the samples (counter, gauge or untyped; a histogram's sum) of the family name
// whose labels include every label of match.
func sum(families map[string]*dto.MetricFamily, name string, match map[string]string) float64 {
	total := 0.0
	for _, m := range families[name].GetMetric() {
		n := 0
		for _, l := range m.GetLabel() {
			if v, ok := match[l.GetName()]; ok && v == l.GetValue() {
				n++
			}
		}
		if n == len(match) {
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue() + m.GetHistogram().GetSampleSum()
		}
	}
	return total
}

// controllerState is what the manager's metrics say about the WebStack controller.
type controllerState struct {
	reconciles, errors, reconcileTime float64 // totals; reconcileTime in seconds
	queueDepth, activeWorkers         float64
	maxConcurrent, heapInuse          float64
}

func (m *managerProc) controller() (controllerState, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	raw, err := get(ctx, m.metricsURL)
	if err != nil {
		return controllerState{}, err
	}
	s, err := parseMetrics(bytes.NewReader(raw))
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
