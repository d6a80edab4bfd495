package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// cpuUse is the CPU time each process used in a window, in seconds.
type cpuUse struct {
	Manager   float64 `json:"manager"`
	APIServer float64 `json:"kubeAPIServer"`
	Etcd      float64 `json:"etcd"`
	Harness   float64 `json:"harness"`
	// Other is everything else on the machine (other people's work shares the 2 cores).
	Other float64 `json:"other"`
	// Utilization is the machine's busy time over wall time × CPUs (1 = every core busy).
	Utilization float64 `json:"utilization"`
}

// timing is a phase's latency: per WebStack (from its request to its last affected
// object) and in total (from the first request to the last object).
type timing struct {
	TotalSeconds float64 `json:"totalSeconds"`
	P50          float64 `json:"p50Seconds"`
	P99          float64 `json:"p99Seconds"`
}

// phase is what one phase measured, from its start to the manager's quiescence.
type phase struct {
	Seconds float64 `json:"seconds"`
	// BusySeconds is when the work ended (the manager idle with every WebStack reconciled,
	// its last request made), from the phase's start; Seconds adds the quiet wait. CPU is
	// counted over BusySeconds. A restart starts when the old process has exited.
	BusySeconds float64 `json:"busySeconds"`
	// Requests are the manager's requests, as the API server's audit log saw them.
	Requests         requestCounts `json:"requests"`
	Reconciles       float64       `json:"reconciles"`
	ReconcileErrors  float64       `json:"reconcileErrors"`
	ReconcileSeconds float64       `json:"reconcileSeconds"` // inside Reconcile, summed over workers
	Workers          float64       `json:"workers"`          // MaxConcurrentReconciles
	CPU              cpuUse        `json:"cpuSeconds"`
	// PeakRSS is the highest VmRSS sampled (every 200 ms) in the phase; RSS, HWM (VmHWM, the
	// peak since the process started), RSSAnon, RSSFile and HeapInuse (the Go heap) are at its end.
	PeakRSS   int64 `json:"peakRSSBytes"`
	RSS       int64 `json:"rssBytes"`
	HWM       int64 `json:"hwmBytes"`
	RSSAnon   int64 `json:"rssAnonBytes"`
	RSSFile   int64 `json:"rssFileBytes"`
	HeapInuse int64 `json:"heapInuseBytes"`
	// Timing and Writes are for the phases that act on every WebStack (creation, change).
	Timing   *timing       `json:"timing,omitempty"`
	Writes   []stackWrites `json:"writesPerWebStack,omitempty"`
	Profiles []profile     `json:"profiles,omitempty"`
	TimedOut bool          `json:"timedOut,omitempty"`
}

// stackWrites summarises the writes of the WebStacks of one sample in one phase.
type stackWrites struct {
	Sample   string `json:"sample"`
	Stacks   int    `json:"stacks"`
	Children int    `json:"children"`
	// Mean and Max are writes per WebStack; ...NoEvents leave out Events.
	Mean         float64 `json:"mean"`
	Max          int     `json:"max"`
	MeanNoEvents float64 `json:"meanWithoutEvents"`
	MaxNoEvents  int     `json:"maxWithoutEvents"`
	// By is the mean per WebStack by "verb resource".
	By map[string]float64 `json:"by"`
}

type profile struct {
	Name string `json:"name"`
	Top  string `json:"top"`
}

type unrelatedResult struct {
	Objects       int     `json:"objects"`
	CreateSeconds float64 `json:"createSeconds"`
	// Before and After are a restarted manager's settled RSS without and with the unrelated
	// objects, and its reads at that restart; Running... the running manager's RSS before
	// and at its peak while they were created.
	RSSBefore     int64 `json:"rssBeforeBytes"`
	RSSAfter      int64 `json:"rssAfterBytes"`
	ReadsBefore   int   `json:"readsBefore"`
	ReadsAfter    int   `json:"readsAfter"`
	RunningBefore int64 `json:"runningRSSBeforeBytes"`
	RunningPeak   int64 `json:"runningPeakRSSBytes"`
}

