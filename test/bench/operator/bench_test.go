package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseMetricsAndSum(t *testing.T) {
	text := `# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="webstack",result="success"} 12
controller_runtime_reconcile_total{controller="webstack",result="error"} 3
controller_runtime_reconcile_total{controller="other",result="success"} 100
workqueue_depth{controller="webstack",name="webstack"} 7
rest_client_requests_total{code="200",host="127.0.0.1:6443",method="GET"} 5
rest_client_requests_total{code="201",host="a,b",method="POST"} 2
go_memstats_heap_inuse_bytes 1.048576e+06
# TYPE controller_runtime_reconcile_time_seconds histogram
controller_runtime_reconcile_time_seconds_bucket{controller="webstack",le="+Inf"} 15
controller_runtime_reconcile_time_seconds_sum{controller="webstack"} 2.5
controller_runtime_reconcile_time_seconds_count{controller="webstack"} 15
`
	samples, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		name  string
		match map[string]string
		want  float64
	}{
		"one controller, every result": {"controller_runtime_reconcile_total", map[string]string{"controller": "webstack"}, 15},
		"one label value":              {"controller_runtime_reconcile_total", map[string]string{"result": "success"}, 112},
		"gauge by name label":          {"workqueue_depth", map[string]string{"name": "webstack"}, 7},
		"comma inside a label value":   {"rest_client_requests_total", map[string]string{"host": "a,b"}, 2},
		"no labels, float notation":    {"go_memstats_heap_inuse_bytes", nil, 1 << 20},
		"absent metric":                {"nothing_here", nil, 0},
		"a histogram's sum":            {"controller_runtime_reconcile_time_seconds", map[string]string{"controller": "webstack"}, 2.5},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := sum(samples, tc.name, tc.match); got != tc.want {
				t.Errorf("sum(%s, %v) = %v, want %v", tc.name, tc.match, got, tc.want)
			}
		})
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	xs := make([]float64, 100)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	cases := map[string]struct {
		xs   []float64
		p    float64
		want float64
	}{
		"p50 of 1..100": {xs, 50, 50},
		"p99 of 1..100": {xs, 99, 99},
		"p99 of one":    {[]float64{3}, 99, 3},
		"p50 of two":    {[]float64{1, 2}, 50, 1},
		"empty":         {nil, 50, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := percentile(tc.xs, tc.p); got != tc.want {
				t.Errorf("percentile(p%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestRequestsAreAttributedToTheirWebStack(t *testing.T) {
	at := time.Unix(0, 0)
	rs := []request{
		{at: at, verb: "patch", resource: "deployments", name: "ws-0001-cache", code: 200},
		{at: at, verb: "create", resource: "events", name: "ws-0001.18eb17ff08f80da5", code: 201},
		{at: at, verb: "update", resource: "webstacks/status", name: "ws-0001", code: 409},
		{at: at, verb: "patch", resource: "configmaps", name: "ws-0010-cache-config", code: 200},
		{at: at, verb: "get", resource: "secrets", name: "ws-0001-redis-credentials", code: 404},
		{at: at, verb: "create", resource: "leases", name: "webstack-operator.webstack.dev", code: 201},
	}
	per, unattributed := writesPerWebStack(rs)
	if got := per["ws-0001"]; got["patch deployments"] != 1 || got["create events"] != 1 || got["update webstacks/status"] != 1 || len(got) != 3 {
		t.Errorf("ws-0001's writes = %v", got)
	}
	if got := per["ws-0010"]; got["patch configmaps"] != 1 || len(got) != 1 {
		t.Errorf("ws-0010's writes = %v (ws-0010 must not be taken for ws-0001)", got)
	}
	if unattributed != 1 {
		t.Errorf("unattributed = %d, want 1 (the lease)", unattributed)
	}
	c := countRequests(rs)
	if c.Writes != 5 || c.Reads != 1 || c.Failed["update webstacks/status 409"] != 1 || c.Failed["get secrets 404"] != 1 {
		t.Errorf("countRequests = %+v", c)
	}
}

func TestAuditLinesCountOncePerRequest(t *testing.T) {
	a := &auditLog{written: map[string][]time.Time{}}
	lines := []string{ // as kube-apiserver writes them: timestamps in microseconds
		// A watch counts when it starts, not when it ends.
		`{"stage":"ResponseStarted","verb":"watch","user":{"username":"webstack-operator-bench"},"objectRef":{"resource":"secrets"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:00.000001Z"}`,
		`{"stage":"ResponseComplete","verb":"watch","user":{"username":"webstack-operator-bench"},"objectRef":{"resource":"secrets"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:00.000001Z"}`,
		// Anything else at ResponseComplete, with its subresource.
		`{"stage":"ResponseComplete","verb":"update","user":{"username":"webstack-operator-bench"},"objectRef":{"resource":"webstacks","subresource":"status","namespace":"bench-00","name":"ws-0000"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:01.000000Z","stageTimestamp":"2026-01-01T00:00:01.500000Z"}`,
		// A write that failed writes nothing.
		`{"stage":"ResponseComplete","verb":"patch","user":{"username":"webstack-operator-bench"},"objectRef":{"resource":"configmaps","namespace":"bench-00","name":"ws-0000-cache-config"},"responseStatus":{"code":409},"requestReceivedTimestamp":"2026-01-01T00:00:01.000000Z","stageTimestamp":"2026-01-01T00:00:01.100000Z"}`,
		// Somebody else's request.
		`{"stage":"ResponseComplete","verb":"create","user":{"username":"admin"},"objectRef":{"resource":"webstacks"},"responseStatus":{"code":201},"requestReceivedTimestamp":"2026-01-01T00:00:02.000000Z"}`,
		`not json`,
	}
	for _, l := range lines {
		a.add([]byte(l))
	}
	got := countRequests(a.between(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)))
	if got.Reads != 1 || got.ReadsBy["watch secrets"] != 1 || got.Writes != 2 || got.WritesBy["update webstacks/status"] != 1 || got.Failed["patch configmaps 409"] != 1 {
		t.Errorf("counted %+v, want one watch, one status update and one failed patch", got)
	}
	start := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	if at, ok := a.writtenAfter("webstacks/status/bench-00/ws-0000", start); !ok || !at.Equal(start.Add(500*time.Millisecond)) {
		t.Errorf("the status was written at %v (%v), want when the API server answered, %v", at, ok, start.Add(500*time.Millisecond))
	}
	if _, ok := a.writtenAfter("webstacks/status/bench-00/ws-0000", start.Add(time.Second)); ok {
		t.Error("the status counts as written after the write")
	}
	if _, ok := a.writtenAfter("configmaps/bench-00/ws-0000-cache-config", start); ok {
		t.Error("a write answered 409 counts as written")
	}
}
