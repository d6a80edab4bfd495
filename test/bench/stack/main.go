// Command stack measures the local stack of the django-shop sample (package test/stack) and
// writes its section of docs/benchmarks.md: wrk on loopback against a cached page through
// HAProxy and Varnish, the same page straight from gunicorn and uncached through the stack,
// then the ORM comparisons of manage.py ormbench on 100k people. `make bench-stack` runs it
// (go run ./test/bench/stack) after hack/install-deps.sh.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/webstack-dev/webstack-operator/test/bench/report"
	"github.com/webstack-dev/webstack-operator/test/stack"
)

const wrkPath = "/usr/bin/wrk"

// The load and the data: wrk's threads and connections, the page it requests, and what
// manage.py seed and ormbench are given.
const (
	threads, connections       = 2, 32
	warmup                     = 2 * time.Second
	page                       = "/people/1/"
	people, authors, perAuthor = 100000, 1000, 10
	ormBooks                   = 1000
)

type config struct {
	root, out string
	runs      int
	duration  time.Duration
	pooling   string
}

func main() {
	var c config
	flag.StringVar(&c.root, "root", ".", "the repository root")
	flag.StringVar(&c.out, "out", "docs/benchmarks.md", "the report: its section \"stack\" is replaced, the rest kept")
	flag.IntVar(&c.runs, "runs", 5, "runs of each measurement (the report shows medians)")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "duration of one wrk run")
	flag.StringVar(&c.pooling, "pooling", "also", "the PgBouncer comparison (section \"pooling\"): also, only or skip")
	flag.Parse()
	if c.runs < 1 || c.runs > 20 || c.duration <= 0 || c.duration > time.Minute {
		fatal(errors.New("-runs must be 1 to 20 and -duration at most 1m"))
	}
	if !slices.Contains([]string{"also", "only", "skip"}, c.pooling) {
		fatal(errors.New("-pooling must be also, only or skip"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench-stack:", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-stack: "+format+"\n", args...)
}

// scenario is one way to the same page.
type scenario struct {
	name, why string
	url       string
	header    string // a wrk -H value, or ""
	results   []wrkResult
}

func run(ctx context.Context, c config) (err error) {
	if _, err := os.Stat(wrkPath); err != nil {
		return fmt.Errorf("%s: %w (hack/install-deps.sh installs wrk)", wrkPath, err)
	}
	if c.pooling != "skip" {
		defer func() {
			if err != nil {
				return
			}
			var section string
			if section, err = runPooling(ctx, c); err == nil {
				err = report.WriteSection(c.out, "pooling", section)
			}
		}()
		if c.pooling == "only" {
			return nil
		}
	}
	began := time.Now()
	machine := report.DescribeMachine()
	s, err := stack.Start(ctx, stack.Options{Root: c.root, People: people, Authors: authors, BooksPerAuthor: perAuthor, Logf: logf})
	if err != nil {
		return err
	}
	defer s.Stop()

	// The page must be a HIT through the stack before the cached runs.
	for range 2 {
		if err := get("http://" + s.Frontend + page); err != nil {
			return err
		}
	}
	scenarios := []*scenario{
		{name: "HAProxy → Varnish, cached (HIT)", why: "what clients get for a cached page", url: "http://" + s.Frontend + page},
		{name: "gunicorn directly (app-1)", why: "the app alone: Django, the Redis query cache, one instance", url: "http://" + s.Apps[0].Addr + page},
		{name: "HAProxy → Varnish → HAProxy → gunicorn, uncached", why: "a Cookie makes Varnish pass: the proxies' overhead over both instances", url: "http://" + s.Frontend + page, header: "Cookie: bench=1"},
	}
	for _, sc := range scenarios {
		logf("warming up: %s", sc.name)
		if _, err := wrk(ctx, c, sc, warmup); err != nil {
			return err
		}
	}
	// Interleaved, so that every path sees the same machine over time.
	for i := range c.runs {
		for _, sc := range scenarios {
			r, err := wrk(ctx, c, sc, c.duration)
			if err != nil {
				return err
			}
			logf("run %d/%d %s: %.0f req/s, p99 %s", i+1, c.runs, sc.name, r.rps, ms(r.p99))
			sc.results = append(sc.results, r)
		}
	}
	varnish := varnishCounters(s)

	logf("ORM comparisons (manage.py ormbench)")
	out, err := s.Manage(ctx, "ormbench", "--runs", strconv.Itoa(c.runs), "--books", strconv.Itoa(ormBooks))
	if err != nil {
		return err
	}
	var orm ormResult
	if err := json.Unmarshal([]byte(out), &orm); err != nil {
		return fmt.Errorf("ormbench: %w\n%s", err, out)
	}
	machine.LoadEnd = report.LoadAverage()
	if err := report.WriteSection(c.out, "stack", writeReport(c, s, machine, scenarios, varnish, orm, time.Since(began))); err != nil {
		return err
	}
	logf("wrote %s in %s", c.out, time.Since(began).Round(time.Second))
	return nil
}

func get(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// wrkResult is one wrk run; errors are non-2xx/3xx responses and socket errors.
type wrkResult struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
}

// wrkArgs are the arguments of one wrk run.
func wrkArgs(sc *scenario, d time.Duration) []string {
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(connections), "-d" + d.String(), "--timeout", "10s", "--latency"}
	if sc.header != "" {
		args = append(args, "-H", sc.header)
	}
	return append(args, sc.url)
}

