package main

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/webstack-dev/webstack-operator/test/bench/report"
)

// results is docs/benchmarks.json; markdown renders the report's section from it.
type results struct {
	Generated       string              `json:"generated"`
	DurationSeconds float64             `json:"durationSeconds"`
	Machine         report.Machine      `json:"machine"`
	Commit          string              `json:"commit"`
	APIServer       string              `json:"kubeAPIServer"`
	Etcd            string              `json:"etcd"`
	Settings        config              `json:"settings"`
	Children        map[string]int      `json:"childrenPerWebStack"`
	Affected        map[string][]string `json:"affectedByChange"`
	Runs            []*runResult        `json:"runs"`
	Floor           []*floorResult      `json:"floor,omitempty"` // one run per size

}

// medianRun is the run of size n with the median creation time (the lower of the middle two).
func (r *results) medianRun(n int) *runResult {
	var of []*runResult
	for _, run := range r.Runs {
		if run.N == n && run.Creation != nil && run.Creation.Timing != nil {
			of = append(of, run)
		}
	}
	if len(of) == 0 {
		return nil
	}
	slices.SortFunc(of, func(a, b *runResult) int {
		return cmp.Compare(a.Creation.Timing.TotalSeconds, b.Creation.Timing.TotalSeconds)
	})
	return of[(len(of)-1)/2]
}

// target is one goal of the operator, met when Measured <= Limit.
type target struct {
	Goal            string
	Limit, Measured float64
	Unit            string // "writes", "x", "s" or "MiB"
}

func (t target) format(v float64) string {
	switch t.Unit {
	case "x":
		return fmt.Sprintf("%.2fx", v)
	case "s":
		return sec(v)
	case "MiB":
		return fmt.Sprintf("%.1f MiB", v)
	}
	return fmt.Sprintf("%.0f %s", v, t.Unit)
}

// targets measures every goal the runs and the floor allow: writes at rest and per
// WebStack, time against the bare client's floor, memory.
func (r *results) targets() []target {
	var ts []target
	idle, restart, extra := 0.0, 0.0, math.Inf(-1)
	var peak1000 int64
	for _, run := range r.Runs {
		if run.Idle != nil {
			idle += float64(run.Idle.Requests.Writes)
		}
		if run.Restart != nil {
			restart += float64(run.Restart.Requests.Writes)
			if run.N == 1000 {
				peak1000 = max(peak1000, run.Restart.HWM)
			}
		}
		if run.Creation != nil {
			for _, w := range run.Creation.Writes {
				extra = max(extra, float64(w.MaxNoEvents-w.Children-2))
			}
			if run.N == 1000 {
				peak1000 = max(peak1000, run.Creation.HWM)
			}
		}
	}
	ts = append(ts,
		target{"writes in the idle windows, all runs", 0, idle, "writes"},
		target{"writes at the restarts, all runs", 0, restart, "writes"})
	if !math.IsInf(extra, -1) {
		ts = append(ts, target{"creation: the most writes of one WebStack beyond its children + 2 (status), Events not counted", 0, extra, "writes"})
	}
	for _, f := range r.Floor {
		op := r.medianRun(f.N)
		if op == nil || f.Creation == nil || f.Change == nil || op.Change == nil {
			continue
		}
		ts = append(ts,
			target{fmt.Sprintf("creation at N=%d over the bare client's", f.N), 1.15, op.Creation.Timing.TotalSeconds / f.Creation.Timing.TotalSeconds, "x"},
			target{fmt.Sprintf("change at N=%d over the bare client's", f.N), 1.3, op.Change.Timing.TotalSeconds / f.Change.Timing.TotalSeconds, "x"})
	}
	if op := r.medianRun(1000); op != nil && op.Change != nil {
		ts = append(ts, target{"change across 1000 WebStacks", 60, op.Change.Timing.TotalSeconds, "s"})
	}
	if peak1000 > 0 {
		ts = append(ts, target{"manager's peak RSS at 1000 WebStacks (creation and restart, all runs)", 300, float64(peak1000) / mebi, "MiB"})
	}
	if len(r.Settings.Sizes) > 0 {
		if op := r.medianRun(r.Settings.Sizes[0]); op != nil && op.Idle != nil {
			ts = append(ts, target{fmt.Sprintf("manager's RSS idle at N=%d", op.N), 64, float64(op.Idle.RSS) / mebi, "MiB"})
		}
	}
	return ts
}

