package render

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Helpers that run the real daemons on loopback: binaries found or the test skipped
// (failed under CI=true), free ports, temp dirs, processes killed in t.Cleanup, bounded waits.

// daemon returns the path of a daemon's binary: the first of paths that exists, else name
// on PATH. A missing daemon skips the test, or fails it under CI=true.
func daemon(t testing.TB, name string, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s is not installed (hack/install-deps.sh installs it)", name)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// loopback is 127.0.0.1:port.
func loopback(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// sharedTempDir is a temp dir that other users (varnishd's and postgres' unprivileged
// users) can enter, removed at the end of the test.
func sharedTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "render-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// run runs a command to completion within timeout and returns its combined output.
func run(t testing.TB, timeout time.Duration, cmd *exec.Cmd) (string, error) {
	t.Helper()
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = withProcessGroup(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(timeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return out.String(), fmt.Errorf("%s did not finish within %s", cmd.Path, timeout)
	}
}

// withProcessGroup puts a command in its own process group, so that it and its children
// can be stopped together.
func withProcessGroup(a *syscall.SysProcAttr) *syscall.SysProcAttr {
	if a == nil {
		a = &syscall.SysProcAttr{}
	}
	a.Setpgid = true
	return a
}

// process is a daemon started by a test.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

// start starts a daemon in its own process group. At the end of the test it gets stop
// (then SIGKILL after 5 seconds), and its output is logged if the test failed.
func start(t testing.TB, name string, stop syscall.Signal, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = withProcessGroup(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, stop)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, p.out.String())
		}
	})
	return p
}

// exited returns an error if the process has exited.
func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v):\n%s", p.name, p.err, p.out.String())
	default:
		return nil
	}
}

// waitFor polls check until it succeeds, the process dies or timeout passes.
func waitFor(t testing.TB, p *process, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if p != nil {
			if perr := p.exited(); perr != nil {
				t.Fatalf("waiting for %s: %v", what, perr)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a process' output and the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines splits s into trimmed, non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// testApp is a tiny app server: it answers the health path, counts the requests of every
// other path, and tracks how many requests are in flight at once.
type testApp struct {
	addr string

	mu          sync.Mutex
	inFlight    int
	maxInFlight int
	requests    map[string]int
}

// startTestApp serves on a free loopback port until the end of the test. Paths:
//
//	healthPath    200 "ok", not counted
//	/slow/...     200 after 200ms (in-flight requests are tracked)
//	/static/...   200 with a Set-Cookie header
//	/set-cookie/  200 with a Set-Cookie header
//	/private/...  200 with Cache-Control: private
//	/headers/...  200 with the request's headers in the body, one "Name: value" line each,
//	              and the body's length as "Body-Length: n"
//	anything else 200, cacheable by default
func startTestApp(t testing.TB, healthPath string) *testApp {
	t.Helper()
	a := &testApp{requests: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == healthPath {
			io.WriteString(w, "ok\n")
			return
		}
		a.mu.Lock()
		a.requests[r.URL.Path]++
		a.mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/slow/"):
			a.mu.Lock()
			a.inFlight++
			a.maxInFlight = max(a.maxInFlight, a.inFlight)
			a.mu.Unlock()
			time.Sleep(200 * time.Millisecond)
			a.mu.Lock()
			a.inFlight--
			a.mu.Unlock()
		case strings.HasPrefix(r.URL.Path, "/static/"), strings.HasPrefix(r.URL.Path, "/set-cookie/"):
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "s3cr3t", Path: "/"})
		case strings.HasPrefix(r.URL.Path, "/private/"):
			w.Header().Set("Cache-Control", "private")
		case strings.HasPrefix(r.URL.Path, "/headers/"):
			w.Header().Set("Cache-Control", "no-store")
			n, _ := io.Copy(io.Discard, r.Body)
			for _, k := range slices.Sorted(maps.Keys(r.Header)) {
				for _, v := range r.Header[k] {
					fmt.Fprintf(w, "%s: %s\n", k, v)
				}
			}
			fmt.Fprintf(w, "Body-Length: %d\n", n)
			return
		}
		fmt.Fprintf(w, "%s from %s\n", r.URL.Path, a.addr)
	}))
	a.addr = srv.Listener.Addr().String()
	t.Cleanup(srv.Close)
	return a
}

// count is the number of requests the app got for path.
func (a *testApp) count(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests[path]
}

// peak is the most requests that were in flight at once.
func (a *testApp) peak() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.maxInFlight
}
