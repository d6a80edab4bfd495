// Command bench measures the webstack-operator manager against an offline control plane
// (envtest's kube-apiserver and etcd) and writes docs/benchmarks.md and docs/benchmarks.json.
// `make bench` runs it from the repository's root:
//
//	go run ./hack/bench                                   # the full benchmark (about 29 min on 2 cores)
//	go run ./hack/bench -sizes 1,10 -runs 1,1 -idle 10s -unrelated 0 -baseline-sizes "" \
//	    -floor-sizes 10 -out /tmp/bench.md -json /tmp/bench.json   # a quick try
//
// The manager is built from this repository (go build ./cmd/webstack-operator) and runs as
// its own process with its own user, webstack-operator-bench (group system:masters), so
// every request it makes is counted on the API server's side, from the audit log. Each run
// starts a fresh control plane; the harness plays the Job controller (envtest runs none).
// The floor (floor.go) measures the same writes made by a bare client with no operator.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

type config struct {
	sizes, runs  []int
	namespaces   int
	idle         time.Duration
	quiet        time.Duration
	settle       time.Duration
	phaseTimeout time.Duration
	// baselineSizes are the sizes whose first run also measures --skip-unchanged=false.
	baselineSizes []int
	baselineIdle  time.Duration
	// profileAt is the size whose first run serves the manager's pprof: the harness takes CPU
	// profiles of the manager and kube-apiserver for 30 s once a quarter of the WebStacks are
	// created, and a heap profile after creation (0: none).
	profileAt int
	unrelated int
	// memoryLimit is the manager's memory cgroup limit in bytes (0: none).
	memoryLimit int64
	unrelatedAt int
	// floorSizes are the sizes the bare client's floor is measured at (floor.go).
	floorSizes []int
	// floorHeadless are the floor's sizes also measured with headlessVariant.
	floorHeadless []int
	whatIf        []whatIf
	out, jsonOut  string
	tmp           string
	keep          bool
	// fromJSON re-renders the report from saved results instead of measuring.
	fromJSON string
}