const mebi = 1 << 20

func (r *results) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	var sizes []*runResult
	for _, n := range r.Settings.Sizes {
		if run := r.medianRun(n); run != nil {
			sizes = append(sizes, run)
		}
	}
	p("# Benchmarks: the operator against the API server\n\n")
	p("Written by `make bench` (`go run ./test/bench/operator`, source in [test/bench/operator](../test/bench/operator)) on %s; the run took %s.\n", r.Generated, (time.Duration(r.DurationSeconds) * time.Second).Round(time.Second))
	p("Machine-readable results, every run included: [benchmarks.json](benchmarks.json). To repeat: `make bench`\n")
	p("(a shorter try: `KUBEBUILDER_ASSETS=\"$(hack/controlplane.sh envtest)\" go run ./test/bench/operator -sizes 1,100 -runs 1,1 -idle 20s -floor-sizes 100 -profile-at 100 -out /tmp/b.md -json /tmp/b.json`).\n\n")

	m, s := r.Machine, r.Settings
	p("## Setup\n\n")
	p("- Machine: %d CPUs (%s), %.1f GiB memory, Linux %s, %s. Load average %s at the start, %s at the end: the machine is shared, so other work takes some of the CPU (column \"other\" below).\n", m.CPUs, m.CPUModel, m.MemoryGiB, m.Kernel, m.GoVersion, m.LoadStart, m.LoadEnd)
	p("- Control plane: envtest's %s and %s, a fresh one per run; no controllers run, so the harness plays the Job controller (it marks each migration Job complete as soon as it appears) and no pod ever runs.\n", r.APIServer, r.Etcd)
	memory := "no GOMEMLIMIT (`-memory-limit 0`)"
	if s.MemoryLimit > 0 {
		memory = fmt.Sprintf("`GOMEMLIMIT` at %.2f of the Helm chart's default `resources.limits.memory` of %s (%s), as automemlimit sets it from the container's limit; no hard limit is enforced, so the Memory target compares the peak RSS with the limit", memoryLimitRatio, mib(s.MemoryLimit), mib(int64(memoryLimitRatio*float64(s.MemoryLimit))))
	}
	p("- Manager: built from this tree at commit %s (`go build ./cmd/webstack-operator`) and run as its own process: `webstack-operator --metrics-bind-address=127.0.0.1:<free> --health-probe-bind-address=0`, with `KUBECONFIG` for its own user `%s` (group system:masters: exempt from API Priority and Fairness), with %s.\n", r.Commit, benchUser, memory)
	p("- Requests are counted on the API server's side: an audit policy logs that user's requests (level Metadata); a request counts at ResponseComplete, a watch when it starts. Writes are create, update, patch and delete; reads get, list and watch. Writes are attributed to a WebStack by name (children `<ws>-...`, Events `<object>.<id>`).\n")
	p("- WebStacks: N at once (16 create requests in flight), alternately [minimal](../config/samples/webstack_v1alpha1_minimal.yaml) and [full](../config/samples/webstack_v1alpha1_full.yaml) (N=1: minimal), over %d namespaces. Children per WebStack, as `webstack-operator render` prints them (the credential Secrets and the full sample's migration Job included): %s.\n", s.Namespaces, countsList(r.Children))
	var runs []string
	for i, n := range s.Sizes {
		runs = append(runs, fmt.Sprintf("N=%d: %d", n, s.Runs[i]))
	}
	p("- Runs per size: %s; a fresh control plane for each. Each size is shown by its run with the median creation time; the targets count every run where they say so.\n", strings.Join(runs, ", "))
	p("- A phase ends when the manager has nothing queued or running and made no request for %.0f s; times and CPU are measured up to the end of the work, requests over the whole phase.\n", s.Quiet.Seconds())
	var affected []string
	for _, k := range slices.Sorted(maps.Keys(r.Affected)) {
		affected = append(affected, k+": "+strings.Join(r.Affected[k], ", "))
	}
	p("- The change sets `spec.%s` on every WebStack (JSON merge patch). Affected children (from `render` before and after): %s.\n\n", strings.Join(changeField[1:], "."), strings.Join(affected, "; "))

	p("## Targets\n\nEach goal is met when the measured number is at most its limit. The bare client's floor is measured in the same benchmark (section \"The API server's floor\").\n\n")
	var rows [][]string
	for _, t := range r.targets() {
		verdict := "**MISS**"
		if t.Measured <= t.Limit {
			verdict = "PASS"
		}
		rows = append(rows, []string{t.Goal, "<= " + t.format(t.Limit), t.format(t.Measured), verdict})
	}
	report.Table(&b, []string{"goal", "limit", "measured", ""}, rows)

	p("## Creation\n\nTime from a WebStack's create request until its last child exists (per WebStack), and from the first request until the last child of all (total).\n\n")
	rows = nil
	for _, run := range sizes {
		c := run.Creation
		rows = append(rows, []string{fmt.Sprint(run.N), sec(c.Timing.TotalSeconds), sec(c.Timing.P50), sec(c.Timing.P99), writesCell(c.Writes), trim(c.Reconciles), mib(c.HWM), cpuCell(c.CPU)})
	}
	report.Table(&b, []string{"N", "total", "p50", "p99", "writes per WebStack (without Events)", "reconciles", "peak RSS", "CPU s: manager / apiserver / etcd / harness / other, machine busy"}, rows)
	if len(sizes) > 0 {
		c := sizes[len(sizes)-1].Creation
		p("Writes per WebStack during creation at N=%d by verb and resource (mean over the WebStacks of each sample):\n\n", sizes[len(sizes)-1].N)
		writesTable(&b, c.Writes)
		if len(c.Requests.Failed) > 0 {
			p("Failed requests in that window: %s.\n\n", countsList(c.Requests.Failed))
		}
	}

	p("## Steady state and restart\n\n")
	rows = nil
	for _, run := range sizes {
		if run.Idle != nil && run.Restart != nil {
			rows = append(rows, []string{fmt.Sprint(run.N), fmt.Sprint(run.Idle.Requests.Writes), fmt.Sprint(run.Idle.Requests.Reads), trim(run.Idle.Reconciles),
				sec(run.Restart.BusySeconds), fmt.Sprint(run.Restart.Requests.Writes), byVerb(run.Restart.Requests.ReadsBy)})
		}
	}
	report.Table(&b, []string{"N", "idle window: writes", "reads", "reconciles", "restart: time to converge", "writes", "reads"}, rows)
	p("The idle window is %.0f s long and starts when creation converged; the restart stops the manager (SIGTERM) and starts a new process; its time is until the new process had reconciled every WebStack and made its last request (cache sync included).\n\n", s.Idle.Seconds())
	p("The restart writes nothing because the manager skips the apply of a child whose live object already matches (`--skip-unchanged`, on by default). Measured once with it off (`make bench` of 2026-12-02, commit 299d6a6): a restart wrote every child again (27 writes at N=1, 3,100 at N=100), and a change wrote 7 to 8 times as much per WebStack (28 against 4 at N=1, 32 against 4 at N=100) and took 3.5 times as long at N=100 (15.0 s against 4.31 s).\n\n")

	p("## Change\n\n")
	rows = nil
	for _, run := range sizes {
		if c := run.Change; c != nil && c.Timing != nil {
			rows = append(rows, []string{fmt.Sprint(run.N), sec(c.Timing.TotalSeconds), sec(c.Timing.P50), sec(c.Timing.P99), writesCell(c.Writes), trim(c.Reconciles), cpuCell(c.CPU)})
		}
	}
	report.Table(&b, []string{"N", "total", "p50", "p99", "writes per WebStack (without Events)", "reconciles", "CPU s: manager / apiserver / etcd / harness / other, machine busy"}, rows)
	if len(sizes) > 0 && sizes[len(sizes)-1].Change != nil {
		p("Writes per WebStack for the change at N=%d:\n\n", sizes[len(sizes)-1].N)
		writesTable(&b, sizes[len(sizes)-1].Change.Writes)
	}

	r.floorSection(&b)

	p("## Memory\n\n")
	rows = nil
	for _, run := range sizes {
		if run.Idle != nil && run.Restart != nil {
			rows = append(rows, []string{fmt.Sprint(run.N), mib(run.Creation.HWM), mib(run.Idle.RSS), mib(run.Idle.HeapInuse), mib(run.Restart.HWM)})
		}
	}
	report.Table(&b, []string{"N", "peak RSS at creation (VmHWM)", "RSS after the idle window", "Go heap in use then", "peak RSS after a restart (VmHWM)"}, rows)
	p("Go returns freed heap to the kernel only gradually, so RSS stays near its peak after a burst. Measured once and no longer (`make bench` of 2026-12-02, commit 299d6a6): the rest of RSS over the heap is the executable, 44 to 46 MiB of file-backed RSS at every size (anonymous RSS was 18, 51 and 227 MiB at N=1, 100 and 1000); after creating 1000 WebStacks the heap in use was 158 MB, the largest shares the controller's interned strings (`controllers.internMap`, 36 MB) and the informers' decoded ConfigMaps and pod specs; and 20,000 unrelated ConfigMaps and Secrets of 1 KiB (at N=100) were not cached: the running manager did not grow while they were created, a restarted one made the same 35 reads with them as without and settled 12.5 MiB higher (104.7 against 92.2 MiB), more than the 10%% that target allowed (5.3 MiB higher in the run before).\n\n")

	p("## Profiles\n\n")
	p("The first run of N=%d served the manager's pprof (`--pprof-bind-address`); the harness took 30 s CPU profiles of the manager and of kube-apiserver (its /debug/pprof, as the harness's own user, so not counted as the manager's) from the moment a quarter of the WebStacks were created and from the start of the change.\n\n", s.ProfileAt)
	for _, run := range r.Runs {
		for _, ph := range []*phase{run.Creation, run.Change} {
			if ph == nil {
				continue
			}
			for _, pr := range ph.Profiles {
				p("<details><summary>N=%d: %s (go tool pprof -top)</summary>\n\n```\n%s\n```\n</details>\n\n", run.N, pr.Name, pr.Top)
			}
		}
	}

	p("## Where the time goes\n\nPer phase of each size's median run: reconciles and the time inside Reconcile (summed over the workers), the requests that reached the API server, and the CPU of each process per WebStack over the work.\n\n")
	rows = nil
	for _, run := range sizes {
		for _, ph := range []struct {
			name string
			p    *phase
		}{{"creation", run.Creation}, {"change", run.Change}} {
			c, n := ph.p, float64(run.N)
			if c == nil || c.BusySeconds == 0 {
				continue
			}
			reqs := float64(c.Requests.Writes + c.Requests.Reads)
			rows = append(rows, []string{fmt.Sprint(run.N), ph.name, fmt.Sprintf("%.0f (%.2f per WebStack)", c.Reconciles, c.Reconciles/n), fmt.Sprintf("%.1f s, %.1f ms each", c.ReconcileSeconds, 1000*safeDiv(c.ReconcileSeconds, c.Reconciles)),
				trim(c.Workers), sec(c.BusySeconds), fmt.Sprintf("%.0f (%.1f per WebStack)", reqs, reqs/n),
				fmt.Sprintf("%.0f / %.0f / %.0f", 1000*c.CPU.Manager/n, 1000*c.CPU.APIServer/n, 1000*c.CPU.Etcd/n), fmt.Sprintf("%.0f%%", 100*c.CPU.Utilization)})
		}
	}
	report.Table(&b, []string{"N", "phase", "reconciles", "inside Reconcile", "workers", "work", "requests", "CPU ms per WebStack: manager / apiserver / etcd", "machine busy"}, rows)

	var errs []string
	for _, run := range r.Runs {
		for _, e := range run.Errors {
			errs = append(errs, fmt.Sprintf("- N=%d #%d: %s\n", run.N, run.Rep, e))
		}
	}
	for _, f := range r.Floor {
		for _, e := range f.Errors {
			errs = append(errs, fmt.Sprintf("- floor N=%d: %s\n", f.N, e))
		}
	}
	if len(errs) > 0 {
		p("## Errors\n\n%s\n", strings.Join(errs, ""))
	}
	return b.String()
}