type runResult struct {
	N         int              `json:"n"`
	Rep       int              `json:"rep"`
	Creation  *phase           `json:"creation,omitempty"`
	Idle      *phase           `json:"idle,omitempty"`
	Restart   *phase           `json:"restart,omitempty"`
	Change    *phase           `json:"change,omitempty"`
	Unrelated *unrelatedResult `json:"unrelated,omitempty"`
	Errors    []string         `json:"errors,omitempty"`
}

// runner holds one run's control plane, watches and manager.
type runner struct {
	cfg     config
	bin     string
	pprof   bool
	dir     string
	logPath string
	cp      *controlPlane
	stacks  []stack
	mgr     *managerProc
}

var errTimeout = errors.New("timed out")

// runOnce measures n WebStacks on a fresh control plane: creation, the idle window, a
// restart, the change and, if unrelated > 0, the unrelated objects.
func runOnce(ctx context.Context, cfg config, bin string, samples []*sample, n, rep, unrelated int) (*runResult, error) {
	dir := filepath.Join(cfg.tmp, fmt.Sprintf("n%d-%d", n, rep))
	r := &runner{cfg: cfg, bin: bin, pprof: rep == 1 && n == cfg.profileAt, logPath: filepath.Join(dir, "manager.log"), dir: dir, stacks: stacks(n, cfg.namespaces, samples)}
	res := &runResult{N: n, Rep: rep}
	return res, onControlPlane(ctx, cfg, dir, samples, func(ctx context.Context, cp *controlPlane) error {
		r.cp = cp
		if err := r.startManager(ctx); err != nil {
			return err
		}
		defer func() { r.mgr.stop() }()
		ok := func(phase string, err error) bool {
			if err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", phase, err))
				log.Printf("  %s: %v", phase, err)
			}
			return err == nil || errors.Is(err, errTimeout)
		}
		log.Printf("run N=%d #%d: creating", n, rep)
		var err error
		if res.Creation, err = r.creation(ctx); !ok("creation", err) {
			return nil
		}
		log.Printf("  idle %s, restart, change", cfg.idle)
		w := r.begin()
		_ = sleep(ctx, cfg.idle)
		res.Idle = r.end(w, nil)
		res.Restart, err = r.restart(ctx)
		ok("restart", err)
		res.Change, err = r.change(ctx)
		ok("change", err)
		if unrelated > 0 {
			log.Printf("  %d unrelated ConfigMaps and %d Secrets", unrelated, unrelated)
			res.Unrelated, err = r.unrelated(ctx, unrelated)
			ok("unrelated objects", err)
		}
		return nil
	})
}

// snapshot is the CPU time used so far by each process, and the machine's.
type snapshot struct {
	at              time.Time
	mgr, api, etcd  float64
	self, busy, tot float64
}

func (r *runner) snap() snapshot {
	mgr := 0.0
	if r.mgr != nil {
		mgr = cpuSeconds(r.mgr.pid)
	}
	return takeSnapshot(r.cp, mgr)
}

// takeSnapshot reads the CPU time of the control plane's processes and the harness, with
// the manager's as given (0 when none runs), and the machine's.
func takeSnapshot(cp *controlPlane, mgrCPU float64) snapshot {
	s := snapshot{at: time.Now(), mgr: mgrCPU, api: cpuSeconds(cp.apiPID), etcd: cpuSeconds(cp.etcdPID), self: cpuSeconds(os.Getpid())}
	s.busy, s.tot = machineCPU()
	return s
}

// cpuUntil is the CPU each process, and everything else, used from a to b.
func (a snapshot) cpuUntil(b snapshot) cpuUse {
	c := cpuUse{Manager: b.mgr - a.mgr, APIServer: b.api - a.api, Etcd: b.etcd - a.etcd, Harness: b.self - a.self}
	if b.tot > a.tot {
		c.Utilization = (b.busy - a.busy) / (b.tot - a.tot)
	}
	c.Other = math.Max(0, (b.busy-a.busy)-c.Manager-c.APIServer-c.Etcd-c.Harness)
	return c
}

// window measures one phase: requests, reconciles, CPU and memory between begin and end.
type window struct {
	start snapshot
	state controllerState
}

func (r *runner) begin() *window {
	w := &window{start: r.snap()}
	w.state, _ = r.mgr.controller()
	r.mgr.resetPeak()
	return w
}

