package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"sort"
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

// phaseResult is what one phase measured, from its start to the manager's quiescence.
type phaseResult struct {
	Phase   string  `json:"phase"`
	Manager string  `json:"manager"`
	Seconds float64 `json:"seconds"`
	// Requests are the manager's requests, as the API server's audit log saw them.
	Requests requestCounts `json:"requests"`
	// ClientRequests is the manager's own count (rest_client_requests_total), a cross-check.
	ClientRequests float64 `json:"clientRequests"`
	Reconciles     float64 `json:"reconciles"`
	// Workers is the controller's MaxConcurrentReconciles.
	Workers float64 `json:"workers"`
	// ReconcileErrors are reconciles that returned an error (a 409 on the status, say).
	ReconcileErrors float64 `json:"reconcileErrors"`
	// ReconcileSeconds is the time spent inside Reconcile (sum over workers).
	ReconcileSeconds float64 `json:"reconcileSeconds"`
	CPU              cpuUse  `json:"cpuSeconds"`
	// BusySeconds is when the work ended (the manager idle with every WebStack reconciled,
	// its last request made), from the phase's start; Seconds adds the quiet wait. CPU
	// is counted over BusySeconds. A restart starts when the old process has exited.
	BusySeconds float64 `json:"busySeconds"`
	// PeakRSS is the highest VmRSS sampled (every 200 ms) in the phase, RSS the VmRSS at
	// its end and HWM the process's VmHWM (peak since it started) at its end.
	PeakRSS int64 `json:"peakRSSBytes"`
	RSS     int64 `json:"rssBytes"`
	HWM     int64 `json:"hwmBytes"`
	// HeapInuse and HeapAlloc are the Go heap at the end (go_memstats_*): RSS above them is
	// the garbage collector's headroom and the runtime.
	HeapInuse int64 `json:"heapInuseBytes"`
	HeapAlloc int64 `json:"heapAllocBytes"`
	// RSSAnon and RSSFile split RSS at the end: anonymous memory (heap, stacks, runtime)
	// and file-backed pages (the executable's code and data that were touched).
	RSSAnon int64 `json:"rssAnonBytes"`
	RSSFile int64 `json:"rssFileBytes"`
	// RateLimiterSeconds and RequestSeconds are the client's time waiting for its rate
	// limiter and for responses (sums; the what-if manager only registers them).
	RateLimiterSeconds float64 `json:"rateLimiterSeconds,omitempty"`
	RequestSeconds     float64 `json:"requestSeconds,omitempty"`
	TimedOut           bool    `json:"timedOut,omitempty"`
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
	// Over counts WebStacks whose writes without Events exceed children + 2 (status).
	Over int `json:"overChildrenPlus2"`
}

// timing is a phase's latency: per WebStack (from its request to its last affected
// object) and in total (from the first request to the last object).
type timing struct {
	TotalSeconds float64 `json:"totalSeconds"`
	P50          float64 `json:"p50Seconds"`
	P99          float64 `json:"p99Seconds"`
	Max          float64 `json:"maxSeconds"`
	Complete     int     `json:"complete"`
	Of           int     `json:"of"`
}

type creationResult struct {
	phaseResult
	Timing timing `json:"timing"`
	// Children expected per WebStack by sample (render), and found by listing by the
	// instance label after convergence (the minimum over the WebStacks of that sample).
	ChildrenExpected map[string]int `json:"childrenExpected"`
	ChildrenFound    map[string]int `json:"childrenFound"`
	Writes           []stackWrites  `json:"writesPerWebStack"`
	Unattributed     int            `json:"unattributedWrites"`
	JobsCompleted    int            `json:"jobsCompleted"`
	// The harness's create requests: latency (p50, max) and when the last returned.
	CreateRequestP50      float64 `json:"createRequestP50Seconds"`
	CreateRequestMax      float64 `json:"createRequestMaxSeconds"`
	CreateRequestsSeconds float64 `json:"createRequestsDoneSeconds"`
	// Profiles are pprof summaries (what-if runs with -profile).
	Profiles []profile `json:"profiles,omitempty"`
}

