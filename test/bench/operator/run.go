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

// cpuUse is the CPU seconds each process used in a window; Other is the rest of the machine
// (it is shared), Utilization its busy time over wall time × CPUs.
type cpuUse struct {
	Manager     float64 `json:"manager"`
	APIServer   float64 `json:"kubeAPIServer"`
	Etcd        float64 `json:"etcd"`
	Harness     float64 `json:"harness"`
	Other       float64 `json:"other"`
	Utilization float64 `json:"utilization"`
}

// timing is a phase's latency per WebStack (from its request to its last affected object)
// and in total (from the first request to the last object).
type timing struct {
	TotalSeconds float64 `json:"totalSeconds"`
	P50          float64 `json:"p50Seconds"`
	P99          float64 `json:"p99Seconds"`
}

// phase is what one phase measured, from its start to the manager's quiescence. BusySeconds
// ends with the work (the manager idle, its last request made), before the quiet wait; CPU is
// counted over it. Requests are the manager's, from the audit log. RSS, HWM (VmHWM, the peak
// since the process started) and HeapInuse are at the end.
type phase struct {
	Seconds          float64       `json:"seconds"`
	BusySeconds      float64       `json:"busySeconds"`
	Requests         requestCounts `json:"requests"`
	Reconciles       float64       `json:"reconciles"`
	ReconcileErrors  float64       `json:"reconcileErrors"`
	ReconcileSeconds float64       `json:"reconcileSeconds"` // inside Reconcile, summed over workers
	Workers          float64       `json:"workers"`
	CPU              cpuUse        `json:"cpuSeconds"`
	RSS              int64         `json:"rssBytes"`
	HWM              int64         `json:"hwmBytes"`
	HeapInuse        int64         `json:"heapInuseBytes"`
	// Timing and Writes are for the phases that act on every WebStack (creation, change).
	Timing   *timing       `json:"timing,omitempty"`
	Writes   []stackWrites `json:"writesPerWebStack,omitempty"`
	Profiles []profile     `json:"profiles,omitempty"`
	TimedOut bool          `json:"timedOut,omitempty"`
}

// stackWrites are the writes per WebStack of one sample in one phase: mean and max, ...NoEvents
// without Events, and By the mean by "verb resource".
type stackWrites struct {
	Sample       string             `json:"sample"`
	Stacks       int                `json:"stacks"`
	Children     int                `json:"children"`
	Mean         float64            `json:"mean"`
	Max          int                `json:"max"`
	MeanNoEvents float64            `json:"meanWithoutEvents"`
	MaxNoEvents  int                `json:"maxWithoutEvents"`
	By           map[string]float64 `json:"by"`
}

type profile struct {
	Name string `json:"name"`
	Top  string `json:"top"`
}

