// Command operator measures the webstack-operator manager against an offline control plane
// (envtest's kube-apiserver and etcd) and writes its section of docs/benchmarks.md and
// docs/benchmarks.json. `make bench` runs it from the repository's root:
//
//	go run ./test/bench/operator                          # the full benchmark (about 23 min on 2 cores)
//	go run ./test/bench/operator -sizes 1,10 -runs 1,1 -idle 10s -unrelated 0 \
//	    -floor-sizes 10 -profile-at 10 -out /tmp/bench.md -json /tmp/bench.json   # a quick try
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/webstack-dev/webstack-operator/test/bench/report"
)

type config struct {
	sizes, runs  []int
	namespaces   int
	idle, quiet  time.Duration
	settle       time.Duration
	phaseTimeout time.Duration
	// profileAt is the size whose first run serves the manager's pprof (0: none).
	profileAt int
	// memoryLimit is the chart's container memory limit, in bytes (0: none).
	memoryLimit            int64
	unrelated, unrelatedAt int
	// floorSizes are the sizes the bare client's floor is measured at (floor.go).
	floorSizes   []int
	out, jsonOut string
	tmp          string
	keep         bool
	// fromJSON re-renders the report from saved results instead of measuring.
	fromJSON string
}

func main() {
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
	runs := fs.String("runs", "3,3,1", "runs per size (the median run is reported), one number per size")
	fs.IntVar(&cfg.namespaces, "namespaces", 10, "namespaces the WebStacks are spread over")
	fs.DurationVar(&cfg.idle, "idle", 60*time.Second, "the steady-state window after convergence")
	fs.DurationVar(&cfg.quiet, "quiet", 3*time.Second, "how long without a request from the manager (and nothing queued) counts as converged")
	fs.DurationVar(&cfg.settle, "settle", 10*time.Second, "wait after a restart converged before reading its memory (unrelated-objects check)")
	fs.DurationVar(&cfg.phaseTimeout, "phase-timeout", 10*time.Minute, "give up on a phase after this long")
	fs.IntVar(&cfg.profileAt, "profile-at", 1000, "the size whose first run takes 30 s CPU profiles of the manager and kube-apiserver (creation from a quarter of the way, change from its start) and a heap profile after creation (0: none)")
	memoryLimit := fs.String("memory-limit", "320Mi", "the Helm chart's default container limit (resources.limits.memory): the manager runs with GOMEMLIMIT at 0.75 of it, as in its container; 0: no GOMEMLIMIT")
	fs.IntVar(&cfg.unrelated, "unrelated", 10000, "unrelated ConfigMaps, and as many Secrets, for the memory check (0: skip)")
	fs.IntVar(&cfg.unrelatedAt, "unrelated-at", 100, "the size whose first run does the unrelated-objects check")
	floorSizes := fs.String("floor-sizes", "100,1000", "sizes at which a bare client, with no operator, makes the same writes (the API server's floor); empty: none")
	fs.StringVar(&cfg.out, "out", "docs/benchmarks.md", "the report: its section \""+section+"\" is replaced, the rest kept")
	fs.StringVar(&cfg.jsonOut, "json", "docs/benchmarks.json", "the machine-readable results")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the work directory (audit logs, manager logs, profiles)")
	fs.StringVar(&cfg.fromJSON, "from-json", "", "only re-render -out from the results in this file, measuring nothing")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if q, err := resource.ParseQuantity(*memoryLimit); err != nil {
		return cfg, fmt.Errorf("-memory-limit: %w", err)
	} else {
		cfg.memoryLimit = q.Value()
	}
	var err error
	if cfg.sizes, err = ints(*sizes); err != nil {
		return cfg, fmt.Errorf("-sizes: %w", err)
	}
	if cfg.floorSizes, err = ints(*floorSizes); err != nil {
		return cfg, fmt.Errorf("-floor-sizes: %w", err)
	}
	if cfg.runs, err = ints(*runs); err != nil {
		return cfg, fmt.Errorf("-runs: %w", err)
	}
	if len(cfg.runs) != len(cfg.sizes) {
		return cfg, fmt.Errorf("-runs needs one number per size (%d sizes)", len(cfg.sizes))
	}
	for _, s := range append(cfg.sizes, cfg.floorSizes...) {
		if s < 1 || s > 9999 {
			return cfg, fmt.Errorf("size %d is not in 1..9999", s)
		}
	}
	return cfg, nil
}

