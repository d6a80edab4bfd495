package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/webstack-dev/webstack-operator/internal/memlimit"
)

// report is docs/benchmarks.json; markdown renders docs/benchmarks.md from it.
type report struct {
	Generated       string              `json:"generated"`
	Command         string              `json:"command"`
	DurationSeconds float64             `json:"durationSeconds"`
	Machine         machineInfo         `json:"machine"`
	Settings        settings            `json:"settings"`
	Children        map[string]int      `json:"childrenPerWebStack"`
	Affected        map[string][]string `json:"affectedByChange"`
	Targets         []target            `json:"targets"`
	Sizes           []sizeSummary       `json:"sizes"`
	WhatIf          []*runResult        `json:"whatIf,omitempty"`
	// Floor is the bare client's floor (floor.go), one run per size.
	Floor []*floorResult `json:"floor,omitempty"`
	Runs  []*runResult   `json:"runs"`
}

type settings struct {
	Sizes        []int   `json:"sizes"`
	Runs         []int   `json:"runs"`
	Namespaces   int     `json:"namespaces"`
	IdleSeconds  float64 `json:"idleSeconds"`
	QuietSeconds float64 `json:"quietSeconds"`
	ChangeField  string  `json:"changeField"`
	Unrelated    int     `json:"unrelatedConfigMapsAndSecretsEach"`
	UnrelatedAt  int     `json:"unrelatedAtSize"`
	// BaselineSizes are the sizes whose first run measured --skip-unchanged=false.
	BaselineSizes       []int   `json:"baselineSizes"`
	BaselineIdleSeconds float64 `json:"baselineIdleSeconds"`
	// MemoryLimitBytes is the memory cgroup limit the manager ran under (0: none).
	MemoryLimitBytes int64 `json:"memoryLimitBytes,omitempty"`
}

type target struct {
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	// Verdict is PASS, MISS, or n/a (the size was not run).
	Verdict string `json:"verdict"`
}

// sizeSummary holds the medians over the runs of one size with the real manager.
type sizeSummary struct {
	N    int `json:"n"`
	Runs int `json:"runs"`
	// Creation: total and per-WebStack times, writes per WebStack (of the median run).
	CreationTotal  float64       `json:"creationTotalSeconds"`
	CreationP50    float64       `json:"creationP50Seconds"`
	CreationP99    float64       `json:"creationP99Seconds"`
	CreationWrites []stackWrites `json:"creationWritesPerWebStack"`
	CreationCPU    cpuUse        `json:"creationCPUSeconds"`
	CreationPhase  phaseResult   `json:"creationPhase"`
	CreationHWM    int64         `json:"creationPeakRSSBytes"`
	// Steady state: the idle window and the restart.
	IdleWrites     float64        `json:"idleWrites"`
	IdleReads      float64        `json:"idleReads"`
	IdleReconciles float64        `json:"idleReconciles"`
	IdleRSS        int64          `json:"idleRSSBytes"`
	IdleHeapInuse  int64          `json:"idleHeapInuseBytes"`
	IdleRSSAnon    int64          `json:"idleRSSAnonBytes"`
	IdleRSSFile    int64          `json:"idleRSSFileBytes"`
	RestartSeconds float64        `json:"restartSeconds"`
	RestartWrites  float64        `json:"restartWrites"`
	RestartReads   float64        `json:"restartReads"`
	RestartReadsBy map[string]int `json:"restartReadsBy"`
	RestartHWM     int64          `json:"restartPeakRSSBytes"`
	// Change.
	ChangeTotal  float64       `json:"changeTotalSeconds"`
	ChangeP50    float64       `json:"changeP50Seconds"`
	ChangeP99    float64       `json:"changeP99Seconds"`
	ChangeWrites []stackWrites `json:"changeWritesPerWebStack"`
	ChangePhase  phaseResult   `json:"changePhase"`
	// Baseline (--skip-unchanged=false), from the first run.
	Baseline *baselineResult `json:"baseline,omitempty"`
}