type profile struct {
	Name string `json:"name"`
	Top  string `json:"top"`
}

type changeResult struct {
	phaseResult
	Value    string        `json:"value"`
	Timing   timing        `json:"timing"`
	Affected int           `json:"affectedObjects"`
	Writes   []stackWrites `json:"writesPerWebStack"`
	// Profiles are pprof summaries from the start of the first change (the profiled run).
	Profiles []profile `json:"profiles,omitempty"`
}

type unrelatedResult struct {
	Objects       int     `json:"objects"`
	CreateSeconds float64 `json:"createSeconds"`
	// Before and After are the restarted manager's memory, settled, without and with the
	// unrelated objects; RunningPeak is the running manager's peak while they were created.
	Before      phaseResult `json:"restartBefore"`
	After       phaseResult `json:"restartAfter"`
	RSSBefore   int64       `json:"rssBeforeBytes"`
	RSSAfter    int64       `json:"rssAfterBytes"`
	RunningRSS0 int64       `json:"runningRSSBeforeCreateBytes"`
	RunningPeak int64       `json:"runningPeakRSSDuringCreateBytes"`
}

type runResult struct {
	N        int              `json:"n"`
	Rep      int              `json:"rep"`
	Manager  string           `json:"manager"`
	Creation *creationResult  `json:"creation,omitempty"`
	Idle     *phaseResult     `json:"idle,omitempty"`
	Restart  *phaseResult     `json:"restart,omitempty"`
	Change   *changeResult    `json:"change,omitempty"`
	Baseline *baselineResult  `json:"baseline,omitempty"`
	Unrel    *unrelatedResult `json:"unrelated,omitempty"`
	Errors   []string         `json:"errors,omitempty"`
}

type baselineResult struct {
	Restart *phaseResult  `json:"restart,omitempty"`
	Idle    *phaseResult  `json:"idle,omitempty"`
	Change  *changeResult `json:"change,omitempty"`
}

// runPlan says what one run does.
type runPlan struct {
	n, rep    int
	manager   managerSpec
	idle      bool // the steady-state window and the restart
	baseline  *managerSpec
	unrelated int
}

// runner holds one run's control plane, watches and manager.
type runner struct {
	cfg     config
	plan    runPlan
	dir     string
	logPath string
	cp      *controlPlane
	tr      *tracker
	stacks  []stack
	mgr     *managerProc
	// lastProgress is when progress last logged.
	lastProgress time.Time
	// currentLabel names the running manager in the phase results.
	currentLabel string
	changes      int // change phases so far (picks the next value)
}

var errTimeout = errors.New("timed out")

