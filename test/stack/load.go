package stack

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LoadResult is what Load measured.
type LoadResult struct {
	Duration         time.Duration
	Requests, Errors int
	FirstError       error
	// Latencies are every request's, sorted.
	Latencies []time.Duration
	// PeakBackends is the most PostgreSQL backends of the app role seen at once;
	// PeakPoolerClients the most TCP connections to the pooler (-1 without ss or a pooler).
	PeakBackends, PeakPoolerClients int
	// PostgresKiB is the most memory (proportional set size) PostgreSQL's processes used at
	// once.
	PostgresKiB int64
}

// RequestsPerSecond is the rate over the whole run.
func (r LoadResult) RequestsPerSecond() float64 { return float64(r.Requests) / r.Duration.Seconds() }

// Percentile is the q-th percentile latency, rounded to 0.1ms.
func (r LoadResult) Percentile(q int) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.Latencies[min(len(r.Latencies)-1, len(r.Latencies)*q/100)].Round(100 * time.Microsecond)
}

// LoadPaths are the pages Load requests, in turn: a person's API record and a person's
// page, each a query on PostgreSQL (the person's id is random).
var LoadPaths = []string{"/api/people/%d/", "/people/%d/"}

// Load runs clients concurrent HTTP clients for d against the app instances directly (client
// i on instance i mod n, keep-alive), each requesting LoadPaths in turn with random people
// of the first 5000; every answer but 200 is an error. Every 100ms it samples the app
// role's backends, the client connections to the pooler and PostgreSQL's memory.
func (s *Stack) Load(ctx context.Context, clients int, d time.Duration) LoadResult {
	var res LoadResult
	var mu sync.Mutex
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 30 * time.Second}
			defer c.CloseIdleConnections()
			base := "http://" + s.Apps[i%len(s.Apps)].Addr
			for n := 0; !stop.Load() && ctx.Err() == nil; n++ {
				path := fmt.Sprintf(LoadPaths[n%len(LoadPaths)], 1+rand.IntN(5000))
				t0 := time.Now()
				r, err := c.Get(base + path)
				if err == nil {
					_, _ = io.Copy(io.Discard, r.Body)
					r.Body.Close()
					if r.StatusCode != http.StatusOK {
						err = fmt.Errorf("GET %s: %s", path, r.Status)
					}
				}
				took := time.Since(t0)
				mu.Lock()
				res.Requests++
				res.Latencies = append(res.Latencies, took)
				if err != nil {
					res.Errors++
					if res.FirstError == nil {
						res.FirstError = err
					}
				}
				mu.Unlock()
			}
		}()
	}
	res.PeakPoolerClients = -1
	for time.Since(start) < d && ctx.Err() == nil {
		if n, err := s.AppBackends(ctx); err == nil {
			res.PeakBackends = max(res.PeakBackends, n)
		}
		if len(s.Poolers) > 0 {
			res.PeakPoolerClients = max(res.PeakPoolerClients, establishedTo(s.PoolerAddr))
		}
		res.PostgresKiB = max(res.PostgresKiB, s.PostgresKiB())
		time.Sleep(100 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	res.Duration = time.Since(start)
	slices.Sort(res.Latencies)
	return res
}

// establishedTo counts the established TCP connections to the local addr (ss), -1 when ss
// fails.
func establishedTo(addr string) int {
	_, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("ss", "-Htn", "state", "established", "( sport = :"+port+" )").Output()
	if err != nil {
		return -1
	}
	if strings.TrimSpace(string(out)) == "" {
		return 0
	}
	return len(strings.Split(strings.TrimSpace(string(out)), "\n"))
}

// PostgresKiB is the proportional set size of PostgreSQL's processes (the postmaster's
// process group: every backend and auxiliary process) in KiB: shared buffers count once,
// split over the processes that touched them.
func (s *Stack) PostgresKiB() int64 {
	if s.Postgres == nil {
		return 0
	}
	pgid := strconv.Itoa(s.Postgres.cmd.Process.Pid)
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var total int64
	for _, stat := range stats {
		b, err := os.ReadFile(stat)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 3 || f[2] != pgid {
			continue
		}
		rollup, err := os.ReadFile(filepath.Join(filepath.Dir(stat), "smaps_rollup"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(rollup), "\n") {
			if v, ok := strings.CutPrefix(line, "Pss:"); ok {
				kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				total += kib
			}
		}
	}
	return total
}