func buildReport(cfg config, m machineInfo, samples []*sample, runs []*runResult, took time.Duration) *report {
	r := &report{
		Generated:       time.Now().UTC().Format(time.RFC3339),
		Command:         "make bench",
		DurationSeconds: took.Seconds(),
		Machine:         m,
		Settings: settings{MemoryLimitBytes: cfg.memoryLimit, Sizes: cfg.sizes, Runs: cfg.runs, Namespaces: cfg.namespaces, IdleSeconds: cfg.idle.Seconds(),
			QuietSeconds: cfg.quiet.Seconds(), ChangeField: strings.Join(changeField[1:], "."), Unrelated: cfg.unrelated, UnrelatedAt: cfg.unrelatedAt,
			BaselineSizes: cfg.baselineSizes, BaselineIdleSeconds: cfg.baselineIdle.Seconds()},
		Children: map[string]int{},
		Affected: map[string][]string{},
	}
	for _, s := range samples {
		r.Children[s.name] = len(s.children)
		for _, c := range s.affected {
			r.Affected[s.name] = append(r.Affected[s.name], c.Kind+" <name>"+c.Suffix)
		}
	}
	for _, run := range runs {
		if strings.HasPrefix(run.Manager, "what-if") {
			r.WhatIf = append(r.WhatIf, run)
		} else {
			r.Runs = append(r.Runs, run)
		}
	}
	for _, n := range cfg.sizes {
		var of []*runResult
		for _, run := range r.Runs {
			if run.N == n && run.Creation != nil {
				of = append(of, run)
			}
		}
		if len(of) > 0 {
			r.Sizes = append(r.Sizes, summarise(n, of))
		}
	}
	r.Targets = r.evaluate()
	return r
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianOf(runs []*runResult, f func(*runResult) (float64, bool)) float64 {
	var xs []float64
	for _, r := range runs {
		if v, ok := f(r); ok {
			xs = append(xs, v)
		}
	}
	return median(xs)
}

func summarise(n int, runs []*runResult) sizeSummary {
	s := sizeSummary{N: n, Runs: len(runs)}
	byTotal := append([]*runResult(nil), runs...)
	sort.Slice(byTotal, func(i, j int) bool {
		return byTotal[i].Creation.Timing.TotalSeconds < byTotal[j].Creation.Timing.TotalSeconds
	})
	mid := byTotal[(len(byTotal)-1)/2]
	s.CreationTotal = medianOf(runs, func(r *runResult) (float64, bool) { return r.Creation.Timing.TotalSeconds, true })
	s.CreationP50 = medianOf(runs, func(r *runResult) (float64, bool) { return r.Creation.Timing.P50, true })
	s.CreationP99 = medianOf(runs, func(r *runResult) (float64, bool) { return r.Creation.Timing.P99, true })
	s.CreationWrites = mid.Creation.Writes
	s.CreationCPU = mid.Creation.CPU
	s.CreationPhase = mid.Creation.phaseResult
	s.CreationHWM = int64(medianOf(runs, func(r *runResult) (float64, bool) { return float64(r.Creation.HWM), true }))
	s.IdleWrites = medianOf(runs, func(r *runResult) (float64, bool) {
		return idleOf(r, func(p *phaseResult) float64 { return float64(p.Requests.Writes) })
	})
	s.IdleReads = medianOf(runs, func(r *runResult) (float64, bool) {
		return idleOf(r, func(p *phaseResult) float64 { return float64(p.Requests.Reads) })
	})
	s.IdleReconciles = medianOf(runs, func(r *runResult) (float64, bool) {
		return idleOf(r, func(p *phaseResult) float64 { return p.Reconciles })
	})
	s.IdleRSS = int64(medianOf(runs, func(r *runResult) (float64, bool) {
		return idleOf(r, func(p *phaseResult) float64 { return float64(p.RSS) })
	}))
	s.IdleRSSAnon = int64(medianOf(runs, func(r *runResult) (float64, bool) {
		return idleOf(r, func(p *phaseResult) float64 { return float64(p.RSSAnon) })
	}))
	s.IdleRSSFile = int64(medianOf(runs, func(r *runResult) (float64, bool) {
		return idleOf(r, func(p *phaseResult) float64 { return float64(p.RSSFile) })
	}))
	s.IdleHeapInuse = int64(medianOf(runs, func(r *runResult) (float64, bool) {
		return idleOf(r, func(p *phaseResult) float64 { return float64(p.HeapInuse) })
	}))
	restart := func(f func(p *phaseResult) float64) float64 {
		return medianOf(runs, func(r *runResult) (float64, bool) {
			if r.Restart == nil {
				return 0, false
			}
			return f(r.Restart), true
		})
	}
	s.RestartSeconds = restart(func(p *phaseResult) float64 { return p.BusySeconds })
	s.RestartWrites = restart(func(p *phaseResult) float64 { return float64(p.Requests.Writes) })
	s.RestartReads = restart(func(p *phaseResult) float64 { return float64(p.Requests.Reads) })
	s.RestartHWM = int64(restart(func(p *phaseResult) float64 { return float64(p.HWM) }))
	if mid.Restart != nil {
		s.RestartReadsBy = mid.Restart.Requests.ReadsBy
	}
	change := func(f func(c *changeResult) float64) float64 {
		return medianOf(runs, func(r *runResult) (float64, bool) {
			if r.Change == nil {
				return 0, false
			}
			return f(r.Change), true
		})
	}
	s.ChangeTotal = change(func(c *changeResult) float64 { return c.Timing.TotalSeconds })
	s.ChangeP50 = change(func(c *changeResult) float64 { return c.Timing.P50 })
	s.ChangeP99 = change(func(c *changeResult) float64 { return c.Timing.P99 })
	if mid.Change != nil {
		s.ChangeWrites = mid.Change.Writes
		s.ChangePhase = mid.Change.phaseResult
	}
	for _, r := range runs {
		if r.Baseline != nil {
			s.Baseline = r.Baseline
			break
		}
	}
	return s
}

func idleOf(r *runResult, f func(*phaseResult) float64) (float64, bool) {
	if r.Idle == nil {
		return 0, false
	}
	return f(r.Idle), true
}

const mebi = 1 << 20

func (r *report) size(n int) *sizeSummary {
	for i := range r.Sizes {
		if r.Sizes[i].N == n {
			return &r.Sizes[i]
		}
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// windowWrites adds up the writes of the same phase over every run.
type windowWrites struct {
	windows, total int
	detail         []string
}

func (w *windowWrites) add(run *runResult, p *phaseResult) {
	if p == nil {
		return
	}
	w.windows++
	w.total += p.Requests.Writes
	if p.Requests.Writes > 0 {
		w.detail = append(w.detail, fmt.Sprintf("N=%d run %d: %s", run.N, run.Rep, countsList(p.Requests.WritesBy)))
	}
}

func (w windowWrites) String() string {
	if w.total == 0 {
		return fmt.Sprintf("0 writes in each of %d runs", w.windows)
	}
	return fmt.Sprintf("%d writes over %d runs (%s)", w.total, w.windows, strings.Join(w.detail, "; "))
}

// evaluate states each target of the issue with its measurement.
func (r *report) evaluate() []target {
	var ts []target
	// Steady state and restart: no writes, in any run.
	var idle, restart windowWrites
	for _, run := range r.Runs {
		idle.add(run, run.Idle)
		restart.add(run, run.Restart)
	}
	if idle.windows > 0 {
		ts = append(ts, target{Goal: "steady state: 0 writes in the idle window", Measured: idle.String(), Verdict: verdict(idle.total == 0)})
	}
	if restart.windows > 0 {
		ts = append(ts, target{Goal: "manager restart: 0 writes", Measured: restart.String(), Verdict: verdict(restart.total == 0)})
	}
	// Writes per WebStack at creation.
	worst := func(noEvents bool) (string, bool) {
		var parts []string
		ok := true
		for _, s := range r.Sizes {
			for _, w := range s.CreationWrites {
				m := w.Max
				if noEvents {
					m = w.MaxNoEvents
				}
				parts = append(parts, fmt.Sprintf("N=%d %s: max %d / limit %d", s.N, w.Sample, m, w.Children+2))
				if m > w.Children+2 {
					ok = false
				}
			}
		}
		return strings.Join(parts, "; "), ok
	}
	if len(r.Sizes) > 0 {
		m, ok := worst(false)
		ts = append(ts, target{Goal: "creation: writes per WebStack <= children + 2 (status), every write counted", Measured: m, Verdict: verdict(ok)})
		m, ok = worst(true)
		ts = append(ts, target{Goal: "creation: the same, without Events", Measured: m, Verdict: verdict(ok)})
	}
	if s := r.size(1000); s != nil {
		ts = append(ts, target{Goal: "1000 WebStacks fully created in <= 120 s", Measured: fmt.Sprintf("%.1f s (median of %d)", s.CreationTotal, s.Runs), Verdict: verdict(s.CreationTotal <= 120)})
		if s.ChangeTotal > 0 {
			ts = append(ts, target{Goal: "a field change across 1000 WebStacks in <= 60 s", Measured: fmt.Sprintf("%.1f s (median of %d)", s.ChangeTotal, s.Runs), Verdict: verdict(s.ChangeTotal <= 60)})
		}
		peak := max(s.CreationHWM, s.RestartHWM)
		ts = append(ts, target{Goal: "manager RSS <= 300 MiB at 1000 WebStacks", Measured: fmt.Sprintf("peak %s (VmHWM: creation %s, restart %s)", mib(peak), mib(s.CreationHWM), mib(s.RestartHWM)), Verdict: verdict(peak <= 300*mebi)})
	} else {
		ts = append(ts, target{Goal: "1000 WebStacks fully created in <= 120 s", Measured: "not run", Verdict: "n/a"})
	}
	if len(r.Sizes) > 0 {
		s := r.Sizes[0]
		ts = append(ts, target{Goal: "manager RSS <= 64 MiB idle", Measured: fmt.Sprintf("%s (VmRSS after the idle window, N=%d)", mib(s.IdleRSS), s.N), Verdict: verdict(s.IdleRSS > 0 && s.IdleRSS <= 64*mebi)})
	}
	for _, run := range r.Runs {
		if u := run.Unrel; u != nil {
			grew := u.RSSAfter - u.RSSBefore
			limit := max(int64(8*mebi), u.RSSBefore/10)
			ts = append(ts, target{
				Goal:     fmt.Sprintf("RSS unchanged by %d unrelated ConfigMaps and Secrets", u.Objects),
				Measured: fmt.Sprintf("restarted manager at N=%d: %s without, %s with (%+.1f MiB; tolerance %s)", run.N, mib(u.RSSBefore), mib(u.RSSAfter), float64(grew)/mebi, mib(limit)),
				Verdict:  verdict(grew <= limit),
			})
		}
	}
	return ts
}

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks: the operator against the API server\n\n")
	p("Written by `make bench` (`go run ./hack/bench`, source in [hack/bench](../hack/bench)) on %s; the run took %s.\n", r.Generated, (time.Duration(r.DurationSeconds) * time.Second).Round(time.Second))
	p("Machine-readable results, every run included: [benchmarks.json](benchmarks.json). To repeat: `make bench`\n")
	p("(a shorter try: `go run ./hack/bench -sizes 1,100 -runs 1,1 -idle 20s -floor-sizes 100 -out /tmp/b.md -json /tmp/b.json`;\n")
	p("`go run ./hack/bench -from-json docs/benchmarks.json` re-renders this section from the saved results).\n\n")

	p("## Setup\n\n")
	m := r.Machine
	p("- Machine: %d CPUs (%s), %.1f GiB memory, Linux %s, %s. Load average %s at the start, %s at the end: the machine is shared, so other work takes some of the CPU (column \"other\" below).\n", m.CPUs, m.CPUModel, m.MemoryGiB, m.Kernel, m.GoVersion, m.LoadStart, m.LoadEnd)
	p("- Control plane: envtest's %s and %s, a fresh one per run; no controllers run, so the harness plays the Job controller (it marks each migration Job complete as soon as it appears) and no pod ever runs.\n", orUnknown(m.APIServer), orUnknown(m.Etcd))
	commit := ""
	if m.Commit != "" {
		commit = " at commit " + m.Commit
	}
	p("- Manager: built from this tree%s (`go build ./cmd/webstack-operator`) and run as its own process: `webstack-operator --metrics-bind-address=127.0.0.1:<free> --health-probe-bind-address=0`, with `KUBECONFIG` for its own user `%s` (group system:masters: exempt from API Priority and Fairness).%s\n", commit, benchUser, memoryLimitNote(r.Settings.MemoryLimitBytes))
	p("- Requests are counted on the API server's side: an audit policy logs that user's requests (level Metadata); a request counts at ResponseComplete, a watch when it starts. Writes are create, update, patch and delete; reads get, list and watch. Writes are attributed to a WebStack by name (children `<ws>-...`, Events `<object>.<id>`).\n")
	p("- WebStacks: N at once (16 create requests in flight), alternately [minimal](../config/samples/webstack_v1alpha1_minimal.yaml) and [full](../config/samples/webstack_v1alpha1_full.yaml) (N=1: minimal), over %d namespaces. Children per WebStack, as `webstack-operator render` prints them: %s.\n", r.Settings.Namespaces, childrenList(r.Children))
	var runs []string
	for i, n := range r.Settings.Sizes {
		if i < len(r.Settings.Runs) {
			runs = append(runs, fmt.Sprintf("N=%d: %d", n, r.Settings.Runs[i]))
		}
	}
	p("- Runs per size: %s; a fresh control plane for each. Numbers are medians over the runs of a size (a single run where only one was made, to keep the benchmark under half an hour); the per-resource tables are from the run with the median creation time.\n", strings.Join(runs, ", "))
	p("- A phase ends when the manager has nothing queued or running and made no request for %.0f s; times and CPU are measured up to the end of the work, requests over the whole phase.\n", r.Settings.QuietSeconds)
	p("- The change sets `spec.%s` on every WebStack (JSON merge patch). Affected children (from `render` before and after): %s. (`cache.defaultTTL` would only change the cache Deployment's arguments: the VCL does not hold it.)\n\n", r.Settings.ChangeField, affectedList(r.Affected))

	p("## Targets\n\n| goal | measured | |\n| --- | --- | --- |\n")
	for _, t := range r.Targets {
		p("| %s | %s | **%s** |\n", t.Goal, t.Measured, t.Verdict)
	}
	p("\n")

	r.findings(&b)

	p("## Creation\n\nTime from a WebStack's create request until its last child exists (per WebStack), and from the first request until the last child of all (total).\n\n")
	p("| N | runs | total | p50 | p99 | writes per WebStack (without Events) | reconciles | peak RSS | CPU s: manager / apiserver / etcd / harness / other | CPU use |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range r.Sizes {
		p("| %d | %d | %s | %s | %s | %s | %.0f | %s | %s | %.0f%% |\n", s.N, s.Runs, sec(s.CreationTotal), sec(s.CreationP50), sec(s.CreationP99), writesCell(s.CreationWrites), s.CreationPhase.Reconciles, mib(s.CreationHWM), cpuCell(s.CreationCPU), 100*s.CreationCPU.Utilization)
	}
	p("\n")
	if len(r.Sizes) > 0 {
		s := r.Sizes[len(r.Sizes)-1]
		p("Writes per WebStack during creation at N=%d by verb and resource (mean over the WebStacks of each sample, median run):\n\n", s.N)
		writesTable(&b, s.CreationWrites)
		if f := s.CreationPhase.Requests.Failed; len(f) > 0 {
			p("\nFailed requests in that window: %s.\n", countsList(f))
		}
		p("\n")
	}

	p("## Steady state and restart\n\n")
	p("| N | idle window: writes | reads | reconciles | restart: time to converge | writes | reads |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range r.Sizes {
		p("| %d | %.0f | %.0f | %.0f | %s | %.0f | %.0f: %s |\n", s.N, s.IdleWrites, s.IdleReads, s.IdleReconciles, sec(s.RestartSeconds), s.RestartWrites, s.RestartReads, readsSummary(s.RestartReadsBy))
	}
	p("\nThe idle window is %.0f s long and starts when creation converged; the restart stops the manager (SIGTERM) and starts a new process; its time is until the new process had reconciled every WebStack and made its last request (cache sync included).\n\n", r.Settings.IdleSeconds)

	p("## Change\n\n| N | total | p50 | p99 | writes per WebStack | reconciles | CPU s: manager / apiserver / etcd / harness / other | CPU use |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range r.Sizes {
		p("| %d | %s | %s | %s | %s | %.0f | %s | %.0f%% |\n", s.N, sec(s.ChangeTotal), sec(s.ChangeP50), sec(s.ChangeP99), writesCell(s.ChangeWrites), s.ChangePhase.Reconciles, cpuCell(s.ChangePhase.CPU), 100*s.ChangePhase.CPU.Utilization)
	}
	if len(r.Sizes) > 0 {
		s := r.Sizes[len(r.Sizes)-1]
		p("\nWrites per WebStack for the change at N=%d:\n\n", s.N)
		writesTable(&b, s.ChangeWrites)
	}
	p("\n")
	r.floorSection(&b)

	p("## Baseline: `--skip-unchanged=false`\n\nThe same binary with the comparison that skips unchanged applies turned off, in the first run of N = %s, on the same control plane after the phases above: a restart into the baseline manager, a %.0f s idle window, and another change of `%s`.\n\n", joinInts(r.Settings.BaselineSizes), r.Settings.BaselineIdleSeconds, r.Settings.ChangeField)
	p("| N | restart writes (skip / no skip) | idle writes (skip / no skip) | change writes per WebStack (skip / no skip) | ratio | change time (skip / no skip) |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, s := range r.Sizes {
		bl := s.Baseline
		if bl == nil || bl.Restart == nil || bl.Idle == nil || bl.Change == nil {
			continue
		}
		skipW, noSkipW := meanWrites(s.ChangeWrites), meanWrites(bl.Change.Writes)
		ratio := "-"
		if skipW > 0 {
			ratio = fmt.Sprintf("%.1fx", noSkipW/skipW)
		}
		p("| %d | %.0f / %d | %.0f / %d | %.1f / %.1f | %s | %s / %s |\n", s.N, s.RestartWrites, bl.Restart.Requests.Writes, s.IdleWrites, bl.Idle.Requests.Writes, skipW, noSkipW, ratio, sec(s.ChangeTotal), sec(bl.Change.Timing.TotalSeconds))
	}
	p("\n")

	p("## Memory\n\n| N | peak RSS at creation (VmHWM) | RSS after the idle window | of which anonymous / file-backed | Go heap in use then | peak RSS after a restart (VmHWM) |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, s := range r.Sizes {
		p("| %d | %s | %s | %s / %s | %s | %s |\n", s.N, mib(s.CreationHWM), mib(s.IdleRSS), mib(s.IdleRSSAnon), mib(s.IdleRSSFile), mib(s.IdleHeapInuse), mib(s.RestartHWM))
	}
	p("\nFile-backed RSS is the manager's executable (code and read-only data it touched); anonymous RSS is the Go heap, its garbage-collection headroom (GOGC=100 lets the heap grow to twice the live data before a collection), goroutine stacks and the runtime. Go returns freed heap to the kernel only gradually, so RSS stays near its peak after a burst.\n")
	for _, run := range r.Runs {
		if u := run.Unrel; u != nil {
			p("\nUnrelated objects (N=%d): %d ConfigMaps and Secrets of 1 KiB each without the operator's labels, created in %.0f s. Settled RSS of a freshly restarted manager %s without them, %s with them; the running manager's RSS was %s before and peaked at %s while they were created. Reads at the restart: %d without, %d with (the informers list and watch only labelled objects).\n",
				run.N, u.Objects, u.CreateSeconds, mib(u.RSSBefore), mib(u.RSSAfter), mib(u.RunningRSS0), mib(u.RunningPeak), u.Before.Requests.Reads, u.After.Requests.Reads)
		}
	}
	p("\n")

	if prof := r.profiled(); prof != nil {
		p("## Profiles\n\nThe first run of N=%d served the manager's pprof (`--pprof-bind-address`); the harness took 30 s CPU profiles of the manager and of kube-apiserver (its /debug/pprof, as the harness's own user, so not counted as the manager's) from the moment a quarter of the WebStacks were created and from the start of the change, and a heap profile of the manager after creation.\n\n", prof.N)
		all := prof.Creation.Profiles
		if prof.Change != nil {
			all = append(slices.Clip(all), prof.Change.Profiles...)
		}
		for _, pr := range all {
			p("<details><summary>N=%d: %s (go tool pprof -top)</summary>\n\n```\n%s\n```\n</details>\n\n", prof.N, pr.Name, pr.Top)
		}
	}

	if len(r.WhatIf) > 0 {
		p("## What-if runs\n\nThe harness's own manager (`%s` in [hack/bench/variant.go](../hack/bench/variant.go)): the same reconciler, cache options and client defaults as the real one, plus flags the real one does not have yet, and the client's request and rate-limiter latency metrics. Creation and change only, one run each. Its RSS is not comparable with the manager's: its executable (the harness) is larger, and more workers make more garbage at once.\n\n", variantCommand)
		p("| N | flags | creation total | p50 | p99 | change total | reconciles (creation) | peak RSS | CPU s: manager / apiserver / etcd / harness / other | CPU use |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for _, w := range r.WhatIf {
			if w.Creation == nil {
				continue
			}
			change := "-"
			if w.Change != nil {
				change = sec(w.Change.Timing.TotalSeconds)
			}
			p("| %d | `%s` | %s | %s | %s | %s | %.0f | %s | %s | %.0f%% |\n", w.N, strings.TrimPrefix(w.Manager, "what-if "), sec(w.Creation.Timing.TotalSeconds), sec(w.Creation.Timing.P50), sec(w.Creation.Timing.P99), change, w.Creation.Reconciles, mib(w.Creation.HWM), cpuCell(w.Creation.CPU), 100*w.Creation.CPU.Utilization)
		}
		p("\n")
		for _, w := range r.WhatIf {
			if w.Creation == nil {
				continue
			}
			for _, pr := range w.Creation.Profiles {
				p("<details><summary>N=%d %s: %s (go tool pprof -top)</summary>\n\n```\n%s\n```\n</details>\n\n", w.N, strings.TrimPrefix(w.Manager, "what-if "), pr.Name, pr.Top)
			}
		}
	}

	p("## Where the time goes\n\n")
	for _, s := range r.Sizes {
		c := s.CreationPhase
		if c.Seconds == 0 {
			continue
		}
		p("- N=%d creation: %.0f reconciles took %.1f s inside Reconcile over %.1f s of work (%.0f worker(s): the controller's MaxConcurrentReconciles), %.1f ms per reconcile; %d requests reached the API server (%.1f ms of work each). The machine was %.0f%% busy: manager %.1f s, kube-apiserver %.1f s, etcd %.1f s of CPU.\n",
			s.N, c.Reconciles, c.ReconcileSeconds, c.BusySeconds, c.Workers, 1000*safeDiv(c.ReconcileSeconds, c.Reconciles), c.Requests.Writes+c.Requests.Reads, 1000*safeDiv(c.BusySeconds, float64(c.Requests.Writes+c.Requests.Reads)), 100*c.CPU.Utilization, c.CPU.Manager, c.CPU.APIServer, c.CPU.Etcd)
		if reqs := float64(c.Requests.Writes + c.Requests.Reads); reqs > 0 && s.N >= 50 {
			cpuPerStack := (c.CPU.Manager + c.CPU.APIServer + c.CPU.Etcd) / float64(s.N)
			p("  The API server used %.1f ms of CPU per request of the manager (all its CPU in the phase, serving the harness's watches included; etcd %.1f ms); manager, API server and etcd together %.0f ms of CPU per WebStack: at that cost %d fully used CPUs need about %.0f s for 1000 WebStacks, however many workers the manager runs, unless requests get cheaper or fewer.\n",
				1000*c.CPU.APIServer/reqs, 1000*c.CPU.Etcd/reqs, 1000*cpuPerStack, r.Machine.CPUs, 1000*cpuPerStack/float64(max(1, r.Machine.CPUs)))
		}
		ch := s.ChangePhase
		if ch.Seconds > 0 {
			p("- N=%d change: %.0f reconciles, %.1f s inside Reconcile over %.1f s of work; %d writes; machine %.0f%% busy.\n", s.N, ch.Reconciles, ch.ReconcileSeconds, ch.BusySeconds, ch.Requests.Writes, 100*ch.CPU.Utilization)
		}
	}
	for _, w := range r.WhatIf {
		c := w.Creation
		if c == nil || c.BusySeconds == 0 {
			continue
		}
		reqs := float64(c.Requests.Writes + c.Requests.Reads)
		p("- What-if N=%d `%s` creation: %.0f reconciles, %.1f s inside Reconcile (summed over workers) over %.1f s of work; the machine was %.0f%% busy; %.0f ms of CPU per WebStack (manager, API server, etcd); the client waited %.1f s in total for its rate limiter and %.1f ms on average per request (%.0f requests).\n",
			w.N, strings.TrimPrefix(w.Manager, "what-if "), c.Reconciles, c.ReconcileSeconds, c.BusySeconds, 100*c.CPU.Utilization, 1000*(c.CPU.Manager+c.CPU.APIServer+c.CPU.Etcd)/float64(w.N), c.RateLimiterSeconds, 1000*safeDiv(c.RequestSeconds, reqs), reqs)
	}
	p("\n")

	var errs []string
	for _, run := range append(append([]*runResult(nil), r.Runs...), r.WhatIf...) {
		for _, e := range run.Errors {
			errs = append(errs, fmt.Sprintf("N=%d #%d (%s): %s", run.N, run.Rep, run.Manager, e))
		}
	}
	if len(errs) > 0 {
		p("## Errors\n\n")
		for _, e := range errs {
			p("- %s\n", e)
		}
		p("\n")
	}
	return b.String()
}

// findings explains each missed target from the measurements: what the time or memory
// went to, and what would change it.
func (r *report) findings(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	var items []string
	add := func(format string, args ...any) { items = append(items, fmt.Sprintf(format, args...)) }
	miss := func(prefix string) bool {
		for _, t := range r.Targets {
			if strings.HasPrefix(t.Goal, prefix) && t.Verdict == "MISS" {
				return true
			}
		}
		return false
	}
	big := r.size(1000)
	prof := r.profiled()

	if big != nil && miss("1000 WebStacks fully created") {
		c := big.CreationPhase
		reqs := float64(c.Requests.Writes + c.Requests.Reads)
		text := fmt.Sprintf("**Creation of 1000 WebStacks (%s).** The API server is the limit, not the manager: with %.0f workers Reconcile was running %.0f%% of the workers' time, mostly waiting for responses (%.1f ms of wall time per request, %.1f requests and %.1f reconciles per WebStack), while kube-apiserver used %.1f s of CPU against the manager's %.1f s.",
			sec(big.CreationTotal), c.Workers, 100*safeDiv(c.ReconcileSeconds, c.BusySeconds*math.Max(1, c.Workers)),
			1000*safeDiv(c.BusySeconds, reqs), reqs/1000, c.Reconciles/1000, c.CPU.APIServer, c.CPU.Manager)
		var growth []string
		for _, sz := range r.Sizes {
			if sz.N >= 100 {
				growth = append(growth, fmt.Sprintf("%.0f ms at N=%d", 1000*sz.CreationCPU.APIServer/float64(sz.N), sz.N))
			}
		}
		if len(growth) > 1 {
			text += fmt.Sprintf(" Its CPU per WebStack grows with the number of objects in the cluster: %s.", strings.Join(growth, ", "))
		}
		if prof != nil {
			for _, pr := range prof.Creation.Profiles {
				if !strings.HasPrefix(pr.Name, "kube-apiserver") {
					continue
				}
				if share, ok := profileShare(pr.Top, "ipallocator.(*Allocator).Used"); ok {
					text += fmt.Sprintf(" The profile from a quarter of the way (section Profiles) shows why: %.0f%% of kube-apiserver's CPU went to `ipallocator.(*Allocator).Used`, which lists every allocated Service IP for the allocator's metrics, twice per new ClusterIP Service (the IPAddress-based allocator of Kubernetes 1.37); so each ClusterIP costs time in proportion to the ClusterIPs already in the cluster, and the allocations are serialised.", share)
				}
			}
		}
		text += r.floorFinding(1000, "creation", big.CreationTotal, 120)
		text += " The operator's part: each WebStack now creates ClusterIP Services only where a stable address is used (the load balancer, its app listener, PostgreSQL, Redis, the broker), one write per child, one status write per reconcile that changes it and one Event per reconcile that changes something. What would reach the target here: fewer or cheaper writes per WebStack (fewer ClusterIP Services above all), an API server without the per-allocation scan, or more cores for it; the manager is not waiting on its own CPU or on a client-side rate limit (controller-runtime sets none)."
		add("%s", text)
	}
	if big != nil && miss("a field change across 1000") {
		ch := big.ChangePhase
		add("**The change across 1000 WebStacks (%s).** %.0f reconciles (%.1f per WebStack) took %.1f s inside Reconcile over %.1f s of work with %.0f worker(s), %.1f writes per WebStack; the machine was %.0f%% busy, kube-apiserver using %.1f s of CPU, the manager %.1f s and etcd %.1f s. The API server is the limit here too: it also serves the harness's 1000 patches of the WebStacks (each validated against the CRD's schema and CEL rules) and the status writes; per WebStack the change took %s at p99, the total also counts sending the 1000 patches.%s",
			sec(big.ChangeTotal), ch.Reconciles, ch.Reconciles/1000, ch.ReconcileSeconds, ch.BusySeconds, ch.Workers, float64(ch.Requests.Writes)/1000, 100*ch.CPU.Utilization, ch.CPU.APIServer, ch.CPU.Manager, ch.CPU.Etcd, sec(big.ChangeP99),
			r.floorFinding(1000, "change", big.ChangeTotal, 60))
	}
	if big != nil && miss("manager RSS <= 300 MiB") {
		text := fmt.Sprintf("**Memory at 1000 WebStacks (peak %s at creation, %s after a restart).** After the idle window the Go heap held %s of %s RSS (%s anonymous, %s file-backed: the executable).",
			mib(big.CreationHWM), mib(big.RestartHWM), mib(big.IdleHeapInuse), mib(big.IdleRSS), mib(big.IdleRSSAnon), mib(big.IdleRSSFile))
		if prof != nil {
			for _, pr := range prof.Creation.Profiles {
				if live := profileTotal(pr.Top); strings.Contains(pr.Name, "heap") && live != "" {
					text += fmt.Sprintf(" The live heap after a forced collection was %s, about %s per WebStack: the informer cache's copies of the children (the `*.Unmarshal` entries of the heap profile).", live, perWebStack(live))
				}
			}
		}
		text += memoryLimitNote(r.Settings.MemoryLimitBytes)
		add("%s", text)
	}
	if miss("creation: writes per WebStack <= children + 2 (status), every") {
		var parts []string
		for _, s := range r.Sizes {
			if s.N != r.Sizes[len(r.Sizes)-1].N {
				continue
			}
			for _, w := range s.CreationWrites {
				parts = append(parts, fmt.Sprintf("%s %.1f", w.Sample, w.Mean-w.MeanNoEvents))
			}
		}
		add("**Writes at creation.** Each reconcile that changes something tells it in one Event (%s Event writes per WebStack). The minimal sample needs one reconcile, so one status write and one Event: children + 2. The full sample needs two, because its app is created only after its migration Job succeeded: two status writes (while the migration runs, and after) and two Events (MigrationStarted, MigrationSucceeded with what each created), two writes over children + 2. Both are what a person reading `kubectl get events` and the status is owed.", strings.Join(parts, ", "))
	}
	if len(items) == 0 {
		return
	}
	p("## What limits the misses\n\n")
	for _, it := range items {
		p("- %s\n", it)
	}
	p("\n")
}

// profileTotal reads "... of 165.93MB total" from `go tool pprof -top` output.
func profileTotal(top string) string {
	i := strings.Index(top, "% of ")
	if i < 0 {
		return ""
	}
	rest := top[i+len("% of "):]
	j := strings.Index(rest, " total")
	if j < 0 {
		return ""
	}
	return rest[:j]
}

// perWebStack divides a pprof size ("165.93MB") by 1000 WebStacks.
func perWebStack(size string) string {
	for _, u := range []struct {
		suffix string
		kb     float64
	}{{"GB", 1 << 20}, {"MB", 1 << 10}, {"kB", 1}} {
		if v, ok := strings.CutSuffix(size, u.suffix); ok {
			var f float64
			if _, err := fmt.Sscanf(v, "%g", &f); err == nil {
				return fmt.Sprintf("%.0f KiB", f*u.kb/1000)
			}
		}
	}
	return "?"
}

// sec formats seconds with the precision that matters at that size.
func sec(x float64) string {
	switch {
	case x < 1:
		return fmt.Sprintf("%.3f s", x)
	case x < 10:
		return fmt.Sprintf("%.2f s", x)
	}
	return fmt.Sprintf("%.1f s", x)
}

// readsSummary condenses reads by "verb resource" into counts per verb and kinds.
func readsSummary(by map[string]int) string {
	count, kinds := map[string]int{}, map[string]int{}
	for k, n := range by {
		verb, res, _ := strings.Cut(k, " ")
		if res == "" {
			verb = "discovery " + verb
		}
		count[verb] += n
		kinds[verb]++
	}
	var parts []string
	for _, v := range sortedKeys(count) {
		if strings.HasPrefix(v, "discovery") {
			parts = append(parts, fmt.Sprintf("%d %s", count[v], v))
			continue
		}
		parts = append(parts, fmt.Sprintf("%d %s over %d kinds", count[v], v, kinds[v]))
	}
	return strings.Join(parts, ", ")
}

func joinInts(xs []int) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprint(x))
	}
	return strings.Join(parts, ", ")
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown version)"
	}
	return s
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func childrenList(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ") + " (the credential Secrets and the full sample's migration Job included)"
}

func affectedList(m map[string][]string) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s: %s", k, strings.Join(m[k], ", ")))
	}
	return strings.Join(parts, "; ")
}

