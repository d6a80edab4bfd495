package tuning

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// numbers are every number of a Result, flattened so that a table case can state them all.
// Components that are absent (disabled, or no tasks) are all zero.
type numbers struct {
	App         [4]int64 // workersPerPod, threadsPerWorker, maxPods, terminationGracePeriodSeconds
	Tasks       [3]int32 // concurrency, pods, beat
	DB          [6]int64 // maxConnections, connectionBudget, sharedBuffers, effectiveCacheSize, workMem, maintenanceWorkMem (MiB)
	Redis       int64    // maxMemory (MiB)
	RedisPolicy string   // maxMemoryPolicy
	Broker      int64    // maxMemory (MiB)
	Cache       [2]int64 // storage, transient (MiB)
	LB          [4]int32 // maxConnections, threads, serverMaxConnections, serverSlots
	Warnings    int
}

func numbersOf(r Result) numbers {
	n := numbers{
		App:      [4]int64{int64(r.App.WorkersPerPod), int64(r.App.ThreadsPerWorker), int64(r.App.MaxPods), r.App.TerminationGracePeriodSeconds},
		LB:       [4]int32{r.LoadBalancer.MaxConnections, r.LoadBalancer.Threads, r.LoadBalancer.ServerMaxConnections, r.LoadBalancer.ServerSlots},
		Warnings: len(r.Warnings),
	}
	if t := r.Tasks; t != nil {
		n.Tasks = [3]int32{t.Concurrency, t.Pods, t.Beat}
	}
	if d := r.Database; d != nil {
		n.DB = [6]int64{int64(d.MaxConnections), int64(d.ConnectionBudget), d.SharedBuffersMiB, d.EffectiveCacheSizeMiB, d.WorkMemMiB, d.MaintenanceWorkMemMiB}
	}
	if c := r.Redis; c != nil {
		n.Redis, n.RedisPolicy = c.MaxMemoryMiB, c.MaxMemoryPolicy
	}
	if b := r.Broker; b != nil {
		n.Broker = b.MaxMemoryMiB
	}
	if c := r.Cache; c != nil {
		n.Cache = [2]int64{c.StorageMiB, c.TransientMiB}
	}
	return n
}

// The default numbers, for reading the table below: the app gets cpu 1 and 512Mi, so
// workers = min(floor(2 x 1) + 1, floor(512Mi / 128Mi)) = min(3, 4) = 3 on 2 pods; the
// database gets 1Gi (1024Mi): budget = 2 x 3 x 1 + 10 = 16, sharedBuffers 256Mi,
// effectiveCacheSize 768Mi, workMem = (1024 - 256) / (16 x 3) = 16Mi, maintenanceWorkMem 64Mi;
// redis 3/4 x 256Mi = 192Mi; varnish 3/5 x 512Mi = 307Mi and 1/10 x 512Mi = 51Mi; HAProxy
// cpu 500m -> 1 thread, ceil(3 x 1 / 2 replicas) = 2 per app server.
var (
	defaultDB    = [6]int64{16, 16, 256, 768, 16, 64}
	defaultCache = [2]int64{307, 51}
)