type runResult struct {
	N        int      `json:"n"`
	Rep      int      `json:"rep"`
	Creation *phase   `json:"creation,omitempty"`
	Idle     *phase   `json:"idle,omitempty"`
	Restart  *phase   `json:"restart,omitempty"`
	Change   *phase   `json:"change,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

// runner holds one run's control plane and manager.
type runner struct {
	cfg    config
	bin    string
	pprof  bool
	dir    string
	cp     *controlPlane
	stacks []stack
	mgr    *managerProc
}

var errTimeout = errors.New("timed out")

// runOnce measures n WebStacks on a fresh control plane: creation, the idle window, a
// restart and the change.
func runOnce(ctx context.Context, cfg config, bin string, samples []*sample, n, rep int) (*runResult, error) {
	dir := filepath.Join(cfg.tmp, fmt.Sprintf("n%d-%d", n, rep))
	r := &runner{cfg: cfg, bin: bin, pprof: rep == 1 && n == cfg.ProfileAt, dir: dir, stacks: stacks(n, cfg.Namespaces, samples)}
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
		if res.Creation, err = r.track(ctx, "creation", 0.25, createStacks, func(s stack) []child { return s.sample.children }); !ok("creation", err) {
			return nil
		}
		log.Printf("  idle %s, restart, change", cfg.Idle)
		w := r.begin()
		_ = sleep(ctx, cfg.Idle)
		res.Idle = r.end(w, nil)
		res.Restart, err = r.restart(ctx)
		ok("restart", err)
		res.Change, err = r.track(ctx, "change", 0, patchStacks, func(s stack) []child { return s.sample.affected })
		ok("change", err)
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
	return w
}

// end closes the window. CPU is counted up to busyEnd (the end of the work, before the quiet
// wait) if given; requests over the whole window, so that nothing late escapes.
func (r *runner) end(w *window, busyEnd *snapshot) *phase {
	end := r.snap()
	if busyEnd == nil {
		busyEnd = &end
	}
	p := &phase{Seconds: end.at.Sub(w.start.at).Seconds(), BusySeconds: busyEnd.at.Sub(w.start.at).Seconds(), CPU: w.start.cpuUntil(*busyEnd)}
	p.Requests = countRequests(r.cp.audit.between(w.start.at, end.at))
	if st, err := r.mgr.controller(); err == nil {
		p.Reconciles = st.reconciles - w.state.reconciles
		p.ReconcileErrors = st.errors - w.state.errors
		p.ReconcileSeconds = st.reconcileTime - w.state.reconcileTime
		p.Workers, p.HeapInuse = st.maxConcurrent, int64(st.heapInuse)
	}
	p.RSS, p.HWM = memory(r.mgr.pid)
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

func (r *runner) startManager(ctx context.Context) (err error) {
	r.mgr, err = startManager(ctx, r.bin, r.pprof, r.cfg.MemoryLimit, r.cp.kubeconfig, filepath.Join(r.dir, "manager.log"))
	return err
}

// waitQuiet waits until the manager has nothing queued or running, has reconciled at least
// minReconciles times since it started, and has sent no request for cfg.Quiet. It returns
// the snapshot of when that state began (the end of the work).
func (r *runner) waitQuiet(ctx context.Context, deadline time.Time, minReconciles float64) (*snapshot, error) {
	var snaps []snapshot
	var idleSince time.Time
	for {
		now := r.snap()
		snaps = append(snaps, now)
		st, err := r.mgr.controller()
		idle := err == nil && st.queueDepth == 0 && st.activeWorkers == 0 && st.reconciles >= minReconciles
		if !idle {
			idleSince = time.Time{}
		} else if idleSince.IsZero() {
			idleSince = now.at
		}
		if last := r.cp.audit.quietSince(); idle && time.Since(last) >= r.cfg.Quiet {
			at := maxTime(idleSince, last)
			return &snaps[slices.IndexFunc(snaps, func(s snapshot) bool { return !s.at.Before(at) })], nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("waiting for the manager to go quiet: %w", errTimeout)
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// track measures a phase that acts on every WebStack: act sends the requests; a WebStack is
// done when the manager has written each of its children that written names since the
// phase began. It waits for every WebStack, then for the manager to go quiet. With pprof, it
// profiles the manager and kube-apiserver once a share profileFrom of the WebStacks are done
// (for creation a quarter: by then most first reconciles ran, and costs that grow with the
// objects show).
func (r *runner) track(ctx context.Context, name string, profileFrom float64, act actFunc, written func(s stack) []child) (*phase, error) {
	w := r.begin()
	deadline := w.start.at.Add(r.cfg.PhaseTimeout)
	var profiles chan []profile
	startProfiles := func(complete int) {
		if r.pprof && profiles == nil && float64(complete) >= profileFrom*float64(len(r.stacks)) {
			profiles = r.profile(ctx, name, profileFrom)
		}
	}
	startProfiles(0)
	sent, err := act(ctx, r.cp.client, r.stacks, nil)
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
	if profiles != nil {
		p.Profiles = <-profiles
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
	return sorted[max(1, int(math.Ceil(p/100*float64(len(sorted)))))-1]
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
			sw.Stacks, sw.Children = sw.Stacks+1, len(s.sample.children)
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
			sw.Max, sw.MaxNoEvents = max(sw.Max, total), max(sw.MaxNoEvents, noEvents)
		}
		if sw.Stacks == 0 {
			continue
		}
		n := float64(sw.Stacks)
		sw.Mean, sw.MeanNoEvents = sw.Mean/n, sw.MeanNoEvents/n
		for k := range sw.By {
			sw.By[k] /= n
		}
		out = append(out, sw)
	}
	return out
}

// restart stops the manager (SIGTERM), starts a new one, and waits until it reconciled
// every WebStack and went quiet.
func (r *runner) restart(ctx context.Context) (*phase, error) {
	r.mgr.stop()
	w := r.begin()
	w.start.mgr, w.state = 0, controllerState{} // the new process starts from 0
	if err := r.startManager(ctx); err != nil {
		return nil, err
	}
	busyEnd, err := r.waitQuiet(ctx, w.start.at.Add(r.cfg.PhaseTimeout), float64(len(r.stacks)))
	p := r.end(w, busyEnd)
	p.TimedOut = errors.Is(err, errTimeout)
	return p, err
}

// profile takes 30 s CPU profiles of the manager and kube-apiserver, into files named after
// the phase, and sends their summaries when both are done.
func (r *runner) profile(ctx context.Context, phase string, from float64) chan []profile {
	when := phase + " CPU for 30 s from the start"
	if from > 0 {
		when = fmt.Sprintf("%s CPU for 30 s from %.0f%% of the WebStacks done", phase, 100*from)
	}
	out := make(chan []profile, 1)
	go func() {
		api := make(chan string, 1)
		go func() {
			raw, err := r.cp.apiServerProfile(ctx)
			api <- pprofTop(raw, err, filepath.Join(r.dir, phase+"-apiserver-cpu.pprof"), 45, "-cum")
		}()
		raw, err := r.mgr.managerProfile(ctx)
		mgr := pprofTop(raw, err, filepath.Join(r.dir, phase+"-cpu.pprof"), 25)
		out <- []profile{{Name: "manager, " + when, Top: mgr}, {Name: "kube-apiserver, " + when + ", cumulative", Top: <-api}}
	}()
	return out
}
