// Command operator measures the webstack-operator manager against envtest's kube-apiserver
// and etcd and writes its section of docs/benchmarks.md and docs/benchmarks.json; `make
// bench` runs it from the repository's root with KUBEBUILDER_ASSETS set. The manager runs as
// its own process and user, so the API server's audit log counts its requests; the harness
// plays the Job controller; floor.go measures the same writes made by a bare client.
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

// config is the flags; the exported fields are the report's settings.
type config struct {
	Sizes        []int         `json:"sizes"`
	Runs         []int         `json:"runs"`
	Namespaces   int           `json:"namespaces"`
	Idle         time.Duration `json:"idleNanoseconds"`
	Quiet        time.Duration `json:"quietNanoseconds"`
	PhaseTimeout time.Duration `json:"-"`
	ProfileAt    int           `json:"profileAt"`
	MemoryLimit  int64         `json:"memoryLimitBytes"` // the chart's container limit; 0: none
	FloorSizes   []int         `json:"floorSizes"`
	out, jsonOut string
	keep         bool
	tmp          string
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
	fs.IntVar(&cfg.Namespaces, "namespaces", 10, "namespaces the WebStacks are spread over")
	fs.DurationVar(&cfg.Idle, "idle", 60*time.Second, "the steady-state window after convergence")
	fs.DurationVar(&cfg.Quiet, "quiet", 3*time.Second, "how long without a request from the manager (and nothing queued) counts as converged")
	fs.DurationVar(&cfg.PhaseTimeout, "phase-timeout", 10*time.Minute, "give up on a phase after this long")
	fs.IntVar(&cfg.ProfileAt, "profile-at", 1000, "the size whose first run takes 30 s CPU profiles of the manager and kube-apiserver (0: none)")
	memoryLimit := fs.String("memory-limit", "320Mi", "the Helm chart's default container memory limit: the manager runs with GOMEMLIMIT at 0.75 of it; 0: none")
	floorSizes := fs.String("floor-sizes", "100,1000", "sizes at which a bare client makes the same writes (the API server's floor); empty: none")
	fs.StringVar(&cfg.out, "out", "docs/benchmarks.md", "the report: its section \""+section+"\" is replaced, the rest kept")
	fs.StringVar(&cfg.jsonOut, "json", "docs/benchmarks.json", "the machine-readable results")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the work directory (audit logs, manager logs, profiles)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	q, err := resource.ParseQuantity(*memoryLimit)
	if err != nil {
		return cfg, fmt.Errorf("-memory-limit: %w", err)
	}
	cfg.MemoryLimit = q.Value()
	for _, f := range []struct {
		name, value string
		into        *[]int
	}{{"sizes", *sizes, &cfg.Sizes}, {"runs", *runs, &cfg.Runs}, {"floor-sizes", *floorSizes, &cfg.FloorSizes}} {
		for _, s := range strings.FieldsFunc(f.value, func(r rune) bool { return r == ',' || r == ' ' }) {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 9999 {
				return cfg, fmt.Errorf("-%s: %q is not a number in 1..9999", f.name, s)
			}
			*f.into = append(*f.into, n)
		}
	}
	if len(cfg.Runs) != len(cfg.Sizes) {
		return cfg, fmt.Errorf("-runs needs one number per size (%d sizes)", len(cfg.Sizes))
	}
	return cfg, nil
}

// section is this benchmark's section of docs/benchmarks.md (make bench-stack writes another).
const section = "operator"

func run(cfg config) error {
	if _, err := os.Stat(filepath.Join("config", "crd", "bases")); err != nil {
		return fmt.Errorf("run from the repository's root (make bench does): %w", err)
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return fmt.Errorf(`KUBEBUILDER_ASSETS is not set (make bench sets it; or KUBEBUILDER_ASSETS="$(hack/controlplane.sh envtest)")`)
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
	version := func(bin string, args ...string) string {
		out, _ := exec.Command(bin, args...).Output()
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line
	}
	res := results{Generated: started.UTC().Format(time.RFC3339), Machine: report.DescribeMachine(), Settings: cfg,
		Commit: version("git", "describe", "--always", "--dirty"), APIServer: version(filepath.Join(assets, "kube-apiserver"), "--version"), Etcd: version(filepath.Join(assets, "etcd"), "--version"),
		Children: map[string]int{}, Affected: map[string][]string{}}

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
	for _, s := range samples {
		res.Children[s.name] = len(s.children)
		for _, c := range s.affected {
			res.Affected[s.name] = append(res.Affected[s.name], c.Kind+" <name>"+c.Suffix)
		}
	}
	for i, n := range cfg.Sizes {
		for rep := 1; rep <= cfg.Runs[i]; rep++ {
			r, err := runOnce(ctx, cfg, bin, samples, n, rep)
			if err != nil {
				return fmt.Errorf("run N=%d #%d: %w", n, rep, err)
			}
			if c := r.Creation; c != nil && c.Timing != nil {
				log.Printf("  creation %.1f s, %d writes, peak RSS %s", c.Timing.TotalSeconds, c.Requests.Writes, mib(c.HWM))
			}
			res.Runs = append(res.Runs, r)
		}
	}
	for _, n := range cfg.FloorSizes {
		f, err := floorRun(ctx, cfg, samples, n)
		if err != nil {
			return fmt.Errorf("floor N=%d: %w", n, err)
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