func TestFor(t *testing.T) {
	cases := map[string]struct {
		opts []option
		want numbers
		// explain are exact explanations of some lines, by path, for a reviewer to read.
		explain map[string]string
	}{
		"defaults": {
			want: numbers{App: [4]int64{3, 1, 2, 45}, DB: defaultDB, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 2, 8}},
			explain: map[string]string{
				"app.workersPerPod":                 "min(floor(2 x 1 cores) + 1, max(1, floor(512Mi / 128Mi))) = min(3, 4) = 3; cpu 1 (default), memory 512Mi (default)",
				"app.maxPods":                       "app.replicas unset: 2 (default)",
				"app.terminationGracePeriodSeconds": "ceil(timeouts.server 30s + timeouts.queue 10s + 5s) = 45s: a stopping pod finishes every request HAProxy may still hold",
				"database.maxConnections":           "app 2 pods x 3 workers x 1 threads + 10 reserved = 16 (reserved: 3 superuser, the migration Job, admin and monitoring sessions)",
				"database.sharedBuffers":            "1024Mi / 4 = 256Mi; memory 1Gi = 1024Mi (default)",
				"database.workMem":                  "max(4Mi, (1024Mi - 256Mi) / (16 connections x 3)) = max(4Mi, 16Mi) = 16Mi",
				"loadBalancer.threads":              "min(64, max(1, floor(0.5 cores))) = 1; cpu 500m (default)",
			},
		},
		"issue example: autoscaling to 10 pods, 2 task replicas without beat": {
			// budget = 10 x 3 x 1 + 2 x 1 + 0 + 10 = 42; workMem = 768 / 126 = 6
			opts: []option{withAutoscaling(2, 10), withTasks(2)},
			want: numbers{App: [4]int64{3, 1, 10, 45}, Tasks: [3]int32{1, 2, 0}, DB: [6]int64{42, 42, 256, 768, 6, 64},
				Redis: 192, RedisPolicy: "allkeys-lru", Broker: 128, Cache: defaultCache, LB: [4]int32{4096, 1, 2, 16}},
			explain: map[string]string{
				"app.maxPods":             "app.autoscaling.maxReplicas = 10",
				"tasks.concurrency":       "min(max(1, floor(1 cores)), max(1, floor(512Mi / 128Mi))) = min(1, 4) = 1; cpu 1 (default), memory 512Mi (default)",
				"database.maxConnections": "app 10 pods x 3 workers x 1 threads + tasks 2 pods x concurrency 1 + beat 0 + 10 reserved = 42 (reserved: 3 superuser, the migration Job, admin and monitoring sessions)",
				"broker.maxMemory":        "1/2 x 256Mi = 128Mi (append-only file on: fork headroom for its rewrites); memory 256Mi (default)",
			},
		},
		"explicit workers and threads win": {
			// budget = 3 x 8 x 4 + 10 = 106; workMem = max(4, 768 / 318 = 2) = 4; ceil(32 / 2) = 16
			opts: []option{withWorkers(8), withThreads(4), withReplicas(3), withResources(App, list("cpu", "1", "memory", "128Mi"), nil)},
			want: numbers{App: [4]int64{8, 4, 3, 45}, DB: [6]int64{106, 106, 256, 768, 4, 64}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 16, 8}},
			explain: map[string]string{
				"app.workersPerPod":                 "app.workers = 8 (explicit)",
				"app.threadsPerWorker":              "app.threads = 4",
				"app.maxPods":                       "app.replicas = 3",
				"database.workMem":                  "max(4Mi, (1024Mi - 256Mi) / (106 connections x 3)) = max(4Mi, 2Mi) = 4Mi",
				"loadBalancer.serverMaxConnections": "max(1, ceil(8 workers x 4 threads / 2 HAProxy replicas)) = 16: together the HAProxy pods never send an app pod more requests than it can serve; the rest queue",
			},
		},
		"limits win over requests": {
			// workers = min(floor(2 x 4) + 1, floor(2Gi / 128Mi)) = min(9, 16) = 9; budget 2 x 9 + 10 = 28; workMem 768 / 84 = 9
			opts: []option{withResources(App, list("cpu", "4", "memory", "2Gi"), list("cpu", "1", "memory", "1Gi"))},
			want: numbers{App: [4]int64{9, 1, 2, 45}, DB: [6]int64{28, 28, 256, 768, 9, 64}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 5, 8}},
			explain: map[string]string{
				"app.workersPerPod": "min(floor(2 x 4 cores) + 1, max(1, floor(2Gi / 128Mi))) = min(9, 16) = 9; cpu 4 (limits.cpu), memory 2Gi (limits.memory)",
			},
		},
		"requests when there are no limits": {
			// workers = min(5, 8) = 5; budget 2 x 5 + 10 = 20; workMem 768 / 60 = 12; ceil(5 / 2) = 3
			opts: []option{withResources(App, nil, list("cpu", "2", "memory", "1Gi"))},
			want: numbers{App: [4]int64{5, 1, 2, 45}, DB: [6]int64{20, 20, 256, 768, 12, 64}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 3, 8}},
			explain: map[string]string{
				"app.workersPerPod": "min(floor(2 x 2 cores) + 1, max(1, floor(1Gi / 128Mi))) = min(5, 8) = 5; cpu 2 (requests.cpu), memory 1Gi (requests.memory)",
			},
		},
		"cpu limit with a memory request": {
			// workers = min(floor(2 x 3) + 1, floor(768Mi / 128Mi)) = min(7, 6) = 6; budget 22; workMem 768 / 66 = 11
			opts: []option{withResources(App, list("cpu", "3"), list("memory", "768Mi"))},
			want: numbers{App: [4]int64{6, 1, 2, 45}, DB: [6]int64{22, 22, 256, 768, 11, 64}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 3, 8}},
			explain: map[string]string{
				"app.workersPerPod": "min(floor(2 x 3 cores) + 1, max(1, floor(768Mi / 128Mi))) = min(7, 6) = 6; cpu 3 (limits.cpu), memory 768Mi (requests.memory)",
			},
		},
		"memory cap bites": {
			// workers = min(9, floor(256Mi / 128Mi) = 2) = 2; budget 14; workMem 768 / 42 = 18; ceil(2 / 2) = 1
			opts: []option{withResources(App, list("cpu", "4", "memory", "256Mi"), nil)},
			want: numbers{App: [4]int64{2, 1, 2, 45}, DB: [6]int64{14, 14, 256, 768, 18, 64}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 1, 8}},
		},
		"memory below memoryPerWorker still gives one worker": {
			// workers = min(5, max(1, floor(100Mi / 128Mi) = 0)) = 1; budget 12; workMem 768 / 36 = 21
			opts: []option{withResources(App, list("cpu", "2", "memory", "100Mi"), nil)},
			want: numbers{App: [4]int64{1, 1, 2, 45}, DB: [6]int64{12, 12, 256, 768, 21, 64}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 1, 8}},
			explain: map[string]string{
				"app.workersPerPod": "min(floor(2 x 2 cores) + 1, max(1, floor(100Mi / 128Mi))) = min(5, 1) = 1; cpu 2 (limits.cpu), memory 100Mi (limits.memory)",
			},
		},
		"custom memoryPerWorker": {
			// workers = min(9, floor(512Mi / 64Mi) = 8) = 8; budget 26; workMem 768 / 78 = 9; ceil(8 / 2) = 4
			opts: []option{withMemoryPerWorker("64Mi"), withResources(App, list("cpu", "4"), nil)},
			want: numbers{App: [4]int64{8, 1, 2, 45}, DB: [6]int64{26, 26, 256, 768, 9, 64}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 4, 8}},
		},
		"fractional cpu": {
			// workers = min(floor(2 x 1.5) + 1, 8) = 4; budget 18; workMem 768 / 54 = 14
			opts: []option{withResources(App, list("cpu", "1500m", "memory", "1Gi"), nil)},
			want: numbers{App: [4]int64{4, 1, 2, 45}, DB: [6]int64{18, 18, 256, 768, 14, 64}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 2, 8}},
			explain: map[string]string{
				"app.workersPerPod": "min(floor(2 x 1.5 cores) + 1, max(1, floor(1Gi / 128Mi))) = min(4, 8) = 4; cpu 1500m (limits.cpu), memory 1Gi (limits.memory)",
			},
		},
		"a huge pod is capped at 256 workers": {
			// workers = min(401, 512) = 401 -> 256; budget 1 x 256 + 10 = 266; workMem max(4, 768 / 798 = 0) = 4
			opts: []option{withReplicas(1), withResources(App, list("cpu", "200", "memory", "64Gi"), nil)},
			want: numbers{App: [4]int64{256, 1, 1, 45}, DB: [6]int64{266, 266, 256, 768, 4, 64}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 128, 8}},
			explain: map[string]string{
				"app.workersPerPod": "min(floor(2 x 200 cores) + 1, max(1, floor(64Gi / 128Mi))) = min(401, 512) = 401, capped at 256 (the most app.workers accepts); cpu 200 (limits.cpu), memory 64Gi (limits.memory)",
			},
		},
		"tasks with beat, derived from limits": {
			// concurrency = min(max(1, 4), floor(1Gi / 128Mi) = 8) = 4; budget 2 x 3 + 3 x 4 + 1 + 10 = 29; workMem 768 / 87 = 8
			opts: []option{withTasks(3), withBeat(), withResources(Tasks, list("cpu", "4", "memory", "1Gi"), nil)},
			want: numbers{App: [4]int64{3, 1, 2, 45}, Tasks: [3]int32{4, 3, 1}, DB: [6]int64{29, 29, 256, 768, 8, 64},
				Redis: 192, RedisPolicy: "allkeys-lru", Broker: 128, Cache: defaultCache, LB: [4]int32{4096, 1, 2, 8}},
			explain: map[string]string{
				"database.maxConnections": "app 2 pods x 3 workers x 1 threads + tasks 3 pods x concurrency 4 + beat 1 + 10 reserved = 29 (reserved: 3 superuser, the migration Job, admin and monitoring sessions)",
			},
		},
		"tasks memory cap bites, default replicas": {
			// concurrency = min(8, floor(256Mi / 128Mi) = 2) = 2; 1 pod; budget 6 + 2 + 10 = 18; workMem 768 / 54 = 14
			opts: []option{withResources(Tasks, list("cpu", "8", "memory", "256Mi"), nil)},
			want: numbers{App: [4]int64{3, 1, 2, 45}, Tasks: [3]int32{2, 1, 0}, DB: [6]int64{18, 18, 256, 768, 14, 64},
				Redis: 192, RedisPolicy: "allkeys-lru", Broker: 128, Cache: defaultCache, LB: [4]int32{4096, 1, 2, 8}},
			explain: map[string]string{
				"tasks.pods": "tasks.replicas = 1",
			},
		},
		"tasks with a fractional cpu request": {
			// concurrency = min(max(1, floor(0.5)) = 1, 4) = 1; budget 6 + 2 x 1 + 10 = 18
			opts: []option{withTasks(2), withResources(Tasks, list("memory", "512Mi"), list("cpu", "500m", "memory", "512Mi"))},
			want: numbers{App: [4]int64{3, 1, 2, 45}, Tasks: [3]int32{1, 2, 0}, DB: [6]int64{18, 18, 256, 768, 14, 64},
				Redis: 192, RedisPolicy: "allkeys-lru", Broker: 128, Cache: defaultCache, LB: [4]int32{4096, 1, 2, 8}},
		},
		"explicit task concurrency with no task pods": {
			// budget 6 + 0 x 16 + 10 = 16
			opts: []option{withTasks(0), withConcurrency(16), withResources(Broker, list("memory", "1Gi"), nil)},
			want: numbers{App: [4]int64{3, 1, 2, 45}, Tasks: [3]int32{16, 0, 0}, DB: defaultDB,
				Redis: 192, RedisPolicy: "allkeys-lru", Broker: 512, Cache: defaultCache, LB: [4]int32{4096, 1, 2, 8}},
			explain: map[string]string{
				"tasks.concurrency": "tasks.concurrency = 16 (explicit)",
				"broker.maxMemory":  "1/2 x 1024Mi = 512Mi (append-only file on: fork headroom for its rewrites); memory 1Gi = 1024Mi (limits.memory)",
			},
		},
		"explicit maxConnections above the budget": {
			// workMem = max(4, 768 / 600 = 1) = 4
			opts: []option{withMaxConnections(200)},
			want: numbers{App: [4]int64{3, 1, 2, 45}, DB: [6]int64{200, 16, 256, 768, 4, 64}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 2, 8}},
			explain: map[string]string{
				"database.maxConnections": "database.maxConnections = 200 (explicit); connection budget: app 2 pods x 3 workers x 1 threads + 10 reserved = 16 (reserved: 3 superuser, the migration Job, admin and monitoring sessions)",
			},
		},
		"explicit maxConnections below the budget warns": {
			// budget 20 x 3 + 10 = 70 > 50; workMem 768 / 150 = 5
			opts: []option{withAutoscaling(2, 20), withMaxConnections(50)},
			want: numbers{App: [4]int64{3, 1, 20, 45}, DB: [6]int64{50, 70, 256, 768, 5, 64}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 2, 32}, Warnings: 1},
		},
		"a budget above 100000 is capped with a warning": {
			// budget 1000 x 256 x 64 + 10 = 16384010 -> 100000; serverMaxConnections ceil(256 x 64 / 2) = 8192
			opts: []option{withAutoscaling(2, 1000), withWorkers(256), withThreads(64)},
			want: numbers{App: [4]int64{256, 64, 1000, 45}, DB: [6]int64{100000, 16384010, 256, 768, 4, 64}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 8192, 1024}, Warnings: 1},
			explain: map[string]string{
				"database.maxConnections": "app 1000 pods x 256 workers x 64 threads + 10 reserved = 16384010, capped at 100000 (the most database.maxConnections accepts)",
			},
		},
		"database disabled": {
			opts: []option{withoutDatabase(), withTasks(2)},
			want: numbers{App: [4]int64{3, 1, 2, 45}, Tasks: [3]int32{1, 2, 0}, Redis: 192, RedisPolicy: "allkeys-lru", Broker: 128, Cache: defaultCache, LB: [4]int32{4096, 1, 2, 8}},
		},
		"cache and redis disabled": {
			opts: []option{withoutCache(), withoutRedis()},
			want: numbers{App: [4]int64{3, 1, 2, 45}, DB: defaultDB, LB: [4]int32{4096, 1, 2, 8}},
		},
		"redis RDB persistence leaves fork headroom": {
			// maxMemory = 1/2 x 1Gi = 512Mi
			opts: []option{withPersistence(v1alpha1.PersistenceRDB), withResources(Redis, list("memory", "1Gi"), nil)},
			want: numbers{App: [4]int64{3, 1, 2, 45}, DB: defaultDB, Redis: 512, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 2, 8}},
			explain: map[string]string{
				"redis.maxMemory": "1/2 x 1024Mi = 512Mi (persistence RDB: fork headroom for snapshots); memory 1Gi = 1024Mi (limits.memory)",
			},
		},
		"redis AOF persistence with an explicit policy": {
			opts: []option{withPersistence(v1alpha1.PersistenceAOF), withRedisPolicy("allkeys-lfu")},
			want: numbers{App: [4]int64{3, 1, 2, 45}, DB: defaultDB, Redis: 128, RedisPolicy: "allkeys-lfu", Cache: defaultCache, LB: [4]int32{4096, 1, 2, 8}},
			explain: map[string]string{
				"redis.maxMemoryPolicy": "redis.maxMemoryPolicy = allkeys-lfu (explicit)",
			},
		},
		"database memory from requests": {
			// m = 4096: sharedBuffers 1024, effectiveCacheSize 3072, workMem 3072 / 48 = 64, maintenance 4096 / 16 = 256
			opts: []option{withResources(Database, nil, list("cpu", "2", "memory", "4Gi"))},
			want: numbers{App: [4]int64{3, 1, 2, 45}, DB: [6]int64{16, 16, 1024, 3072, 64, 256}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 2, 8}},
		},
		"maintenanceWorkMem is capped at 2048Mi": {
			// m = 65536: maintenance min(4096, 2048) = 2048; workMem 49152 / 48 = 1024
			opts: []option{withResources(Database, list("memory", "64Gi"), nil)},
			want: numbers{App: [4]int64{3, 1, 2, 45}, DB: [6]int64{16, 16, 16384, 49152, 1024, 2048}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 2, 8}},
			explain: map[string]string{
				"database.maintenanceWorkMem": "min(65536Mi / 16, 2048Mi) = min(4096Mi, 2048Mi) = 2048Mi",
			},
		},
		"decimal memory quantities round down to whole MiB": {
			// database 1000M = 953.67Mi -> 953: 238, 714, (953 - 238) / 48 = 14, 59;
			// redis 300M = 286.1Mi -> 286: 3 x 286 / 4 = 214; varnish 1G -> 953: 571, 95
			opts: []option{
				withResources(Database, list("memory", "1000M"), nil),
				withResources(Redis, list("memory", "300M"), nil),
				withResources(Cache, list("memory", "1G"), nil),
			},
			want: numbers{App: [4]int64{3, 1, 2, 45}, DB: [6]int64{16, 16, 238, 714, 14, 59}, Redis: 214, RedisPolicy: "allkeys-lru", Cache: [2]int64{571, 95}, LB: [4]int32{4096, 1, 2, 8}},
			explain: map[string]string{
				"database.sharedBuffers": "953Mi / 4 = 238Mi; memory 1G = 953Mi (limits.memory)",
				"cache.storage":          "3/5 x 953Mi = 571Mi (malloc storage); memory 1G = 953Mi (limits.memory)",
			},
		},
		"HAProxy: 3 replicas on 4 cores": {
			// threads = min(64, 4) = 4; serverMaxConnections = ceil(8 x 2 / 3) = 6
			opts: []option{withWorkers(8), withThreads(2), withLoadBalancer(3, 10000), withResources(LoadBalancer, list("cpu", "4"), nil)},
			want: numbers{App: [4]int64{8, 2, 2, 45}, DB: [6]int64{42, 42, 256, 768, 6, 64}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{10000, 4, 6, 8}},
		},
		"HAProxy: 1 replica, threads capped at 64": {
			opts: []option{withLoadBalancer(1, 0), withResources(LoadBalancer, nil, list("cpu", "100"))},
			want: numbers{App: [4]int64{3, 1, 2, 45}, DB: defaultDB, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 64, 3, 8}},
			explain: map[string]string{
				"loadBalancer.threads": "min(64, max(1, floor(100 cores))) = 64; cpu 100 (requests.cpu)",
			},
		},
		"HAProxy: more replicas than app worker threads": {
			// ceil(3 / 10) = 1
			opts: []option{withLoadBalancer(10, 0)},
			want: numbers{App: [4]int64{3, 1, 2, 45}, DB: defaultDB, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 1, 8}},
		},
		"timeouts are rounded up to whole seconds": {
			// 90s + 2.5s + 5s = 97.5s -> 98
			opts: []option{withTimeouts(90*time.Second, 2500*time.Millisecond)},
			want: numbers{App: [4]int64{3, 1, 2, 98}, DB: defaultDB, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 2, 8}},
			explain: map[string]string{
				"app.terminationGracePeriodSeconds": "ceil(timeouts.server 90s + timeouts.queue 2.5s + 5s) = 98s: a stopping pod finishes every request HAProxy may still hold",
			},
		},
		"zero app replicas": {
			// budget 0 + 10 = 10; workMem 768 / 30 = 25
			opts: []option{withReplicas(0)},
			want: numbers{App: [4]int64{3, 1, 0, 45}, DB: [6]int64{10, 10, 256, 768, 25, 64}, Redis: 192, RedisPolicy: "allkeys-lru", Cache: defaultCache, LB: [4]int32{4096, 1, 2, 8}},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			// These cases are about the numbers without a pooler (pooler_test.go has those
			// with one); a case may still turn it on.
			ws := webStack(t, append([]option{withPooling(v1alpha1.PoolingNone)}, c.opts...)...)
			got := For(ws)
			if n := numbersOf(got); n != c.want {
				t.Errorf("numbers:\n got %+v\nwant %+v", n, c.want)
			}
			checkExplanations(t, got, c.explain)
			checkLinesMatchStatus(t, got)
			golden(t, filepath.Join("testdata", "for", fileName(name)+".json"), got)
		})
	}
}

