package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Process is a daemon the stack started, in its own process group, its output in a log file.
type Process struct {
	Name string
	// Addr is where it listens (host:port), when it does.
	Addr string
	cmd  *exec.Cmd
	log  string
	stop syscall.Signal
	done chan struct{}
	err  error
}

// startProcess starts cmd in its own process group with its output in logDir/name.log. A
// process that outlives the stack's Go process is killed with it (Pdeathsig).
func startProcess(logDir, name string, stop syscall.Signal, cmd *exec.Cmd) (*Process, error) {
	path := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = group(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, log: path, stop: stop, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// group puts a command into its own process group, killed when this process dies.
func group(a *syscall.SysProcAttr) *syscall.SysProcAttr {
	if a == nil {
		a = &syscall.SysProcAttr{}
	}
	a.Setpgid = true
	a.Pdeathsig = syscall.SIGKILL
	return a
}

// Stop sends the process group its stop signal, then SIGKILL after grace.
func (p *Process) Stop(grace time.Duration) {
	if p.exited() != nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, p.stop)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Kill kills the whole process group at once (SIGKILL), as a crashed pod, and waits.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// exited is an error with the end of its log once the process has exited, else nil.
func (p *Process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v); its log ends with:\n%s", p.Name, p.err, p.Tail(30))
	default:
		return nil
	}
}

// Log is the process' whole output so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// Tail is the last n lines of the process' output.
func (p *Process) Tail(n int) string {
	l := strings.Split(strings.TrimRight(p.Log(), "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// runCommand runs cmd to completion within timeout (the whole process group is killed
// past it) and returns its standard output and standard error.
func runCommand(ctx context.Context, timeout time.Duration, cmd *exec.Cmd) (stdout, stderr string, err error) {
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.SysProcAttr = group(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		err = fmt.Errorf("%s did not finish within %s", strings.Join(cmd.Args, " "), timeout)
	}
	if err != nil {
		err = fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, tailOf(errOut.String()+out.String(), 40))
	}
	return out.String(), errOut.String(), err
}

func tailOf(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// waitFor polls check every 100ms until it succeeds, p (when set) exits, or timeout passes.
func waitFor(ctx context.Context, p *Process, timeout time.Duration, what string, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := check()
		if err == nil {
			return nil
		}
		if p != nil {
			if perr := p.exited(); perr != nil {
				return fmt.Errorf("waiting for %s: %w", what, perr)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: still failing after %s: %w", what, timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// httpOK is nil when GET url answers 200.
func httpOK(url string) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a moment ago (all
// listeners are held until every port is chosen, so they differ).
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func loopback(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// errMissing lists what is not installed.
var errMissing = errors.New("not installed (hack/install-deps.sh installs it)")