// end closes the window. CPU is counted up to busyEnd (when the work ended, before the
// quiet wait) if given; requests over the whole window, so that nothing late escapes.
func (r *runner) end(w *window, busyEnd *snapshot) *phase {
	end := r.snap()
	if busyEnd == nil {
		busyEnd = &end
	}
	p := &phase{Seconds: end.at.Sub(w.start.at).Seconds(), BusySeconds: busyEnd.at.Sub(w.start.at).Seconds()}
	p.Requests = countRequests(r.cp.audit.between(w.start.at, end.at))
	if st, err := r.mgr.controller(); err == nil {
		p.Reconciles = st.reconciles - w.state.reconciles
		p.ReconcileErrors = st.errors - w.state.errors
		p.ReconcileSeconds = st.reconcileTime - w.state.reconcileTime
		p.Workers, p.HeapInuse = st.maxConcurrent, int64(st.heapInuse)
	}
	p.CPU = w.start.cpuUntil(*busyEnd)
	p.PeakRSS = r.mgr.resetPeak()
	m := memory(r.mgr.pid)
	p.RSS, p.HWM, p.RSSAnon, p.RSSFile = int64(m.VmRSS), int64(m.VmHWM), int64(m.RssAnon), int64(m.RssFile)
	return p
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// startManager starts the manager and waits until its controller started its workers (its
// informers synced: "Starting workers" in its log), so that a phase measures the
// reconciler, not the start of the process.
func (r *runner) startManager(ctx context.Context) error {
	var offset int64
	if st, err := os.Stat(r.logPath); err == nil {
		offset = st.Size()
	}
	mgr, err := startManager(ctx, r.bin, r.pprof, r.cfg.memoryLimit, r.cp.kubeconfig, r.logPath)
	if err != nil {
		return err
	}
	r.mgr = mgr
	for deadline := time.Now().Add(time.Minute); ; {
		if b, err := os.ReadFile(r.logPath); err == nil && int64(len(b)) > offset && strings.Contains(string(b[offset:]), `"msg":"Starting workers"`) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the manager did not start its workers within a minute: see %s", r.logPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-mgr.exited:
			return fmt.Errorf("the manager exited: see %s", r.logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitQuiet waits until the manager has nothing queued or running, has reconciled at least
// minReconciles times since it started, and has sent no request for cfg.quiet. It returns
// the snapshot of when that state began (the end of the work, without the quiet time).
func (r *runner) waitQuiet(ctx context.Context, deadline time.Time, minReconciles float64) (*snapshot, error) {
	var snaps []snapshot
	var idleSince time.Time
	for {
		now := r.snap()
		snaps = append(snaps, now)
		st, err := r.mgr.controller()
		idle := err == nil && st.queueDepth == 0 && st.activeWorkers == 0 && st.reconciles >= minReconciles
		switch {
		case !idle:
			idleSince = time.Time{}
		case idleSince.IsZero():
			idleSince = now.at
		}
		if last := r.cp.audit.quietSince(); idle && time.Since(last) >= r.cfg.quiet {
			at := idleSince
			if last.After(at) {
				at = last
			}
			for i := range snaps {
				if !snaps[i].at.Before(at) {
					return &snaps[i], nil
				}
			}
			return &now, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("waiting for the manager to go quiet: %w", errTimeout)
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// creation creates the N WebStacks at once and waits until the manager wrote every child
// of every one. The CPU profiles start once a quarter of the WebStacks are complete: by then
// the first reconciles of most of the others have run, and costs that grow with the objects show.
func (r *runner) creation(ctx context.Context) (*phase, error) {
	p, err := r.track(ctx, "creation", 0.25, func() ([]time.Time, error) {
		return createStacks(ctx, r.cp.client, r.stacks, nil)
	}, func(s stack) []child { return s.sample.children })
	if p != nil && r.pprof {
		name, file := "manager heap in use after creation", filepath.Join(r.dir, "after-creation-heap.pprof")
		top := "heap profile: "
		if ferr := r.mgr.fetchProfile(ctx, "heap?gc=1", file); ferr != nil {
			top += ferr.Error()
		} else {
			top = pprofTop(file, 25, "-sample_index=inuse_space")
		}
		p.Profiles = append(p.Profiles, profile{Name: name, Top: top})
	}
	return p, err
}

// change sets the change field on every WebStack and waits until the manager rewrote every
// affected child (the Varnish ConfigMap and the cache Deployment).
func (r *runner) change(ctx context.Context) (*phase, error) {
	return r.track(ctx, "change", 0, func() ([]time.Time, error) {
		return patchStacks(ctx, r.cp.client, r.stacks, nil)
	}, func(s stack) []child { return s.sample.affected })
}

// track measures a phase that acts on every WebStack: act sends the requests and returns
// when each was sent; a WebStack is done when the manager has written each of its children
// that written names, since the phase began. It waits for every WebStack, then for the
// manager to go quiet. With pprof, it profiles the manager and kube-apiserver from when a
// share profileFrom of the WebStacks are done.
func (r *runner) track(ctx context.Context, name string, profileFrom float64, act func() ([]time.Time, error), written func(s stack) []child) (*phase, error) {
	w := r.begin()
	deadline := w.start.at.Add(r.cfg.phaseTimeout)
	var prof *profiling
	startProfiles := func(complete int) {
		if r.pprof && prof == nil && float64(complete) >= profileFrom*float64(len(r.stacks)) {
			prof = r.startProfiles(ctx, name, profileFrom)
		}
	}
	startProfiles(0)
	sent, err := act()
	if err != nil {
		return nil, err
	}
	done := make([]time.Time, len(r.stacks))
	var waitErr error
	for lastLog := time.Now(); ; {
		complete := 0
		for i, s := range r.stacks {
			if done[i].IsZero() {
				done[i] = r.lastWrite(s, written(s), w.start.at)
			}
			if !done[i].IsZero() {
				complete++
			}
		}
		startProfiles(complete)
		if complete == len(r.stacks) {
			break
		}
		if waitErr = r.cp.jobs.error(); waitErr != nil {
			break
		}
		if time.Now().After(deadline) {
			waitErr = fmt.Errorf("%d of %d WebStacks done: %w", complete, len(r.stacks), errTimeout)
			break
		}
		if time.Since(lastLog) > 30*time.Second {
			st, _ := r.mgr.controller()
			log.Printf("    %s: %d of %d WebStacks done; %.0f reconciles, %.0f errors, queue %.0f", name, complete, len(r.stacks), st.reconciles, st.errors, st.queueDepth)
			lastLog = time.Now()
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
	t := timings(w.start.at, sent, done)
	var busyEnd *snapshot
	if waitErr == nil {
		busyEnd, waitErr = r.waitQuiet(ctx, deadline, 0)
	}
	p := r.end(w, busyEnd)
	p.Timing, p.TimedOut = &t, errors.Is(waitErr, errTimeout)
	p.Writes = r.stackWrites(w.start.at, w.start.at.Add(time.Duration(p.Seconds*float64(time.Second))))
	if prof != nil {
		p.Profiles = prof.wait()
	}
	return p, waitErr
}

// lastWrite is when the last of the children of s was written since from; zero if one was not.
func (r *runner) lastWrite(s stack, children []child, from time.Time) time.Time {
	var last time.Time
	for _, c := range children {
		at, ok := r.cp.audit.writtenAfter(c.key(s.namespace, s.name), from)
		if !ok {
			return time.Time{}
		}
		last = maxTime(last, at)
	}
	return last
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func timings(start time.Time, sent, done []time.Time) timing {
	var per []float64
	var last time.Time
	for i := range sent {
		if !done[i].IsZero() {
			per = append(per, done[i].Sub(sent[i]).Seconds())
			last = maxTime(last, done[i])
		}
	}
	if len(per) == 0 {
		return timing{}
	}
	slices.Sort(per)
	return timing{TotalSeconds: last.Sub(start).Seconds(), P50: percentile(per, 50), P99: percentile(per, 99)}
}

// percentile is the nearest-rank percentile of sorted xs.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := max(1, int(math.Ceil(p/100*float64(len(sorted)))))
	return sorted[rank-1]
}

// stackWrites attributes the writes of [from, to) to the WebStacks, per sample.
func (r *runner) stackWrites(from, to time.Time) []stackWrites {
	per, _ := writesPerWebStack(r.cp.audit.between(from, to))
	var out []stackWrites
	for _, smp := range []string{"minimal", "full"} {
		sw := stackWrites{Sample: smp, By: map[string]float64{}}
		for _, s := range r.stacks {
			if s.sample.name != smp {
				continue
			}
			sw.Stacks++
			sw.Children = len(s.sample.children)
			total, noEvents := 0, 0
			for k, v := range per[s.name] {
				total += v
				sw.By[k] += float64(v)
				if !strings.HasSuffix(k, " events") {
					noEvents += v
				}
			}
			sw.Mean += float64(total)
			sw.MeanNoEvents += float64(noEvents)
			sw.Max = max(sw.Max, total)
			sw.MaxNoEvents = max(sw.MaxNoEvents, noEvents)
		}
		if sw.Stacks == 0 {
			continue
		}
		n := float64(sw.Stacks)
		sw.Mean /= n
		sw.MeanNoEvents /= n
		for k := range sw.By {
			sw.By[k] /= n
		}
		out = append(out, sw)
	}
	return out
}

// restart stops the manager, starts it again, and waits until it reconciled every WebStack
// and went quiet.
func (r *runner) restart(ctx context.Context) (*phase, error) {
	r.mgr.stop()
	w := r.begin()
	w.start.mgr, w.state = 0, controllerState{} // the new process starts from 0
	if err := r.startManager(ctx); err != nil {
		return nil, err
	}
	busyEnd, err := r.waitQuiet(ctx, w.start.at.Add(r.cfg.phaseTimeout), float64(len(r.stacks)))
	p := r.end(w, busyEnd)
	p.TimedOut = errors.Is(err, errTimeout)
	return p, err
}

// profiling is a pair of 30 s CPU profiles under way: the manager's and kube-apiserver's.
type profiling struct {
	when             string
	mgrFile, apiFile string
	mgr, api         chan error
}

// startProfiles starts 30 s CPU profiles of the manager and kube-apiserver, into files
// named after the phase.
func (r *runner) startProfiles(ctx context.Context, phase string, from float64) *profiling {
	when := fmt.Sprintf("from %.0f%% of the WebStacks done", 100*from)
	if from == 0 {
		when = "from the start"
	}
	p := &profiling{when: phase + " CPU for 30 s " + when, mgrFile: filepath.Join(r.dir, phase+"-cpu.pprof"), apiFile: filepath.Join(r.dir, phase+"-apiserver-cpu.pprof"),
		mgr: make(chan error, 1), api: make(chan error, 1)}
	go func() { p.mgr <- r.mgr.fetchProfile(ctx, "profile?seconds=30", p.mgrFile) }()
	go func() { p.api <- r.cp.fetchProfile(ctx, "profile?seconds=30", p.apiFile) }()
	return p
}

// wait waits for both profiles and summarises them (or says why one is missing).
func (p *profiling) wait() []profile {
	top := func(err error, file string, lines int, extra ...string) string {
		if err != nil {
			return err.Error()
		}
		return pprofTop(file, lines, extra...)
	}
	return []profile{
		{Name: "manager, " + p.when, Top: top(<-p.mgr, p.mgrFile, 25)},
		{Name: "kube-apiserver, " + p.when + ", cumulative", Top: top(<-p.api, p.apiFile, 45, "-cum")},
	}
}

// unrelated restarts the manager (settled memory without unrelated objects), creates n
// ConfigMaps and n Secrets it must not cache, and restarts it again.
func (r *runner) unrelated(ctx context.Context, n int) (*unrelatedResult, error) {
	res := &unrelatedResult{Objects: 2 * n}
	settled := func() (int64, int, error) {
		p, err := r.restart(ctx)
		if err != nil {
			return 0, 0, err
		}
		_ = sleep(ctx, r.cfg.settle)
		return int64(memory(r.mgr.pid).VmRSS), p.Requests.Reads, nil
	}
	var err error
	if res.RSSBefore, res.ReadsBefore, err = settled(); err != nil {
		return nil, err
	}
	res.RunningBefore = res.RSSBefore
	r.mgr.resetPeak()
	start := time.Now()
	if err := createUnrelated(ctx, r.cp.client, n); err != nil {
		return nil, err
	}
	res.CreateSeconds = time.Since(start).Seconds()
	_ = sleep(ctx, r.cfg.quiet)
	res.RunningPeak = r.mgr.resetPeak()
	res.RSSAfter, res.ReadsAfter, err = settled()
	return res, err
}