// checkExplanations checks the explanations of r's lines against want, by path.
func checkExplanations(t *testing.T, r Result, want map[string]string) {
	t.Helper()
	lines := map[string]string{}
	for _, l := range r.Lines {
		lines[l.Path] = l.Explanation
	}
	for path, w := range want {
		if lines[path] != w {
			t.Errorf("%s explanation:\n got %q\nwant %q", path, lines[path], w)
		}
	}
}

// checkLinesMatchStatus checks that Lines has exactly one line per value of status.tuning,
// in its order, each with the value status.tuning shows.
func checkLinesMatchStatus(t *testing.T, r Result) {
	t.Helper()
	var paths, values []string
	flatten("", statusJSON(t, r.Status()), &paths, &values)
	if len(r.Lines) != len(paths) {
		t.Fatalf("%d lines for %d values of status.tuning (%v)", len(r.Lines), len(paths), paths)
	}
	for i, l := range r.Lines {
		if l.Path != paths[i] || l.Value != values[i] {
			t.Errorf("line %d is %s = %s, status.tuning has %s = %s", i, l.Path, l.Value, paths[i], values[i])
		}
		if l.Explanation == "" {
			t.Errorf("%s has no explanation", l.Path)
		}
	}
}

// statusJSON is s as ordered JSON fields (encoding/json keeps the struct order).
func statusJSON(t *testing.T, s v1alpha1.TuningStatus) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// flatten lists the scalar values of a JSON object in document order, by dotted path,
// leaving out the warnings.
func flatten(prefix string, obj []byte, paths, values *[]string) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil { // the opening '{'
		return
	}
	for dec.More() {
		k, _ := dec.Token()
		key := prefix + k.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return
		}
		switch {
		case key == "warnings":
		case raw[0] == '{':
			flatten(key+".", raw, paths, values)
		default:
			*paths = append(*paths, key)
			*values = append(*values, strings.Trim(string(raw), `"`))
		}
	}
}

// golden compares v, as indented JSON, with the golden file (rewritten with -update).
func golden(t *testing.T, path string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("result differs from %s (go test -update rewrites it), -want +got:\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

// fileName turns a case name into a file name.
func fileName(name string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, name)
	for strings.Contains(name, "__") {
		name = strings.ReplaceAll(name, "__", "_")
	}
	return name
}

func TestForDoesNotModifyItsInput(t *testing.T) {
	ws := webStack(t, withTasks(2), withBeat(), withResources(App, list("cpu", "2"), list("memory", "1Gi")), withAutoscaling(2, 10))
	before := ws.DeepCopy()
	first := For(ws)
	if !reflect.DeepEqual(ws, before) {
		t.Errorf("For modified its input")
	}
	if second := For(ws); !reflect.DeepEqual(first, second) {
		t.Errorf("For is not deterministic:\n%+v\n%+v", first, second)
	}
}
