package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/test/bench/report"
	"github.com/webstack-dev/webstack-operator/test/stack"
)

// poolingApps is how many app instances the comparison runs: the sample's 2 plus 8 more,
// as an autoscaler would add, so that the app's threads exceed the pooled max_connections.
const poolingApps = 10

// poolingRun is one stack's measurements.
type poolingRun struct {
	mode           v1alpha1.PoolingMode
	maxConnections int32
	clients        int
	pooler         string
	runs           []stack.LoadResult
}

// runPooling starts the sample twice, with its default pooler (Transaction) and with
// pooling None, scales each to 10 app instances and loads every instance's threads with
// uncached database pages, c.runs times for c.duration, and returns the "pooling" section.
func runPooling(ctx context.Context, c config) (string, error) {
	began := time.Now()
	machine := report.DescribeMachine()
	var results []*poolingRun
	for _, mode := range []v1alpha1.PoolingMode{v1alpha1.PoolingTransaction, v1alpha1.PoolingNone} {
		r, err := measurePooling(ctx, c, mode)
		if err != nil {
			return "", fmt.Errorf("pooling %s: %w", mode, err)
		}
		results = append(results, r)
	}
	machine.LoadEnd = report.LoadAverage()
	return poolingReport(c, machine, results, time.Since(began)), nil
}

func measurePooling(ctx context.Context, c config, mode v1alpha1.PoolingMode) (*poolingRun, error) {
	s, err := stack.Start(ctx, stack.Options{Root: c.root, People: 5000, Authors: 50, BooksPerAuthor: 5, Pooling: mode, Logf: logf})
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	if _, err := s.StartApps(ctx, poolingApps-len(s.Apps)); err != nil {
		return nil, err
	}
	t := s.Tuning
	r := &poolingRun{mode: mode, maxConnections: t.Database.MaxConnections,
		clients: len(s.Apps) * int(t.App.WorkersPerPod*t.App.ThreadsPerWorker), pooler: "none"}
	if p := t.Pooler; p != nil {
		r.pooler = fmt.Sprintf("%d × pgbouncer, pool %d + reserve %d, max_client_conn %d", p.Replicas, p.PoolSize, p.ReservePoolSize, p.MaxClientConnections)
	}
	logf("pooling %s: warming up", mode)
	s.Load(ctx, r.clients, c.warmup)
	for i := range c.runs {
		res := s.Load(ctx, r.clients, c.duration)
		if res.Errors > 0 {
			return nil, fmt.Errorf("%d errors, the first: %v", res.Errors, res.FirstError)
		}
		logf("pooling %s run %d/%d: %.0f req/s, p99 %s, %d backends, PostgreSQL %d MiB", mode, i+1, c.runs,
			res.RequestsPerSecond(), res.Percentile(99), res.PeakBackends, res.PostgresKiB/1024)
		r.runs = append(r.runs, res)
	}
	return r, nil
}

func poolingReport(c config, m report.Machine, results []*poolingRun, took time.Duration) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks: PgBouncer in front of PostgreSQL, or not\n\n")
	p("Written by `make bench-stack` (`go run ./test/bench/stack`, source in [test/bench/stack/pooling.go](../test/bench/stack/pooling.go)) on %s; the run took %s.\n",
		time.Now().UTC().Format("2006-01-02"), took.Round(time.Second))
	p("Machine as in the section above: %s, %d cores, load average %s before, %s after (everything, load generator included, on these cores).\n\n",
		m.CPUModel, m.CPUs, m.LoadStart, m.LoadEnd)
	p("The sample stack (`%s`) twice: with its default `database.pooling` (mode Transaction) and with `mode: None`,\n", stack.SampleFile)
	p("each scaled to %d gunicorn instances (the sample's 2 plus 8, as an autoscaler would add) on 5000 people.\n", poolingApps)
	p("Every app thread gets one client (keep-alive, straight to its instance), requesting in turn `%s` and `%s`\n", stack.LoadPaths[0], stack.LoadPaths[1])
	p("for random people: uncached (no Varnish), each a PostgreSQL query. %d runs of %s after a %s warm-up; medians, with the range.\n", c.runs, c.duration, c.warmup)
	p("Backends are PostgreSQL's connections of the app role (pg_stat_activity, sampled every 100 ms); memory is the\n")
	p("proportional set size of every PostgreSQL process (shared buffers counted once), the most seen during a run.\n\n")
	p("| pooling | max_connections | clients | req/s | p50 | p99 | req/s range | p99 range | app backends (max) | PostgreSQL memory (max) | errors |\n")
	p("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |\n")
	p99s := map[v1alpha1.PoolingMode]time.Duration{}
	for _, r := range results {
		var rps []float64
		var p50, p99 []time.Duration
		var backends []int
		var mem []int64
		errs := 0
		for _, x := range r.runs {
			rps, p50, p99 = append(rps, x.RequestsPerSecond()), append(p50, x.Percentile(50)), append(p99, x.Percentile(99))
			backends, mem = append(backends, x.PeakBackends), append(mem, x.PostgresKiB)
			errs += x.Errors
		}
		p99s[r.mode] = report.Median(p99)
		p("| %s | %d | %d | %.0f | %s | %s | %.0f–%.0f | %s–%s | %d | %d MiB | %d |\n", r.mode, r.maxConnections, r.clients,
			report.Median(rps), ms(report.Median(p50)), ms(report.Median(p99)), slices.Min(rps), slices.Max(rps),
			ms(slices.Min(p99)), ms(slices.Max(p99)), slices.Max(backends), slices.Max(mem)/1024, errs)
	}
	p("\n")
	for _, r := range results {
		p("- %s: %s.\n", r.mode, r.pooler)
	}
	if d, pooled := p99s[v1alpha1.PoolingNone], p99s[v1alpha1.PoolingTransaction]; d > 0 {
		p("- Pooled p99 is %.0f%% of direct p99 (the issue asks for at most 110%%).\n", 100*float64(pooled)/float64(d))
	}
	p("\nWith the pooler, max_connections comes from the database's CPU and the pooler replicas, not from the app:\n")
	p("scaling the app changes only pgbouncer's max_client_conn (reloaded in place); without it, every app thread is a backend.\n")
	return b.String()
}