func runOnce(ctx context.Context, cfg config, samples []*sample, plan runPlan) (res *runResult, err error) {
	r := &runner{cfg: cfg, plan: plan, dir: filepath.Join(cfg.tmp, fmt.Sprintf("n%d-%s-%d", plan.n, slug(plan.manager.label), plan.rep))}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return nil, err
	}
	r.logPath = filepath.Join(r.dir, "manager.log")
	r.currentLabel = plan.manager.label
	res = &runResult{N: plan.n, Rep: plan.rep, Manager: plan.manager.label}
	// The harness's watches end with runCtx, before the API server is stopped (open watches
	// hold up its shutdown).
	runCtx, cancel := context.WithCancel(ctx)
	r.cp, err = startControlPlane(runCtx, r.dir, cfg.namespaces)
	if err != nil {
		cancel()
		return nil, err
	}
	defer func() {
		if r.mgr != nil {
			r.mgr.stop()
		}
		cancel()
		if err := r.cp.stop(); err != nil {
			log.Printf("stopping the control plane: %v", err)
		}
	}()
	ctx = runCtx
	if r.tr, err = startTracker(ctx, r.cp.kube); err != nil {
		return nil, err
	}
	r.stacks = stacks(plan.n, cfg.namespaces, samples)
	if err := warmUp(ctx, r.cp.client, samples); err != nil {
		return nil, err
	}
	if err := r.startManager(ctx, plan.manager); err != nil {
		return nil, err
	}

	note := func(phase string, err error) {
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", phase, err))
			log.Printf("  %s: %v", phase, err)
		}
	}
	log.Printf("run N=%d #%d (%s): creating", plan.n, plan.rep, plan.manager.label)
	res.Creation, err = r.creation(ctx)
	note("creation", err)
	if err != nil && !errors.Is(err, errTimeout) {
		return res, nil
	}
	if plan.idle {
		log.Printf("  idle %s", cfg.idle)
		res.Idle = r.idleWindow(ctx, "idle", cfg.idle)
		log.Printf("  restart")
		res.Restart, err = r.restart(ctx, plan.manager, "restart")
		note("restart", err)
	}
	log.Printf("  change")
	res.Change, err = r.change(ctx, "change")
	note("change", err)
	if plan.baseline != nil {
		b := &baselineResult{}
		res.Baseline = b
		log.Printf("  baseline (%s): restart, idle %s, change", plan.baseline.label, cfg.baselineIdle)
		b.Restart, err = r.restart(ctx, *plan.baseline, "restart")
		note("baseline restart", err)
		b.Idle = r.idleWindow(ctx, "idle", cfg.baselineIdle)
		b.Change, err = r.change(ctx, "change")
		note("baseline change", err)
	}
	if plan.unrelated > 0 {
		log.Printf("  %d unrelated ConfigMaps and %d Secrets", plan.unrelated, plan.unrelated)
		res.Unrel, err = r.unrelated(ctx, plan.unrelated)
		note("unrelated objects", err)
	}
	return res, nil
}

func slug(s string) string {
	f := strings.FieldsFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') })
	return strings.Join(f, "-")
}

// snapshot is the CPU time used so far by each process, and the machine's.
type snapshot struct {
	at              time.Time
	mgr, api, etcd  float64
	self, busy, tot float64
}

func (r *runner) snap() snapshot { return takeSnapshot(r.cp, r.mgr.cpu()) }

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
	phase string
}

func (r *runner) begin(phase string) *window {
	w := &window{start: r.snap(), phase: phase}
	w.state, _ = r.mgr.controller()
	r.mgr.resetPeak()
	return w
}

// beginFresh starts a window before the manager process exists (its CPU starts at 0).
func (r *runner) beginFresh(phase string) *window {
	w := r.begin(phase)
	w.start.mgr, w.state = 0, controllerState{}
	return w
}