var (
	reRPS     = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	reLatency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s|m)\s*$`)
	// reErrors are the non-2xx/3xx responses and the socket errors.
	reErrors = regexp.MustCompile(`Non-2xx or 3xx responses: ([0-9]+)|Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)`)
)

func wrk(ctx context.Context, c config, sc *scenario, d time.Duration) (wrkResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, wrkPath, wrkArgs(sc, d)...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s", sc.url, err, out)
	}
	var r wrkResult
	m := reRPS.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk printed no Requests/sec:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, m := range reLatency.FindAllSubmatch(out, -1) {
		d, _ := time.ParseDuration(string(m[2]) + string(m[3]))
		if string(m[1]) == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	for _, m := range reErrors.FindAllSubmatch(out, -1) {
		for _, f := range m[1:] {
			n, _ := strconv.Atoi(string(f))
			r.errors += n
		}
	}
	return r, nil
}

// varnishCounters are varnishstat's hit, miss and pass counters, or nil without varnishstat.
func varnishCounters(s *stack.Stack) map[string]int64 {
	out, err := exec.Command("varnishstat", "-n", filepath.Join(s.Dir, "varnish"), "-1", "-f", "MAIN.cache_hit", "-f", "MAIN.cache_miss", "-f", "MAIN.s_pass").Output()
	if err != nil {
		return nil
	}
	counters := map[string]int64{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 {
			counters[strings.TrimPrefix(f[0], "MAIN.")], _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return counters
}

// ormResult is manage.py ormbench's output.
type ormResult struct {
	People  int `json:"people"`
	Books   int `json:"books"`
	Matches int `json:"matches"`
	Rows    []struct {
		Group    string    `json:"group"`
		Variant  string    `json:"variant"`
		MsMedian float64   `json:"ms_median"`
		MsRuns   []float64 `json:"ms_runs"`
		Queries  int       `json:"queries"`
	} `json:"rows"`
}

func writeReport(c config, s *stack.Stack, m report.Machine, scenarios []*scenario, varnish map[string]int64, orm ormResult, took time.Duration) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	t := s.Tuning
	p("# Benchmarks: the whole stack on one machine\n\n")
	p("Written by `make bench-stack` (`go run ./test/bench/stack`, source in [test/bench/stack](../test/bench/stack)) on %s; the run took %s.\n",
		time.Now().UTC().Format("2006-01-02"), took.Round(time.Second))
	p("Everything runs on loopback on this one machine, wrk included, so the numbers compare the paths with each other;\n")
	p("they are not what a cluster with one core per component would serve.\n\n")

	p("## Machine\n\n")
	p("| | |\n| --- | --- |\n")
	p("| CPU | %s, %d cores (`nproc`) |\n", m.CPUModel, m.CPUs)
	p("| memory | %.1f GiB |\n", m.MemoryGiB)
	p("| OS | Debian %s, kernel %s |\n", firstLine(readFile("/etc/debian_version")), m.Kernel)
	p("| daemons | %s; %s; %s; %s |\n", firstLine(output(stack.HAProxy, "-v")), firstLine(output(stack.Varnishd, "-V")),
		firstLine(output(stack.RedisSrv, "--version")), firstLine(output(filepath.Join(stack.PGBinDir, "postgres"), "--version")))
	p("| app | %s |\n", firstLine(output(stack.Python, "-c",
		"import sys, django, gunicorn, celery, psycopg2; print('Python %s, Django %s, gunicorn %s, Celery %s, psycopg2 %s' % (sys.version.split()[0], django.get_version(), gunicorn.__version__, celery.__version__, psycopg2.__version__.split()[0]))")))
	p("| load generator | %s |\n", firstLine(output(wrkPath, "-v")))
	p("| load average | before the stack started (other work on the machine): %s; right after the last measurement (this benchmark's own load included): %s |\n\n", m.LoadStart, m.LoadEnd)

	p("## What ran\n\n")
	p("The stack of `%s`, started as `make test-stack` starts it (package `test/stack`): every config rendered by the operator\n", stack.SampleFile)
	p("with static discovery on loopback, the app with the environment the operator gives it.\n\n")
	p("- %d gunicorn instances × %d workers × %d threads (`GUNICORN_CMD_ARGS=%s`, bind overridden per instance), access log on\n",
		len(s.Apps), t.App.WorkersPerPod, t.App.ThreadsPerWorker, s.AppEnv("GUNICORN_CMD_ARGS"))
	p("- HAProxy: nbthread %d, maxconn %d per app server (queue beyond), leastconn; logs every request to stdout\n", t.LoadBalancer.Threads, t.LoadBalancer.ServerMaxConnections)
	p("- Varnish: malloc %d MiB, rule `/people/` ttl 10m\n", t.Cache.StorageMiB)
	p("- PostgreSQL 15: shared_buffers %d MiB, work_mem %d MiB, max_connections %d\n", t.Database.SharedBuffersMiB, t.Database.WorkMemMiB, t.Database.MaxConnections)
	p("- data: `manage.py seed --people %d --authors %d --books-per-author %d` (%d people, %d books)\n\n", people, authors, perAuthor, orm.People, orm.Books)

	p("## One page, three paths\n\n")
	p("`GET %s` (a person's page: the row comes from the Redis query cache after the first request), wrk with %d threads and %d connections,\n", page, threads, connections)
	p("%s per run, %d runs interleaved path by path after a %s warm-up each; medians, with the range of the runs.\n\n", c.duration, c.runs, warmup)
	p("| path | req/s | p50 | p99 | req/s range | errors |\n| --- | ---: | ---: | ---: | --- | ---: |\n")
	med := map[string]float64{}
	for _, sc := range scenarios {
		var rps []float64
		var p50, p99 []time.Duration
		errs := 0
		for _, r := range sc.results {
			rps, p50, p99 = append(rps, r.rps), append(p50, r.p50), append(p99, r.p99)
			errs += r.errors
		}
		med[sc.name] = report.Median(rps)
		p("| %s | %.0f | %s | %s | %.0f–%.0f | %d |\n", sc.name, med[sc.name], ms(report.Median(p50)), ms(report.Median(p99)), slices.Min(rps), slices.Max(rps), errs)
	}
	cached, direct, uncached := med[scenarios[0].name], med[scenarios[1].name], med[scenarios[2].name]
	p("\n")
	if direct > 0 {
		p("- The cached page through both proxies serves **%.1f×** the requests of gunicorn alone.\n", cached/direct)
		p("- Uncached through the stack: %.0f%% of gunicorn alone's rate (the stack spreads over both instances; the proxies compete for the same cores).\n", 100*uncached/direct)
	}
	p("- Straight to gunicorn, all %d connections land on one instance's %d threads and queue inside it; through the stack HAProxy\n", connections, t.App.WorkersPerPod*t.App.ThreadsPerWorker)
	p("  sends each instance at most %d requests at once (serverMaxConnections) and queues the rest itself, over both instances.\n", t.LoadBalancer.ServerMaxConnections)
	if varnish != nil {
		p("- varnishstat over the whole run: %d hits, %d misses, %d passes.\n", varnish["cache_hit"], varnish["cache_miss"], varnish["s_pass"])
	}
	p("\nThe commands, with the ports of this run (each run picks free ports):\n\n```sh\n")
	for _, sc := range scenarios {
		args := wrkArgs(sc, c.duration)
		for i, a := range args {
			if strings.Contains(a, " ") {
				args[i] = "'" + a + "'"
			}
		}
		p("wrk %s\n", strings.Join(args, " "))
	}
	p("```\n\n")

	p("## ORM on %d people\n\n", orm.People)
	p("`manage.py ormbench --runs %d --books %d` (examples/django-shop/catalog/management/commands/ormbench.py): each way timed in\n", c.runs, ormBooks)
	p("Django on the live database, median of %d runs after one warm-up; queries counted with CaptureQueriesContext.\n\n", c.runs)
	p("| question | way | median ms | queries | runs (ms) |\n| --- | --- | ---: | ---: | --- |\n")
	for _, r := range orm.Rows {
		runs := make([]string, len(r.MsRuns))
		for i, v := range r.MsRuns {
			runs[i] = strconv.FormatFloat(v, 'f', 1, 64)
		}
		p("| %s | `%s` | %.1f | %d | %s |\n", r.Group, r.Variant, r.MsMedian, r.Queries, strings.Join(runs, ", "))
	}
	p("\nThe JSONB query matches %d of %d people; \"no index\" drops `person_profile_gin` inside a transaction that is rolled back.\n\n", orm.Matches, orm.People)

	p("## Repeat it\n\n```sh\nhack/install-deps.sh   # Debian packages: daemons, wrk, Django, gunicorn, Celery\nmake bench-stack       # about %.0f minutes; writes this section of %s\n", max(1, took.Minutes()), c.out)
	p("go run ./test/bench/stack -runs %d -duration %s   # the same, with the flags of this run\n```\n\n", c.runs, c.duration)
	p("Start timeline of this run:\n\n```\n%s\n```\n", strings.Join(s.Timeline, "\n"))
	return b.String()
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func output(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	return string(out)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}
