package stack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/agent"
	"github.com/webstack-dev/webstack-operator/internal/stack"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// Agent is one in-pod agent, run from the operator's binary with the arguments its pod gives
// it, pointed at the stack's daemon on loopback.
type Agent struct {
	*Process
	// File is the config it watches; StatusFile where it reports.
	File, StatusFile string
}

// Status is the agent's status file.
func (a *Agent) Status() (agent.Status, error) { return agent.ReadStatus(a.StatusFile) }

// WaitFor waits until the agent reports the mounted config as applied (refused false) or
// refused (refused true), and returns that status.
func (a *Agent) WaitFor(ctx context.Context, refused bool, timeout time.Duration) (agent.Status, error) {
	content, err := os.ReadFile(a.File)
	if err != nil {
		return agent.Status{}, err
	}
	want := agent.Hash(content)
	var st agent.Status
	err = waitFor(ctx, a.Process, timeout, a.Name+" to report "+want, func() error {
		if st, err = a.Status(); err != nil {
			return err
		}
		if (!refused && st.Applied == want) || (refused && st.Refused == want) {
			return nil
		}
		return fmt.Errorf("status %+v", st)
	})
	return st, err
}

// WaitSettled waits until the agent reports neither a refused config nor settings pending
// a restart.
func (a *Agent) WaitSettled(ctx context.Context, timeout time.Duration) error {
	return waitFor(ctx, a.Process, timeout, a.Name+" to settle", func() error {
		if st, err := a.Status(); err != nil || st.Refused != "" || len(st.PendingRestart) != 0 {
			return fmt.Errorf("status %+v, %v", st, err)
		}
		return nil
	})
}

// buildAgent builds the operator's binary, whose agent subcommand runs in the pods.
func (s *Stack) buildAgent(ctx context.Context, root string) error {
	s.agentBin = filepath.Join(s.Dir, "webstack-operator")
	cmd := exec.Command("go", "build", "-o", s.agentBin, "./cmd/webstack-operator")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	_, _, err := runCommand(ctx, 5*time.Minute, cmd)
	return err
}

// startAgents starts the agents of Varnish, HAProxy and the cache Redis, polling every
// 500ms (the pods poll every 2s; the test is impatient).
func (s *Stack) startAgents(ctx context.Context) error {
	s.Agents = map[string]*Agent{}
	start := func(kind, file string, env []string, args ...string) error {
		a := &Agent{File: filepath.Join(s.Dir, file), StatusFile: filepath.Join(s.Dir, kind+"-agent.json")}
		cmd := exec.Command(s.agentBin, append([]string{"agent", kind, "--config", a.File, "--interval", "500ms",
			"--status-file", a.StatusFile}, args...)...)
		cmd.Env = env
		p, err := startProcess(s.logDir, kind+"-agent", syscall.SIGTERM, cmd)
		if err != nil {
			return err
		}
		s.procs = append(s.procs, p)
		a.Process = p
		s.Agents[kind] = a
		return nil
	}
	if err := start("varnish", render.FileVCL, nil, "--admin", s.VarnishAdmin, "--secret", s.VarnishSecret); err != nil {
		return err
	}
	if err := start("haproxy", render.FileHAProxy, nil, "--master-socket", s.HAProxyMaster); err != nil {
		return err
	}
	if err := start("redis", render.FileRedis, []string{"REDIS_PASSWORD=" + s.Credentials.Redis}, "--addr", s.Cache.Process.Addr); err != nil {
		return err
	}
	// PostgreSQL reads its config from its own directory (the ConfigMap's mount).
	if err := start("postgres", filepath.Join("pg", render.FilePostgres), nil, "--socket", s.pgDir, "--port", strconv.Itoa(s.pgPort)); err != nil {
		return err
	}
	for _, a := range s.Agents {
		if _, err := a.WaitFor(ctx, false, 60*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// Update changes the WebStack as a user's edit does: the plan is built again and its
// configs replace the mounted ones, each file atomically (as the kubelet swaps a ConfigMap
// volume). Nothing is restarted: what changes in place is up to the agents.
func (s *Stack) Update(change func(ws *v1alpha1.WebStack)) error {
	ws := s.WS.DeepCopy()
	change(ws)
	plan, err := stack.Build(ws, stack.Options{Static: s.static, Render: s.renderOptions, Credentials: s.Credentials})
	if err != nil {
		return fmt.Errorf("building the plan: %w", err)
	}
	s.WS, s.Plan, s.Tuning = ws, plan, plan.Tuning
	return s.writeConfigs()
}

// WriteConfig replaces one mounted config file (a path under Dir) atomically, bypassing
// the plan (a config that admission would not let through).
func (s *Stack) WriteConfig(name, content string) error {
	tmp := filepath.Join(s.Dir, filepath.Dir(name), "."+filepath.Base(name)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.Dir, name))
}

// writeConfigs writes the plan's configs into Dir, and once PostgreSQL runs, its
// ConfigMap into its directory, each file atomically.
func (s *Stack) writeConfigs() error {
	for name, content := range s.Plan.Configs.Files() {
		if err := s.WriteConfig(name, content); err != nil {
			return err
		}
	}
	if s.Postgres == nil {
		return nil
	}
	cm, err := planned[*corev1.ConfigMap](s.Plan, resources.DatabaseConfigName(s.WS))
	if err != nil {
		return err
	}
	for name, content := range cm.Data {
		if err := s.WriteConfig(filepath.Join("pg", name), content); err != nil {
			return err
		}
	}
	return nil
}