// floorSection writes the floor's table beside the operator's numbers of the same size.
func (r *results) floorSection(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## The API server's floor: the same writes without the operator\n\n")
	p("A bare client (the manager's user, %d requests in flight, one WebStack per worker like the manager's %d workers; source: [floor.go](../test/bench/operator/floor.go)) makes the writes the operator's creation makes for each WebStack, with nothing read and nothing decided: the credential Secrets and the migration Job created, every other child sent with server-side apply as the operator sends it, one status write. For the change, after the same JSON merge patch of every WebStack, it applies the rewritten ConfigMap and Deployment and writes the status. The harness's watches run as in the operator's runs. One run per size on a fresh control plane, after the operator's runs. Its time is the least that writing these objects takes this API server on this machine, whoever writes them.\n\n", floorWorkers, floorWorkers)
	var rows [][]string
	for _, f := range r.Floor {
		if len(f.Errors) > 0 || f.Creation == nil || f.Change == nil {
			rows = append(rows, []string{fmt.Sprint(f.N), "", "failed: " + strings.Join(f.Errors, "; "), "", "", "", "", ""})
			continue
		}
		op, n := r.medianRun(f.N), float64(f.N)
		for _, ph := range []struct {
			name     string
			bare, op *phase
		}{{"creation", f.Creation, nil}, {"change", f.Change, nil}} {
			if op != nil {
				ph.op = map[string]*phase{"creation": op.Creation, "change": op.Change}[ph.name]
			}
			bare := ph.bare
			cells := []string{fmt.Sprint(f.N), ph.name, sec(bare.Timing.TotalSeconds), "not measured", "", fmt.Sprintf("%.1f", float64(bare.Requests.Writes+bare.Requests.Reads)/n), fmt.Sprintf("%.0f ms", 1000*bare.CPU.APIServer/n), cpuCell(bare.CPU)}
			if o := ph.op; o != nil && o.Timing != nil {
				cells[3], cells[4] = sec(o.Timing.TotalSeconds), fmt.Sprintf("%.2fx", safeDiv(o.Timing.TotalSeconds, bare.Timing.TotalSeconds))
				cells[5] += fmt.Sprintf(" / %.1f", float64(o.Requests.Writes+o.Requests.Reads)/n)
				cells[6] += fmt.Sprintf(" / %.0f ms", 1000*o.CPU.APIServer/n)
			}
			rows = append(rows, cells)
		}
	}
	report.Table(b, []string{"N", "phase", "bare client", "operator", "operator / bare", "requests per WebStack: bare / operator", "API server CPU per WebStack: bare / operator", "CPU s of the bare run: manager / apiserver / etcd / client+harness / other, machine busy"}, rows)
	p("The operator's requests per WebStack include its Events (one per reconcile that changed something) and, for the full sample, the second status write of the migration gate; the bare client writes one status and no Event. \"operator\" is its median run of that size (sections Creation and Change).\n\n")
	p("Measured once as a what-if of the floor (`make bench` of 2026-12-02, commit 299d6a6): with the database, Redis and broker Services headless, so 2 ClusterIPs per stack instead of 5, the bare client created 1000 WebStacks in 187 s instead of 215 s, with about 15%% less API-server CPU per stack (225 against 270 ms). Each new ClusterIP costs kube-apiserver 1.37 a scan of every allocated Service IP (`ipallocator.(*Allocator).Used` in its profile), so the cost grows with the Services already in the cluster.\n\n")
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

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/mebi) }

