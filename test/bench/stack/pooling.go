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
	name           string
	mode           v1alpha1.PoolingMode
	specReplicas   int32
	maxConnections int32
	clients        int
	pooler         string
	firstError     string
	runs           []stack.LoadResult
}

// runPooling starts the sample three times, each with 10 app instances: with its default
// pooler (Transaction) and app.replicas 2, the 8 more instances started later as an
// autoscaler adds pods; with pooling None and app.replicas 10 (max_connections sized for
// them); and with pooling None and app.replicas 2 scaled the same way (max_connections sized
// for 2 pods). It loads every instance's threads with uncached database pages, c.runs times
// for c.duration, and returns the "pooling" section.
func runPooling(ctx context.Context, c config) (string, error) {
	began := time.Now()
	machine := report.DescribeMachine()
	var results []*poolingRun
	for _, r := range []*poolingRun{
		{name: "Transaction, 2 → 10 instances", mode: v1alpha1.PoolingTransaction, specReplicas: 2},
		{name: "None, sized for 10", mode: v1alpha1.PoolingNone, specReplicas: poolingApps},
		{name: "None, sized for 2, 2 → 10 instances", mode: v1alpha1.PoolingNone, specReplicas: 2},
	} {
		if err := measurePooling(ctx, c, r); err != nil {
			return "", fmt.Errorf("%s: %w", r.name, err)
		}
		results = append(results, r)
	}
	machine.LoadEnd = report.LoadAverage()
	return poolingReport(c, machine, results, time.Since(began)), nil
}

func measurePooling(ctx context.Context, c config, r *poolingRun) error {
	s, err := stack.Start(ctx, stack.Options{Root: c.root, People: 5000, Authors: 50, BooksPerAuthor: 5,
		Pooling: r.mode, AppReplicas: r.specReplicas, Logf: logf})
	if err != nil {
		return err
	}
	defer s.Stop()
	if _, err := s.StartApps(ctx, poolingApps-len(s.Apps)); err != nil {
		return err
	}
	t := s.Tuning
	r.maxConnections = t.Database.MaxConnections
	r.clients = len(s.Apps) * int(t.App.WorkersPerPod*t.App.ThreadsPerWorker)
	if p := t.Pooler; p != nil {
		r.pooler = fmt.Sprintf("%d × pgbouncer, pool %d + reserve %d, max_client_conn %d", p.Replicas, p.PoolSize, p.ReservePoolSize, p.MaxClientConnections)
	}
	logf("%s: warming up", r.name)
	s.Load(ctx, r.clients, warmup)
	for i := range c.runs {
		res := s.Load(ctx, r.clients, c.duration)
		logf("%s run %d/%d: %.0f req/s, p99 %s, %d backends, PostgreSQL %d MiB, %d errors (%v)", r.name, i+1, c.runs,
			res.RequestsPerSecond(), res.Percentile(99), res.PeakBackends, res.PostgresKiB/1024, res.Errors, res.FirstError)
		r.runs = append(r.runs, res)
		if res.Errors > 0 && r.firstError == "" {
			r.firstError = res.FirstError.Error()
		}
	}
	return ctx.Err()
}

func poolingReport(c config, m report.Machine, results []*poolingRun, took time.Duration) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks: PgBouncer in front of PostgreSQL, or not\n\n")
	p("Written by `make bench-stack` (`go run ./test/bench/stack`, source in [test/bench/stack/pooling.go](../test/bench/stack/pooling.go)) on %s; the run took %s.\n",
		time.Now().UTC().Format("2006-01-02"), took.Round(time.Second))
	p("Machine as in the section above: %s, %d cores, load average %s before, %s after (everything, load generator included, on these cores;\n", m.CPUModel, m.CPUs, m.LoadStart, m.LoadEnd)
	p("other work on the machine makes runs vary: compare the ranges, not only the medians).\n\n")
	p("The sample stack (`%s`) three times, each with %d gunicorn instances on 5000 people: with its default\n", stack.SampleFile, poolingApps)
	p("`database.pooling` (mode Transaction) and `app.replicas: 2`, 8 instances added later as an autoscaler adds pods; with\n")
	p("`mode: None` and `app.replicas: %d` (max_connections counts them); and with `mode: None`, `app.replicas: 2` and the same 8 added.\n", poolingApps)
	p("Every app thread gets one client (keep-alive, straight to its instance), requesting in turn `%s` and `%s`\n", stack.LoadPaths[0], stack.LoadPaths[1])
	p("for random people: uncached (no Varnish), each a PostgreSQL query. %d runs of %s after a %s warm-up; medians, with the range.\n", c.runs, c.duration, warmup)
	p("Backends are PostgreSQL's connections of the app role (pg_stat_activity, sampled every 100 ms); memory is the\n")
	p("proportional set size of every PostgreSQL process (shared buffers counted once), the most seen during a run.\n\n")
	p("| pooling | max_connections | clients | req/s | p50 | p99 | req/s range | p99 range | app backends (max) | PostgreSQL memory (max) | errors |\n")
	p("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |\n")
	p99s := map[string]time.Duration{}
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
		p99s[r.name] = report.Median(p99)
		p("| %s | %d | %d | %.0f | %s | %s | %.0f–%.0f | %s–%s | %d | %d MiB | %d |\n", r.name, r.maxConnections, r.clients,
			report.Median(rps), ms(report.Median(p50)), ms(report.Median(p99)), slices.Min(rps), slices.Max(rps),
			ms(slices.Min(p99)), ms(slices.Max(p99)), slices.Max(backends), slices.Max(mem)/1024, errs)
	}
	p("\n")
	for _, r := range results {
		if r.mode == v1alpha1.PoolingNone {
			p("- %s: no pooler.", r.name)
		} else {
			p("- %s: pooler %s (sized for the spec's app.replicas; the bench does not reload it for the added instances).", r.name, r.pooler)
		}
		if r.firstError != "" {
			p(" The first error: `%s`; the app role had at most %d backends, max_connections %d less the 3 reserved for superusers: the app's other connections were refused.",
				r.firstError, maxBackends(r), r.maxConnections)
		}
		p("\n")
	}
	if len(results) > 1 && p99s[results[1].name] > 0 {
		d, pooled := p99s[results[1].name], p99s[results[0].name]
		p("- Pooled p99 is %.0f%% of the direct p99 sized for 10 instances (the issue asks for at most 110%%).\n", 100*float64(pooled)/float64(d))
	}
	p("\nWith the pooler, max_connections comes from the database's CPU and the pooler replicas, not from the app:\n")
	p("scaling the app changes only pgbouncer's max_client_conn (a reloadable setting); without it, every app thread is a backend.\n")
	return b.String()
}

// maxBackends is the most app backends of any run.
func maxBackends(r *poolingRun) int {
	n := 0
	for _, x := range r.runs {
		n = max(n, x.PeakBackends)
	}
	return n
}