// end closes the window. CPU is counted up to busyEnd (when the work ended, before the
// quiet wait) if given; requests over the whole window, so that nothing late escapes.
func (r *runner) end(w *window, busyEnd *snapshot) phaseResult {
	end := r.snap()
	if busyEnd == nil {
		busyEnd = &end
	}
	p := phaseResult{Phase: w.phase, Manager: r.currentLabel, Seconds: end.at.Sub(w.start.at).Seconds(), BusySeconds: busyEnd.at.Sub(w.start.at).Seconds()}
	p.Requests = countRequests(r.cp.audit.between(w.start.at, end.at))
	if st, err := r.mgr.controller(); err == nil {
		p.Reconciles = st.reconciles - w.state.reconciles
		p.ReconcileErrors = st.errors - w.state.errors
		p.Workers = st.maxConcurrent
		p.HeapInuse, p.HeapAlloc = int64(st.heapInuse), int64(st.heapAlloc)
		p.RateLimiterSeconds = st.rateLimiter - w.state.rateLimiter
		p.RequestSeconds = st.requestTime - w.state.requestTime
		p.ReconcileSeconds = st.reconcileTime - w.state.reconcileTime
		p.ClientRequests = st.clientRequests - w.state.clientRequests
	}
	p.CPU = w.start.cpuUntil(*busyEnd)
	p.PeakRSS = r.mgr.resetPeak()
	p.RSS, p.HWM = r.mgr.memory()
	md := memoryDetail(r.mgr.pid)
	p.RSSAnon, p.RSSFile = md["RssAnon"], md["RssFile"]
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

// progress logs how far a long phase got, every 30 s.
func (r *runner) progress(what string, done int) {
	if time.Since(r.lastProgress) < 30*time.Second {
		return
	}
	if !r.lastProgress.IsZero() {
		st, _ := r.mgr.controller()
		log.Printf("    %d of %d WebStacks %s; %.0f reconciles, %.0f errors, queue %.0f", done, len(r.stacks), what, st.reconciles, st.errors, st.queueDepth)
	}
	r.lastProgress = time.Now()
}

// startManager starts a manager process and waits until its controller started its workers
// (its informers synced: "Starting workers" in its log), so that a phase measures the
// reconciler, not the start of the process.
func (r *runner) startManager(ctx context.Context, spec managerSpec) error {
	var offset int64
	if st, err := os.Stat(r.logPath); err == nil {
		offset = st.Size()
	}
	mgr, err := startManager(ctx, spec, r.cp.kubeconfig, r.logPath)
	if err != nil {
		return err
	}
	r.mgr = mgr
	r.currentLabel = spec.label
	deadline := time.Now().Add(time.Minute)
	for {
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
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// creation creates the N WebStacks at once and waits until every child of every one exists.
func (r *runner) creation(ctx context.Context) (*creationResult, error) {
	w := r.begin("creation")
	r.lastProgress = time.Now()
	// The CPU profiles start once a quarter of the WebStacks are complete: by then the first
	// reconciles of most of the others have run, the cluster holds most of the objects, and
	// costs that grow with them show.
	var prof *profiling
	deadline := w.start.at.Add(r.cfg.phaseTimeout)
	sent, returned, err := createStacks(ctx, r.cp.client, r.stacks, nil)
	if err != nil {
		return nil, err
	}
	res := &creationResult{ChildrenExpected: map[string]int{}, ChildrenFound: map[string]int{}}
	var latency []float64
	for i := range sent {
		latency = append(latency, returned[i].Sub(sent[i]).Seconds())
	}
	sort.Float64s(latency)
	res.CreateRequestP50, res.CreateRequestMax = percentile(latency, 50), latency[len(latency)-1]
	for _, t := range returned {
		res.CreateRequestsSeconds = math.Max(res.CreateRequestsSeconds, t.Sub(w.start.at).Seconds())
	}
	done := make([]time.Time, len(r.stacks))
	var waitErr error
	for {
		complete := 0
		for i, s := range r.stacks {
			if !done[i].IsZero() {
				complete++
				continue
			}
			last, ok := r.allSeen(s)
			if ok {
				done[i] = last
				complete++
			}
		}
		if 4*complete >= len(r.stacks) && prof == nil {
			prof = r.startProfiles(ctx, "creation", "from a quarter of the WebStacks created")
		}
		if complete == len(r.stacks) {
			break
		}
		if _, jerr := r.tr.jobState(); jerr != nil {
			waitErr = jerr
			break
		}
		if time.Now().After(deadline) {
			waitErr = fmt.Errorf("%d of %d WebStacks complete: %w", complete, len(r.stacks), errTimeout)
			break
		}
		r.progress("created", complete)
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
	res.Timing = timings(w.start.at, sent, done)
	var busyEnd *snapshot
	if waitErr == nil {
		busyEnd, waitErr = r.waitQuiet(ctx, deadline, 0)
	}
	res.phaseResult = r.end(w, busyEnd)
	res.TimedOut = errors.Is(waitErr, errTimeout)
	res.JobsCompleted, _ = r.tr.jobState()

	if prof != nil {
		res.Profiles = prof.wait()
		heapProfile := filepath.Join(r.dir, "after-creation-heap.pprof")
		if err := r.mgr.fetchProfile(ctx, "heap?gc=1", heapProfile); err != nil {
			res.Profiles = append(res.Profiles, profile{Name: "manager heap in use after creation", Top: err.Error()})
		} else {
			res.Profiles = append(res.Profiles, profile{Name: "manager heap in use after creation", Top: pprofTop(heapProfile, 25, "-sample_index=inuse_space")})
		}
	}
	counts, err := countChildren(ctx, r.cp.client)
	if err != nil && waitErr == nil {
		waitErr = err
	}
	for _, s := range r.stacks {
		res.ChildrenExpected[s.sample.name] = len(s.sample.children)
		found := counts[s.namespace+"/"+s.name]
		if have, ok := res.ChildrenFound[s.sample.name]; !ok || found < have {
			res.ChildrenFound[s.sample.name] = found
		}
	}
	res.Writes, res.Unattributed = r.stackWrites(w.start.at, w.start.at.Add(time.Duration(res.Seconds*float64(time.Second))))
	return res, waitErr
}

// allSeen reports whether every child of s exists, and when the last one appeared.
func (r *runner) allSeen(s stack) (time.Time, bool) {
	var last time.Time
	for _, c := range s.sample.children {
		at, ok := r.tr.firstSeen(c.key(s.namespace, s.name))
		if !ok {
			return time.Time{}, false
		}
		if at.After(last) {
			last = at
		}
	}
	return last, true
}

func timings(start time.Time, sent, done []time.Time) timing {
	t := timing{Of: len(sent)}
	var per []float64
	var last time.Time
	for i := range sent {
		if done[i].IsZero() {
			continue
		}
		t.Complete++
		per = append(per, done[i].Sub(sent[i]).Seconds())
		if done[i].After(last) {
			last = done[i]
		}
	}
	if t.Complete == 0 {
		return t
	}
	sort.Float64s(per)
	t.TotalSeconds = last.Sub(start).Seconds()
	t.P50, t.P99, t.Max = percentile(per, 50), percentile(per, 99), per[len(per)-1]
	return t
}

// percentile is the nearest-rank percentile of sorted xs.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// stackWrites attributes the writes of [from, to) to the WebStacks, per sample.
func (r *runner) stackWrites(from, to time.Time) ([]stackWrites, int) {
	per, unattributed := writesPerWebStack(r.cp.audit.between(from, to))
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
			if noEvents > sw.Children+2 {
				sw.Over++
			}
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
	return out, unattributed
}

// idleWindow measures d of doing nothing.
func (r *runner) idleWindow(ctx context.Context, phase string, d time.Duration) *phaseResult {
	w := r.begin(phase)
	_ = sleep(ctx, d)
	p := r.end(w, nil)
	return &p
}

// restart stops the manager and starts spec, and waits until it reconciled every WebStack
// and went quiet.
func (r *runner) restart(ctx context.Context, spec managerSpec, phase string) (*phaseResult, error) {
	r.mgr.stop()
	w := r.beginFresh(phase)
	if err := r.startManager(ctx, spec); err != nil {
		return nil, err
	}
	busyEnd, err := r.waitQuiet(ctx, w.start.at.Add(r.cfg.phaseTimeout), float64(len(r.stacks)))
	p := r.end(w, busyEnd)
	p.TimedOut = errors.Is(err, errTimeout)
	return &p, err
}

// change sets the change field on every WebStack and waits until every affected object
// (the Varnish ConfigMap's content, the cache Deployment's config hash) changed.
func (r *runner) change(ctx context.Context, phase string) (*changeResult, error) {
	value := changeValues[r.changes%len(changeValues)]
	r.changes++
	type obj struct {
		key, fp string
		stack   int
	}
	var objs []obj
	for i, s := range r.stacks {
		for _, c := range s.sample.affected {
			k := c.key(s.namespace, s.name)
			objs = append(objs, obj{key: k, fp: r.tr.current(k), stack: i})
		}
	}
	w := r.begin(phase)
	r.lastProgress = time.Now()
	var prof *profiling
	if r.changes == 1 {
		prof = r.startProfiles(ctx, "change", "from the start of the change")
	}
	deadline := w.start.at.Add(r.cfg.phaseTimeout)
	sent, err := patchStacks(ctx, r.cp.client, r.stacks, value, nil)
	if err != nil {
		return nil, err
	}
	res := &changeResult{Value: value, Affected: len(objs)}
	done := make([]time.Time, len(r.stacks))
	var waitErr error
	for {
		pending := map[int]bool{}
		last := make([]time.Time, len(r.stacks))
		for _, o := range objs {
			at, ok := r.tr.changedAfter(o.key, o.fp, w.start.at)
			if !ok {
				pending[o.stack] = true
				continue
			}
			if at.After(last[o.stack]) {
				last[o.stack] = at
			}
		}
		for i := range done {
			if !pending[i] {
				done[i] = last[i]
			}
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			waitErr = fmt.Errorf("%d of %d WebStacks changed: %w", len(r.stacks)-len(pending), len(r.stacks), errTimeout)
			break
		}
		r.progress("changed", len(r.stacks)-len(pending))
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
	res.Timing = timings(w.start.at, sent, done)
	var busyEnd *snapshot
	if waitErr == nil {
		busyEnd, waitErr = r.waitQuiet(ctx, deadline, 0)
	}
	res.phaseResult = r.end(w, busyEnd)
	res.TimedOut = errors.Is(waitErr, errTimeout)
	res.Writes, _ = r.stackWrites(w.start.at, w.start.at.Add(time.Duration(res.Seconds*float64(time.Second))))
	if prof != nil {
		res.Profiles = prof.wait()
	}
	return res, waitErr
}

// profiling is a pair of 30 s CPU profiles under way: the manager's and kube-apiserver's.
type profiling struct {
	name             string
	mgrFile, apiFile string
	mgr, api         chan error
}

// startProfiles starts 30 s CPU profiles of the manager and kube-apiserver if the manager
// serves pprof (nil if not); files are named after phase, profiles after when.
func (r *runner) startProfiles(ctx context.Context, phase, when string) *profiling {
	if r.mgr.pprofURL == "" {
		return nil
	}
	p := &profiling{name: "CPU for 30 s " + when, mgrFile: filepath.Join(r.dir, phase+"-cpu.pprof"), apiFile: filepath.Join(r.dir, phase+"-apiserver-cpu.pprof"),
		mgr: make(chan error, 1), api: make(chan error, 1)}
	go func() { p.mgr <- r.mgr.fetchProfile(ctx, "profile?seconds=30", p.mgrFile) }()
	go func() { p.api <- r.cp.fetchProfile(ctx, "profile?seconds=30", p.apiFile) }()
	return p
}

// wait waits for both profiles and summarises them (or says why one is missing).
func (p *profiling) wait() []profile {
	var out []profile
	if err := <-p.mgr; err != nil {
		out = append(out, profile{Name: "manager " + p.name, Top: err.Error()})
	} else {
		out = append(out, profile{Name: "manager " + p.name, Top: pprofTop(p.mgrFile, 25)})
	}
	if err := <-p.api; err != nil {
		out = append(out, profile{Name: "kube-apiserver " + p.name, Top: err.Error()})
	} else {
		out = append(out, profile{Name: "kube-apiserver " + p.name + ", cumulative", Top: pprofTop(p.apiFile, 45, "-cum")})
	}
	return out
}

// unrelated restarts the manager (settled memory without unrelated objects), creates n
// ConfigMaps and n Secrets it must not cache, and restarts it again.
func (r *runner) unrelated(ctx context.Context, n int) (*unrelatedResult, error) {
	res := &unrelatedResult{Objects: 2 * n}
	before, err := r.restart(ctx, r.plan.manager, "restart without unrelated objects")
	if err != nil {
		return nil, err
	}
	time.Sleep(r.cfg.settle)
	res.Before = *before
	res.RSSBefore, _ = r.mgr.memory()
	res.RunningRSS0 = res.RSSBefore
	r.mgr.resetPeak()
	start := time.Now()
	if err := createUnrelated(ctx, r.cp.client, n); err != nil {
		return nil, err
	}
	res.CreateSeconds = time.Since(start).Seconds()
	time.Sleep(r.cfg.quiet)
	res.RunningPeak = r.mgr.resetPeak()
	after, err := r.restart(ctx, r.plan.manager, "restart with unrelated objects")
	if err != nil {
		return nil, err
	}
	time.Sleep(r.cfg.settle)
	res.After = *after
	res.RSSAfter, _ = r.mgr.memory()
	return res, nil
}