func trim(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.2f", f)
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// byVerb sums requests by "verb resource" per verb.
func byVerb(by map[string]int) string {
	verbs, total := map[string]int{}, 0
	for k, n := range by {
		verb, _, _ := strings.Cut(k, " ")
		verbs[verb] += n
		total += n
	}
	return fmt.Sprintf("%d: %s", total, countsList(verbs))
}

func writesCell(ws []stackWrites) string {
	var parts []string
	for _, w := range ws {
		parts = append(parts, fmt.Sprintf("%s %.1f (%.1f)", w.Sample, w.Mean, w.MeanNoEvents))
	}
	return strings.Join(parts, ", ")
}

func cpuCell(c cpuUse) string {
	return fmt.Sprintf("%.1f / %.1f / %.1f / %.1f / %.1f, %.0f%%", c.Manager, c.APIServer, c.Etcd, c.Harness, c.Other, 100*c.Utilization)
}

func countsList(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// writesTable prints one row per "verb resource" and one column per sample.
func writesTable(b *strings.Builder, ws []stackWrites) {
	keys := map[string]bool{}
	header := []string{"verb resource"}
	for _, w := range ws {
		header = append(header, fmt.Sprintf("%s (%d WebStacks, %d children)", w.Sample, w.Stacks, w.Children))
		for k := range w.By {
			keys[k] = true
		}
	}
	var rows [][]string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		row := []string{k}
		for _, w := range ws {
			row = append(row, trim(w.By[k]))
		}
		rows = append(rows, row)
	}
	total := []string{"**total** (without Events)"}
	for _, w := range ws {
		total = append(total, fmt.Sprintf("**%s** (%s); max %d (%d)", trim(w.Mean), trim(w.MeanNoEvents), w.Max, w.MaxNoEvents))
	}
	report.Table(b, header, append(rows, total))
}