// whatIf is a run with the harness's variant manager: same reconciler, extra flags.
type whatIf struct {
	n     int
	flags []string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == variantCommand {
		os.Exit(runVariant(os.Args[2:]))
	}
	log.SetFlags(log.Ltime)
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	sizes := fs.String("sizes", "1,100,1000", "numbers of WebStacks, one run series each")
	runs := fs.String("runs", "3,3,1", "runs per size (medians are reported), one number per size")
	fs.IntVar(&cfg.namespaces, "namespaces", 10, "namespaces the WebStacks are spread over")
	fs.DurationVar(&cfg.idle, "idle", 60*time.Second, "the steady-state window after convergence")
	fs.DurationVar(&cfg.quiet, "quiet", 3*time.Second, "how long without a request from the manager (and nothing queued) counts as converged")
	fs.DurationVar(&cfg.settle, "settle", 10*time.Second, "wait after a restart converged before reading its idle memory (unrelated-objects check)")
	fs.DurationVar(&cfg.phaseTimeout, "phase-timeout", 10*time.Minute, "give up on a phase after this long")
	baselineSizes := fs.String("baseline-sizes", "1,100", "sizes whose first run also measures the manager with --skip-unchanged=false (restart, idle, change); empty: none")
	fs.DurationVar(&cfg.baselineIdle, "baseline-idle", 30*time.Second, "the baseline's idle window")
	fs.IntVar(&cfg.profileAt, "profile-at", 1000, "the size whose first run (and what-if run) takes CPU profiles of the manager and kube-apiserver from a quarter of the way through creation, and a heap profile after it (0: none)")
	memoryLimit := fs.String("memory-limit", "320Mi", "run the manager in a memory cgroup of this size, as the Helm chart's default container limit (resources.limits.memory); 0: no limit")
	fs.IntVar(&cfg.unrelated, "unrelated", 10000, "unrelated ConfigMaps, and as many Secrets, for the memory check (0: skip)")
	fs.IntVar(&cfg.unrelatedAt, "unrelated-at", 100, "the size whose first run does the unrelated-objects check")
	floorSizes := fs.String("floor-sizes", "100,1000", "sizes at which a bare client, with no operator, makes the same writes (the API server's floor; a fresh control plane each); empty: none")
	floorHeadless := fs.String("floor-headless-sizes", "1000", "floor sizes also measured with the database, Redis and broker Services headless (a what-if of 2 ClusterIPs per stack instead of 5); empty: none")
	whatIfs := fs.String("what-if", "", "runs (creation and change) of a variant manager with flags the real one lacks: N:--flag=v,--flag=v;... (empty: none)")
	fs.StringVar(&cfg.out, "out", "docs/benchmarks.md", "the report: its section \""+reportSection+"\" is replaced (hack/report-section.sh), the rest kept")
	fs.StringVar(&cfg.jsonOut, "json", "docs/benchmarks.json", "the machine-readable results")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the work directory (audit logs, manager logs, profiles)")
	fs.StringVar(&cfg.fromJSON, "from-json", "", "only re-render -out (and -json) from the results in this file, measuring nothing")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	var err error
	if *memoryLimit != "0" && *memoryLimit != "" {
		q, err := resource.ParseQuantity(*memoryLimit)
		if err != nil {
			return cfg, fmt.Errorf("-memory-limit: %w", err)
		}
		cfg.memoryLimit = q.Value()
	}
	if cfg.sizes, err = ints(*sizes); err != nil {
		return cfg, fmt.Errorf("-sizes: %w", err)
	}
	if strings.TrimSpace(*baselineSizes) != "" {
		if cfg.baselineSizes, err = ints(*baselineSizes); err != nil {
			return cfg, fmt.Errorf("-baseline-sizes: %w", err)
		}
	}
	if strings.TrimSpace(*floorSizes) != "" {
		if cfg.floorSizes, err = ints(*floorSizes); err != nil {
			return cfg, fmt.Errorf("-floor-sizes: %w", err)
		}
	}
	if strings.TrimSpace(*floorHeadless) != "" {
		if cfg.floorHeadless, err = ints(*floorHeadless); err != nil {
			return cfg, fmt.Errorf("-floor-headless-sizes: %w", err)
		}
	}
	if cfg.runs, err = ints(*runs); err != nil {
		return cfg, fmt.Errorf("-runs: %w", err)
	}
	if len(cfg.runs) != len(cfg.sizes) {
		return cfg, fmt.Errorf("-runs needs one number per size (%d sizes)", len(cfg.sizes))
	}
	for _, s := range cfg.sizes {
		if s < 1 || s > 9999 {
			return cfg, fmt.Errorf("-sizes: %d is not in 1..9999", s)
		}
	}
	for _, spec := range strings.Split(*whatIfs, ";") {
		if strings.TrimSpace(spec) == "" {
			continue
		}
		n, flags, ok := strings.Cut(spec, ":")
		size, err := strconv.Atoi(strings.TrimSpace(n))
		if !ok || err != nil || size < 1 {
			return cfg, fmt.Errorf("-what-if %q: want N:--flag=value,...", spec)
		}
		cfg.whatIf = append(cfg.whatIf, whatIf{n: size, flags: strings.Split(flags, ",")})
	}
	return cfg, nil
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func run(cfg config) error {
	if cfg.fromJSON != "" {
		return rerender(cfg)
	}
	if _, err := os.Stat(filepath.Join("config", "crd", "bases")); err != nil {
		return fmt.Errorf("run from the repository's root (make bench does): %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	if cfg.tmp, err = os.MkdirTemp("", "webstack-bench-"); err != nil {
		return err
	}
	// envtest and client-go log through controller-runtime's logger: into the work directory.
	harnessLog, err := os.Create(filepath.Join(cfg.tmp, "harness.log"))
	if err != nil {
		return err
	}
	defer harnessLog.Close()
	ctrllog.SetLogger(zap.New(zap.WriteTo(harnessLog)))
	if cfg.keep {
		log.Printf("work directory: %s", cfg.tmp)
	} else {
		defer os.RemoveAll(cfg.tmp)
	}
	started := time.Now()
	machine := describeMachine()

	bin := filepath.Join(cfg.tmp, "webstack-operator")
	log.Printf("building the manager: go build -o %s ./cmd/webstack-operator", bin)
	build := exec.Command("go", "build", "-o", bin, "./cmd/webstack-operator")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the manager: %w", err)
	}
	samples, err := loadSamples(bin, cfg.tmp)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	manager := managerSpec{label: "manager", bin: bin, skipUnchanged: true, memoryLimit: cfg.memoryLimit}
	baseline := managerSpec{label: "baseline --skip-unchanged=false", bin: bin, skipUnchanged: false, memoryLimit: cfg.memoryLimit}
	var results []*runResult
	for i, n := range cfg.sizes {
		for rep := 1; rep <= cfg.runs[i]; rep++ {
			plan := runPlan{n: n, rep: rep, manager: manager, idle: true}
			plan.manager.pprof = rep == 1 && n == cfg.profileAt
			if rep == 1 && slices.Contains(cfg.baselineSizes, n) {
				plan.baseline = &baseline
			}
			if rep == 1 && n == cfg.unrelatedAt {
				plan.unrelated = cfg.unrelated
			}
			res, err := runOnce(ctx, cfg, samples, plan)
			if err != nil {
				return fmt.Errorf("run N=%d #%d: %w", n, rep, err)
			}
			results = append(results, res)
			logRun(res)
		}
	}
	for _, w := range cfg.whatIf {
		spec := managerSpec{label: "what-if " + strings.Join(w.flags, " "), bin: self, args: append([]string{variantCommand}, w.flags...), skipUnchanged: true, pprof: w.n == cfg.profileAt}
		res, err := runOnce(ctx, cfg, samples, runPlan{n: w.n, rep: 1, manager: spec})
		if err != nil {
			return fmt.Errorf("what-if run N=%d %v: %w", w.n, w.flags, err)
		}
		results = append(results, res)
		logRun(res)
	}
	var floors []*floorResult
	if len(cfg.floorSizes) > 0 {
		objs, err := renderFloor(bin, cfg.tmp, samples, "")
		if err != nil {
			return err
		}
		headless, err := renderFloor(bin, cfg.tmp, samples, headlessVariant)
		if err != nil {
			return err
		}
		for _, n := range cfg.floorSizes {
			variants := []string{""}
			if slices.Contains(cfg.floorHeadless, n) {
				variants = append(variants, headlessVariant)
			}
			for _, v := range variants {
				o := objs
				if v != "" {
					o = headless
				}
				res, err := floorRun(ctx, cfg, samples, o, n, v)
				if err != nil {
					return fmt.Errorf("floor N=%d %s: %w", n, v, err)
				}
				log.Printf("  floor %s: creation %.1fs, change %.1fs, errors %v", v, res.Creation.Timing.TotalSeconds, res.Change.Timing.TotalSeconds, res.Errors)
				floors = append(floors, res)
			}
		}
	}
	machine.LoadEnd = loadAverage()

	rep := buildReport(cfg, machine, samples, results, time.Since(started))
	rep.Floor = floors
	if err := writeReport(cfg, rep); err != nil {
		return err
	}
	log.Printf("wrote %s and %s in %s", cfg.out, cfg.jsonOut, time.Since(started).Round(time.Second))
	return nil
}

// rerender rebuilds the summaries, targets and Markdown from saved results.
func rerender(cfg config) error {
	raw, err := os.ReadFile(cfg.fromJSON)
	if err != nil {
		return err
	}
	var old report
	if err := json.Unmarshal(raw, &old); err != nil {
		return fmt.Errorf("%s: %w", cfg.fromJSON, err)
	}
	cfg.sizes, cfg.runs, cfg.namespaces = old.Settings.Sizes, old.Settings.Runs, old.Settings.Namespaces
	cfg.idle, cfg.quiet = time.Duration(old.Settings.IdleSeconds*float64(time.Second)), time.Duration(old.Settings.QuietSeconds*float64(time.Second))
	cfg.unrelated, cfg.unrelatedAt = old.Settings.Unrelated, old.Settings.UnrelatedAt
	cfg.baselineSizes, cfg.baselineIdle = old.Settings.BaselineSizes, time.Duration(old.Settings.BaselineIdleSeconds*float64(time.Second))
	rep := buildReport(cfg, old.Machine, nil, append(old.Runs, old.WhatIf...), time.Duration(old.DurationSeconds*float64(time.Second)))
	rep.Floor = old.Floor
	rep.Generated, rep.Children, rep.Affected = old.Generated, old.Children, old.Affected
	return writeReport(cfg, rep)
}

// reportSection is this benchmark's section of docs/benchmarks.md, which other benchmarks
// (make bench-stack) share.
const reportSection = "operator"

func writeReport(cfg config, rep *report) error {
	if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err != nil {
		return err
	}
	section, err := os.CreateTemp("", "bench-section-*.md")
	if err != nil {
		return err
	}
	defer os.Remove(section.Name())
	if _, err := section.WriteString(rep.markdown()); err != nil {
		section.Close()
		return err
	}
	if err := section.Close(); err != nil {
		return err
	}
	cmd := exec.Command("hack/report-section.sh", reportSection, section.Name(), cfg.out)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("hack/report-section.sh: %w", err)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(cfg.jsonOut, append(js, '\n'), 0o644)
}

func logRun(r *runResult) {
	if c := r.Creation; c != nil {
		log.Printf("  creation: %.1fs total, p50 %.2fs, p99 %.2fs, %d writes, peak RSS %s", c.Timing.TotalSeconds, c.Timing.P50, c.Timing.P99, c.Requests.Writes, mib(c.HWM))
	}
	if p := r.Idle; p != nil {
		log.Printf("  idle: %d writes, %d reads, RSS %s", p.Requests.Writes, p.Requests.Reads, mib(p.RSS))
	}
	if p := r.Restart; p != nil {
		log.Printf("  restart: %.1fs, %d writes, %d reads, HWM %s", p.Seconds, p.Requests.Writes, p.Requests.Reads, mib(p.HWM))
	}
	if c := r.Change; c != nil {
		log.Printf("  change: %.1fs total, %d writes", c.Timing.TotalSeconds, c.Requests.Writes)
	}
	if b := r.Baseline; b != nil && b.Restart != nil && b.Change != nil {
		log.Printf("  baseline: restart %d writes, change %.1fs %d writes", b.Restart.Requests.Writes, b.Change.Timing.TotalSeconds, b.Change.Requests.Writes)
	}
	if u := r.Unrel; u != nil {
		log.Printf("  unrelated: RSS %s -> %s", mib(u.RSSBefore), mib(u.RSSAfter))
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func describeMachine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadStart: loadAverage()}
	if l := firstLineWith("/proc/cpuinfo", "model name"); l != "" {
		_, v, _ := strings.Cut(l, ":")
		m.CPUModel = strings.TrimSpace(v)
	}
	if l := firstLineWith("/proc/meminfo", "MemTotal:"); l != "" {
		f := strings.Fields(l)
		if len(f) >= 2 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			m.MemoryGiB = kb / (1 << 20)
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		dirty, err := exec.Command("git", "status", "--porcelain", "--", "api", "controllers", "cmd", "internal", "config", "go.mod", "go.sum").Output()
		if err == nil && len(strings.TrimSpace(string(dirty))) > 0 {
			m.Commit += " + local changes"
		}
	}
	if assets, err := assetsDir(); err == nil {
		m.APIServer = commandVersion(filepath.Join(assets, "kube-apiserver"), "--version")
		m.Etcd = commandVersion(filepath.Join(assets, "etcd"), "--version")
	}
	return m
}

func commandVersion(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}