func writesCell(ws []stackWrites) string {
	var parts []string
	for _, w := range ws {
		parts = append(parts, fmt.Sprintf("%s %.1f (%.1f)", w.Sample, w.Mean, w.MeanNoEvents))
	}
	return strings.Join(parts, ", ")
}

func meanWrites(ws []stackWrites) float64 {
	total, n := 0.0, 0
	for _, w := range ws {
		total += w.Mean * float64(w.Stacks)
		n += w.Stacks
	}
	return safeDiv(total, float64(n))
}

func cpuCell(c cpuUse) string {
	return fmt.Sprintf("%.1f / %.1f / %.1f / %.1f / %.1f", c.Manager, c.APIServer, c.Etcd, c.Harness, c.Other)
}

func countsList(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// writesTable prints one row per "verb resource" and one column per sample.
func writesTable(b *strings.Builder, ws []stackWrites) {
	keys := map[string]bool{}
	for _, w := range ws {
		for k := range w.By {
			keys[k] = true
		}
	}
	fmt.Fprintf(b, "| verb resource |")
	for _, w := range ws {
		fmt.Fprintf(b, " %s (%d WebStacks, %d children) |", w.Sample, w.Stacks, w.Children)
	}
	fmt.Fprintf(b, "\n| --- |%s\n", strings.Repeat(" --- |", len(ws)))
	for _, k := range sortedKeys(keys) {
		fmt.Fprintf(b, "| %s |", k)
		for _, w := range ws {
			fmt.Fprintf(b, " %s |", trim(w.By[k]))
		}
		fmt.Fprintln(b)
	}
	fmt.Fprintf(b, "| **total** (without Events) |")
	for _, w := range ws {
		fmt.Fprintf(b, " **%s** (%s); max %d (%d) |", trim(w.Mean), trim(w.MeanNoEvents), w.Max, w.MaxNoEvents)
	}
	fmt.Fprintln(b)
}

func trim(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.2f", f)
}

// memoryLimitNote says under which memory limit the manager ran.
func memoryLimitNote(limit int64) string {
	if limit == 0 {
		return " No memory limit: the Go runtime keeps its default (GOGC=100, no soft limit)."
	}
	return fmt.Sprintf(" It runs in a memory cgroup of its own limited to %s, the Helm chart's default `resources.limits.memory`, as in its container; from that limit it sets its Go soft memory limit to %d%% (%s), as it does there (`-memory-limit 0` runs it without).",
		mib(limit), memlimit.Percent, mib(limit/100*memlimit.Percent))
}

// profiled is the run whose creation was profiled, nil if none.
func (r *report) profiled() *runResult {
	for _, run := range r.Runs {
		if run.Creation != nil && len(run.Creation.Profiles) > 0 {
			return run
		}
	}
	return nil
}

// profileShare reads the cum% of the first line of `go tool pprof -top -cum` output that
// names symbol.
func profileShare(top, symbol string) (float64, bool) {
	for _, line := range strings.Split(top, "\n") {
		if !strings.Contains(line, symbol) {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		var v float64
		if _, err := fmt.Sscanf(strings.TrimSuffix(f[4], "%"), "%g", &v); err == nil {
			return v, true
		}
	}
	return 0, false
}
