package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// PgBouncer is Debian's pgbouncer (the pooler image runs /usr/bin/pgbouncer, a link to the
// same program).
const PgBouncer = "/usr/sbin/pgbouncer"

// poolerDir is where the pooler's pgbouncer.ini and auth file go, under Stack.Dir.
const poolerDir = "pooler"

// startPoolers runs the pooler Deployment's replicas as pgbouncer processes (as the
// postgres user: pgbouncer refuses to run as root) with the plan's pgbouncer.ini and the
// auth file of the plan's Secret, all on one loopback port (so_reuseport), as the pooler
// Service spreads connections over its pods. Nothing without pooling.
func (s *Stack) startPoolers(ctx context.Context, creds resources.Credentials) error {
	if !s.WS.Spec.Database.IsPooled() {
		return nil
	}
	if err := s.writePoolerFiles(); err != nil {
		return err
	}
	for i := range int(s.Tuning.Pooler.Replicas) {
		p, err := startProcess(s.logDir, fmt.Sprintf("pgbouncer-%d", i+1), syscall.SIGINT,
			s.asPostgres(exec.Command(PgBouncer, filepath.Join(s.Dir, poolerDir, render.FilePooler))))
		if err != nil {
			return err
		}
		p.Addr = s.PoolerAddr
		s.procs = append(s.procs, p)
		s.Poolers = append(s.Poolers, p)
		if err := waitFor(ctx, p, 20*time.Second, p.Name, func() error {
			_, err := s.ThroughPooler(ctx, creds.DatabaseApp, "SELECT 1")
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// restartPoolers stops the pgbouncer processes and starts them with the plan's files, as
// the pooler pods roll when the app password (its credentials hash) changes.
func (s *Stack) restartPoolers(ctx context.Context, creds resources.Credentials) error {
	for _, p := range s.Poolers {
		p.Stop(10 * time.Second)
		s.procs = slices.DeleteFunc(s.procs, func(q *Process) bool { return q == p })
	}
	s.Poolers = nil
	return s.startPoolers(ctx, creds)
}

// writePoolerFiles writes the plan's pgbouncer.ini and auth file, readable by the postgres
// user only.
func (s *Stack) writePoolerFiles() error {
	ws := s.WS
	cm, err := planned[*corev1.ConfigMap](s.Plan, resources.PoolerConfigName(ws))
	if err != nil {
		return err
	}
	auth, err := planned[*corev1.Secret](s.Plan, resources.PoolerAuthName(ws))
	if err != nil {
		return err
	}
	dir := filepath.Join(s.Dir, poolerDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string][]byte{render.FilePooler: []byte(cm.Data[render.FilePooler]), render.FilePoolerAuth: auth.Data[render.FilePoolerAuth]}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			return err
		}
		if s.pgCred != nil {
			if err := os.Chown(path, int(s.pgCred.Uid), int(s.pgCred.Gid)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ThroughPooler runs SQL as the app role with password through the pooler, as an app
// process does, and returns psql's output.
func (s *Stack) ThroughPooler(ctx context.Context, password, sql string) (string, error) {
	host, port, _ := strings.Cut(s.PoolerAddr, ":")
	cmd := s.pgCommand("psql", "-X", "-w", "-q", "-A", "-t", "-h", host, "-p", port,
		"-U", render.DefaultAppRole, "-d", render.DefaultAppDatabase, "-c", sql)
	cmd.Env = append(cmd.Env, "PGPASSWORD="+password)
	out, errOut, err := runCommand(ctx, time.Minute, cmd)
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(errOut))
	}
	return strings.TrimSpace(out), nil
}

// Replan builds the operator's plan for ws (a changed spec of the same stack) with the
// stack's discovery, file locations and passwords, without changing the running stack.
func (s *Stack) Replan(ws *v1alpha1.WebStack) (*stack.Plan, error) {
	return stack.Build(ws, stack.Options{Static: s.static, Render: s.renderOptions, Credentials: s.Credentials})
}

// ReloadPoolers makes p the stack's plan for the poolers: their files are rewritten and each
// pgbouncer rereads pgbouncer.ini on SIGHUP (RELOAD), as for a change of reloadable settings
// such as max_client_conn. The processes keep running.
func (s *Stack) ReloadPoolers(p *stack.Plan) error {
	s.Plan, s.Tuning = p, p.Tuning
	if err := s.writePoolerFiles(); err != nil {
		return err
	}
	for _, pb := range s.Poolers {
		if err := pb.exited(); err != nil {
			return err
		}
		if err := syscall.Kill(pb.cmd.Process.Pid, syscall.SIGHUP); err != nil {
			return err
		}
	}
	return nil
}

// StartApps starts n more app instances (gunicorn, the app's environment) on new loopback
// ports and waits until each answers its health path, as pods the autoscaler adds.
// HAProxy does not know them (its servers are static): send them requests directly.
func (s *Stack) StartApps(ctx context.Context, n int) ([]*Process, error) {
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	var started []*Process
	for _, port := range ports {
		p, err := s.startApp(len(s.Apps)+1, loopback(port))
		if err != nil {
			return started, err
		}
		s.Apps = append(s.Apps, p)
		started = append(started, p)
	}
	for _, p := range started {
		if err := waitFor(ctx, p, 90*time.Second, p.Name+"'s health path", func() error {
			return httpOK("http://" + p.Addr + s.WS.Spec.App.HealthCheckPath)
		}); err != nil {
			return started, err
		}
	}
	return started, nil
}

// AppBackends is the number of PostgreSQL backends of the app role.
func (s *Stack) AppBackends(ctx context.Context) (int, error) {
	out, err := s.psql(ctx, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE usename = '"+render.DefaultAppRole+"'")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(out)
}

// migrate runs app.migration.command as the migration Job does: with the worker
// environment and DATABASE_URL set to DATABASE_DIRECT_URL (PostgreSQL, not the pooler).
func (s *Stack) migrate(ctx context.Context) (string, error) {
	direct := ""
	for _, kv := range s.workEnv {
		if k, v, _ := strings.Cut(kv, "="); k == resources.DatabaseDirectURLKey {
			direct = v
		}
	}
	if direct == "" {
		return "", errors.New("the worker environment has no " + resources.DatabaseDirectURLKey)
	}
	argv := command(s.WS.Spec.App.Migration.Command)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.appDir
	// The last value of a variable wins (os/exec), as the Job's env wins over envFrom.
	cmd.Env = append(append([]string(nil), s.workEnv...), resources.DatabaseURLKey+"="+direct)
	out, _, err := runCommand(ctx, 3*time.Minute, cmd)
	return out, err
}
