package stack

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/agent"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
)

// loadPages is how many person pages the load cycles through (all cached after one round).
const loadPages = 100

// testDayTwo changes the running stack under continuous load (wrk and a Go client loop for
// the whole test): a cache TTL rule, HAProxy's rate limit and client timeout, the cache
// Redis' memory and eviction policy, and a VCL the compiler refuses. The agents apply each
// change in place; no request fails, no connection is reset, no daemon restarts and the
// cache keeps its hit ratio.
func testDayTwo(ctx context.Context, t *testing.T, s *Stack) {
	var paths []string
	for i := 1; i <= loadPages; i++ {
		paths = append(paths, fmt.Sprintf("/people/%d/", i))
	}
	paths = append(paths, "/stock/")
	wrk := startWrk(t, s)
	load := StartTraffic("http://"+s.Frontend, paths, 4)
	stopped := false
	stop := func() (Counts, wrkResult) {
		stopped = true
		return load.Stop(), wrk.stop(t)
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	// Warm the cache: every page once, then a window at a steady hit ratio.
	if err := waitFor(ctx, nil, 60*time.Second, "a warm cache (hit ratio above 95% over 1s)", func() error {
		if w := load.Window(time.Second); w.HitRatio() < 95 {
			return fmt.Errorf("%s", w)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	varnishPID, haproxyPID := s.Varnishd.cmd.Process.Pid, s.HAProxy.cmd.Process.Pid
	childUptime := varnishUptime(t, s)
	childSince := time.Now()

	t.Run("a cache TTL rule changes in the running varnishd: same process, same cache", func(t *testing.T) {
		before := load.Window(3 * time.Second)
		const newTTL = 15 * time.Minute
		if err := s.Update(func(ws *v1alpha1.WebStack) { setRuleTTL(t, ws, "/people/", newTTL) }); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		st, err := s.Agents["varnish"].WaitFor(ctx, false, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		applied := time.Since(start)
		after := load.Window(3 * time.Second)
		t.Logf("before: %s; applied in %s; after: %s", before, applied.Round(10*time.Millisecond), after)
		if d := before.HitRatio() - after.HitRatio(); d > 2 || d < -2 {
			t.Errorf("hit ratio %.1f%% before, %.1f%% after the new VCL: the cache did not survive", before.HitRatio(), after.HitRatio())
		}
		if before.Failed+after.Failed != 0 {
			t.Errorf("%d failed requests around the VCL change: %v", before.Failed+after.Failed, load.Errors())
		}
		cli := varnishCLI(t, s)
		vcls, err := cli.VCLs()
		if err != nil {
			t.Fatal(err)
		}
		var active string
		for _, v := range vcls {
			if v.State == "active" {
				active = v.Name
			}
		}
		if want := agent.VCLName(st.Applied); active != want || len(vcls) > 2 {
			t.Errorf("vcl.list %+v: want at most 2 VCLs with %s active", vcls, want)
		}
		if status, body, err := cli.Do("vcl.show " + active); err != nil || status != 200 || !strings.Contains(body, "set beresp.ttl = 900s;") {
			t.Errorf("vcl.show %s (%d, %v) has no 900s TTL:\n%s", active, status, err, body)
		}
		if pid := s.Varnishd.cmd.Process.Pid; pid != varnishPID || s.Varnishd.exited() != nil {
			t.Errorf("varnishd's manager is %d, was %d (exited: %v)", pid, varnishPID, s.Varnishd.exited())
		}
		if up := varnishUptime(t, s); up < childUptime+time.Since(childSince).Seconds()-2 {
			t.Errorf("varnishd's child has been up %.0fs, was %.0fs %s ago: it restarted (the cache is gone)", up, childUptime, time.Since(childSince).Round(time.Second))
		}
	})

	t.Run("HAProxy's rate limit and client timeout change by a hitless reload", func(t *testing.T) {
		before, err := agent.ShowProc(ctx, s.HAProxyMaster)
		if err != nil {
			t.Fatal(err)
		}
		if table := haproxyTable(t, ctx, s); strings.Contains(table, "http_req_rate(") {
			t.Fatalf("the public frontend counts request rates before the change:\n%s", table)
		}
		counts := load.Counts()
		if err := s.Update(func(ws *v1alpha1.WebStack) {
			ws.Spec.LoadBalancer.RateLimit.RequestsPerSecond = 100000
			ws.Spec.LoadBalancer.Timeouts.Client = &metav1.Duration{Duration: 45 * time.Second}
		}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(s.Plan.Configs.HAProxy, "timeout client 45s") || !strings.Contains(s.Plan.Configs.HAProxy, "gt 100000") {
			t.Fatalf("the new haproxy.cfg has not the new timeout and rate limit:\n%s", s.Plan.Configs.HAProxy)
		}
		if _, err := s.Agents["haproxy"].WaitFor(ctx, false, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		after, err := agent.ShowProc(ctx, s.HAProxyMaster)
		if err != nil {
			t.Fatal(err)
		}
		w := load.Window(2 * time.Second)
		t.Logf("show proc before %+v, after %+v; load around the reload: %s", before, after, load.Counts().Sub(counts))
		if after.Reloads <= before.Reloads || after.Failed != 0 || len(after.Workers) == 0 || sameInts(after.Workers, before.Workers) {
			t.Errorf("no new worker generation after the reload: before %+v, after %+v", before, after)
		}
		if pid := s.HAProxy.cmd.Process.Pid; pid != haproxyPID || s.HAProxy.exited() != nil {
			t.Errorf("haproxy's master is %d, was %d (exited: %v)", pid, haproxyPID, s.HAProxy.exited())
		}
		if table := haproxyTable(t, ctx, s); !strings.Contains(table, "http_req_rate(") {
			t.Errorf("the new worker counts no request rates: the new config is not in effect:\n%s", table)
		}
		if d := load.Counts().Sub(counts); d.Failed != 0 || d.Reset != 0 || w.Requests == 0 {
			t.Errorf("around the reload: %s: %v", d, load.Errors())
		}
	})

	t.Run("the cache Redis takes a new maxmemory and policy with CONFIG SET: same process", func(t *testing.T) {
		runID := redisInfo(t, ctx, s, "run_id")
		if err := s.Update(func(ws *v1alpha1.WebStack) {
			ws.Spec.Redis.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}}
			ws.Spec.Redis.MaxMemoryPolicy = "allkeys-lfu"
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Agents["redis"].WaitFor(ctx, false, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"maxmemory": strconv.FormatInt(s.Tuning.Redis.MaxMemoryMiB<<20, 10), "maxmemory-policy": "allkeys-lfu"}
		if want["maxmemory"] != strconv.Itoa(384<<20) {
			t.Fatalf("tuning gives maxmemory %s for 512Mi, want 384Mi", want["maxmemory"])
		}
		for key, v := range want {
			got, err := s.Cache.ConfigGet(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got[key] != v {
				t.Errorf("CONFIG GET %s = %q, want %q", key, got[key], v)
			}
		}
		if id := redisInfo(t, ctx, s, "run_id"); id != runID {
			t.Errorf("Redis run_id %s, was %s: it restarted", id, runID)
		}
	})

	t.Run("a VCL the compiler refuses is reported and never used; the old one keeps serving", func(t *testing.T) {
		good := s.Plan.Configs.VCL
		running := agent.Hash([]byte(good))
		counts := load.Counts()
		if err := s.WriteConfig(render.FileVCL, good+"\nsub vcl_recv { this is not VCL }\n"); err != nil {
			t.Fatal(err)
		}
		a := s.Agents["varnish"]
		st, err := a.WaitFor(ctx, true, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		w := load.Window(2 * time.Second)
		t.Logf("status %+v; load: %s", st, w)
		if st.Applied != running || !strings.Contains(st.Message, "VCL compilation failed") {
			t.Errorf("status %+v: want %s still applied and the compiler's message", st, running)
		}
		if !strings.Contains(a.Log(), "config refused") {
			t.Errorf("the agent's log has no refusal:\n%s", a.Tail(5))
		}
		vcls, err := varnishCLI(t, s).VCLs()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vcls {
			if v.State == "active" && v.Name != agent.VCLName(running) {
				t.Errorf("active VCL %s, want the last good %s", v.Name, agent.VCLName(running))
			}
		}
		if d := load.Counts().Sub(counts); d.Failed != 0 || w.HitRatio() < 95 {
			t.Errorf("while the refused VCL is mounted: %s: %v", d, load.Errors())
		}
		// Back to the good one: the refusal clears.
		if err := s.WriteConfig(render.FileVCL, good); err != nil {
			t.Fatal(err)
		}
		if err := a.WaitSettled(ctx, 10*time.Second); err != nil {
			t.Error(err)
		}
	})

	t.Run("a haproxy.cfg HAProxy refuses is reported; the old workers keep serving", func(t *testing.T) {
		good := s.Plan.Configs.HAProxy
		before, err := agent.ShowProc(ctx, s.HAProxyMaster)
		if err != nil {
			t.Fatal(err)
		}
		counts := load.Counts()
		if err := s.WriteConfig(render.FileHAProxy, good+"\nfrontend broken\n    this is not haproxy\n"); err != nil {
			t.Fatal(err)
		}
		a := s.Agents["haproxy"]
		st, err := a.WaitFor(ctx, true, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		w := load.Window(2 * time.Second)
		after, err := agent.ShowProc(ctx, s.HAProxyMaster)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("status %+v; show proc before %+v, after %+v; load: %s", st, before, after, w)
		if !sameInts(after.All, before.All) || after.Failed == 0 {
			t.Errorf("workers %v, were %v (failed reloads %d): want the old workers, still serving", after.All, before.All, after.Failed)
		}
		if d := load.Counts().Sub(counts); d.Failed != 0 || d.Reset != 0 || w.Requests == 0 {
			t.Errorf("while the refused haproxy.cfg is mounted: %s: %v", d, load.Errors())
		}
		if err := s.WriteConfig(render.FileHAProxy, good); err != nil {
			t.Fatal(err)
		}
		if err := a.WaitSettled(ctx, 10*time.Second); err != nil {
			t.Error(err)
		}
	})

	t.Run("PostgreSQL reloads work_mem and log_min_duration_statement; shared_buffers waits for the roll", func(t *testing.T) {
		sql := func(q string) string {
			t.Helper()
			out, err := s.SQL(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		started := sql("SELECT pg_postmaster_start_time()")
		a := s.Agents["postgres"]
		if err := s.Update(func(ws *v1alpha1.WebStack) {
			ws.Spec.Database.Parameters = map[string]v1alpha1.ParameterValue{"work_mem": "48MB", "log_min_duration_statement": "250"}
		}); err != nil {
			t.Fatal(err)
		}
		st, err := a.WaitFor(ctx, false, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for q, want := range map[string]string{"SHOW work_mem": "48MB", "SHOW log_min_duration_statement": "250ms", "SELECT pg_postmaster_start_time()": started} {
			if got := sql(q); got != want {
				t.Errorf("%s = %q, want %q", q, got, want)
			}
		}
		if len(st.PendingRestart) != 0 {
			t.Errorf("pending a restart: %v, want none", st.PendingRestart)
		}

		oldBuffers := sql("SHOW shared_buffers")
		if err := s.Update(func(ws *v1alpha1.WebStack) {
			ws.Spec.Database.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}}
		}); err != nil {
			t.Fatal(err)
		}
		if st, err = a.WaitFor(ctx, false, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		newBuffers := fmt.Sprintf("%dMB", s.Tuning.Database.SharedBuffersMiB)
		t.Logf("shared_buffers %s -> %s: status %+v", oldBuffers, newBuffers, st)
		if !slices.Contains(st.PendingRestart, "shared_buffers") {
			t.Errorf("pending a restart: %v, want shared_buffers", st.PendingRestart)
		}
		if got := sql("SHOW shared_buffers"); got != oldBuffers || sql("SELECT pg_postmaster_start_time()") != started {
			t.Errorf("shared_buffers %s before the restart, want the old %s; or the server restarted", got, oldBuffers)
		}
		// The roll: the pod template's hash covers shared_buffers; a new pod starts with it.
		if err := s.RestartPostgres(ctx, s.Credentials); err != nil {
			t.Fatal(err)
		}
		if got := sql("SHOW shared_buffers"); got != newBuffers {
			t.Errorf("shared_buffers %s after the restart, want %s", got, newBuffers)
		}
		// Each app thread's persistent connection to the old server fails once (a 500): let
		// them reconnect before the next test, which counts every answer.
		drainStaleConnections(t, s)
		if err := a.WaitSettled(ctx, 10*time.Second); err != nil {
			t.Error(err)
		}
	})

	total, w := stop()
	t.Logf("whole day-2 test under load: Go clients %s; wrk %s; varnishd, haproxy and Redis never restarted", total, w)
	if total.Failed != 0 || total.Reset != 0 {
		t.Errorf("Go clients: %s: %v", total, load.Errors())
	}
	if w.Requests == 0 || w.Errors != 0 || w.Non2xx != 0 {
		t.Errorf("wrk: %s\n%s", w, w.Output)
	}
	for _, p := range []*Process{s.Varnishd, s.HAProxy, s.Cache.Process} {
		if err := p.exited(); err != nil {
			t.Error(err)
		}
	}
}

// setRuleTTL sets the TTL of the cache rule with pathPrefix prefix.
func setRuleTTL(t *testing.T, ws *v1alpha1.WebStack, prefix string, ttl time.Duration) {
	t.Helper()
	for i := range ws.Spec.Cache.Rules {
		if ws.Spec.Cache.Rules[i].PathPrefix == prefix {
			ws.Spec.Cache.Rules[i].TTL = &metav1.Duration{Duration: ttl}
			return
		}
	}
	t.Fatalf("the sample has no cache rule for %s", prefix)
}

func varnishCLI(t *testing.T, s *Stack) *agent.VarnishCLI {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := agent.DialVarnish(ctx, s.VarnishAdmin, s.VarnishSecret)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// varnishUptime is MAIN.uptime, the seconds varnishd's child (which holds the cache) has run.
func varnishUptime(t *testing.T, s *Stack) float64 {
	t.Helper()
	out, err := exec.Command("varnishstat", "-n", filepath.Join(s.Dir, "varnish"), "-1", "-f", "MAIN.uptime").Output()
	if err != nil {
		t.Fatalf("varnishstat: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		t.Fatalf("varnishstat: %q", out)
	}
	v, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		t.Fatalf("varnishstat: %q", out)
	}
	return v
}

// haproxyTable is the current worker's stick table of the public frontend (its entries
// show what it stores), through the master CLI.
func haproxyTable(t *testing.T, ctx context.Context, s *Stack) string {
	t.Helper()
	out, err := agent.MasterCommand(ctx, s.HAProxyMaster, "@1 show table public")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func redisInfo(t *testing.T, ctx context.Context, s *Stack, key string) string {
	t.Helper()
	info, err := s.Cache.InfoMap(ctx, "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	return info["Server"][key]
}

func sameInts(a, b []int) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// wrk is a wrk process cycling through the person pages until stopped.
type wrk struct {
	cmd *exec.Cmd
	out strings.Builder
}

// wrkResult is what wrk counted, and its whole output.
type wrkResult struct {
	Requests, Non2xx, Errors int64
	Output                   string
}

func (r wrkResult) String() string {
	return fmt.Sprintf("%d requests, %d non-2xx, %d socket errors", r.Requests, r.Non2xx, r.Errors)
}

const wrkScript = `counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/people/" .. (counter %% %d + 1) .. "/")
end
`

func startWrk(t *testing.T, s *Stack) *wrk {
	t.Helper()
	bin, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatalf("wrk is not installed (hack/install-deps.sh): %v", err)
	}
	script := filepath.Join(s.Dir, "pages.lua")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(wrkScript, loadPages)), 0o644); err != nil {
		t.Fatal(err)
	}
	w := &wrk{cmd: exec.Command(bin, "-t1", "-c4", "-d10m", "--timeout", "30s", "-s", script, "http://"+s.Frontend)}
	w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return w
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkErrors   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// stop interrupts wrk (it prints its summary on SIGINT) and reads the summary.
func (w *wrk) stop(t *testing.T) wrkResult {
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	_ = w.cmd.Wait()
	r := wrkResult{Output: w.out.String()}
	atoi := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	if m := wrkRequests.FindStringSubmatch(r.Output); m != nil {
		r.Requests = atoi(m[1])
	}
	if m := wrkNon2xx.FindStringSubmatch(r.Output); m != nil {
		r.Non2xx = atoi(m[1])
	}
	if m := wrkErrors.FindStringSubmatch(r.Output); m != nil {
		r.Errors = atoi(m[1]) + atoi(m[2]) + atoi(m[3]) + atoi(m[4])
	}
	return r
}

// drainStaleConnections sends passed requests (no cache) through HAProxy until 20 in a row
// answer 200: after a PostgreSQL restart, each app thread's old connection fails once.
func drainStaleConnections(t *testing.T, s *Stack) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	ok := 0
	for i := 0; ok < 20; i++ {
		if i > 200 {
			t.Fatalf("the app still fails after %d requests", i)
		}
		resp, err := c.Get(fmt.Sprintf("http://%s/api/people/%d/", s.Frontend, 1+i%5))
		if err == nil {
			resp.Body.Close()
		}
		if err == nil && resp.StatusCode == http.StatusOK {
			ok++
		} else {
			ok = 0
		}
	}
}