// ints parses "1,100,1000"; "" is none.
func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
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
		raw, err := os.ReadFile(cfg.fromJSON)
		if err != nil {
			return err
		}
		var res results
		if err := json.Unmarshal(raw, &res); err != nil {
			return fmt.Errorf("%s: %w", cfg.fromJSON, err)
		}
		return report.WriteSection(cfg.out, section, res.markdown())
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
	if cfg.keep {
		log.Printf("work directory: %s", cfg.tmp)
	} else {
		defer os.RemoveAll(cfg.tmp)
	}
	// envtest and client-go log through controller-runtime's logger: into the work directory.
	harnessLog, err := os.Create(filepath.Join(cfg.tmp, "harness.log"))
	if err != nil {
		return err
	}
	defer harnessLog.Close()
	ctrllog.SetLogger(zap.New(zap.WriteTo(harnessLog)))
	started := time.Now()
	res := results{Generated: started.UTC().Format(time.RFC3339), Machine: report.DescribeMachine(), Settings: settingsOf(cfg)}
	res.Commit, res.APIServer, res.Etcd = versions()

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
	res.Children, res.Affected = map[string]int{}, map[string][]string{}
	for _, s := range samples {
		res.Children[s.name] = len(s.children)
		for _, c := range s.affected {
			res.Affected[s.name] = append(res.Affected[s.name], c.Kind+" <name>"+c.Suffix)
		}
	}
	for i, n := range cfg.sizes {
		for rep := 1; rep <= cfg.runs[i]; rep++ {
			unrelated := 0
			if rep == 1 && n == cfg.unrelatedAt {
				unrelated = cfg.unrelated
			}
			r, err := runOnce(ctx, cfg, bin, samples, n, rep, unrelated)
			if err != nil {
				return fmt.Errorf("run N=%d #%d: %w", n, rep, err)
			}
			if c := r.Creation; c != nil && c.Timing != nil {
				log.Printf("  creation %.1f s, %d writes, peak RSS %s", c.Timing.TotalSeconds, c.Requests.Writes, mib(c.HWM))
			}
			res.Runs = append(res.Runs, r)
		}
	}
	for _, n := range cfg.floorSizes {
		f, err := floorRun(ctx, cfg, samples, n)
		if err != nil {
			return fmt.Errorf("floor N=%d: %w", n, err)
		}
		if f.Change != nil {
			log.Printf("  floor: creation %.1fs, change %.1fs", f.Creation.Timing.TotalSeconds, f.Change.Timing.TotalSeconds)
		}
		res.Floor = append(res.Floor, f)
	}
	res.Machine.LoadEnd = report.LoadAverage()
	res.DurationSeconds = time.Since(started).Seconds()
	if err := report.WriteSection(cfg.out, section, res.markdown()); err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(cfg.jsonOut, append(js, '\n'), 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s and %s in %s", cfg.out, cfg.jsonOut, time.Since(started).Round(time.Second))
	return nil
}

// section is this benchmark's section of docs/benchmarks.md (make bench-stack writes another).
const section = "operator"

// versions are the repository's HEAD ("-dirty" when the tree has local changes) and the
// control plane's versions.
func versions() (commit, apiServer, etcd string) {
	version := func(bin string, args ...string) string {
		out, _ := exec.Command(bin, args...).Output()
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line
	}
	commit = version("git", "describe", "--always", "--dirty")
	if assets, err := assetsDir(); err == nil {
		apiServer, etcd = version(filepath.Join(assets, "kube-apiserver"), "--version"), version(filepath.Join(assets, "etcd"), "--version")
	}
	return commit, apiServer, etcd
}
