package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

var updateTune = flag.Bool("update-tune", false, "rewrite the golden files of the tune command")

// The tune test data lives with the tuning package.
const tuneData = "../../internal/stack/tuning/testdata"

func manifestPath(name string) string { return filepath.Join(tuneData, "manifests", name) }

// runCmd runs the dispatcher as the binary would and returns its exit code and output.
func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// The example, printed as YAML: exactly status.tuning under "tuning", nothing else.
func TestTuneYAML(t *testing.T) {
	code, stdout, stderr := runCmd("tune", "-f", manifestPath("issue-example.yaml"), "-o", "yaml")
	if code != 0 || stderr != "" {
		t.Fatalf("exit code %d, stderr %q", code, stderr)
	}
	want := `tuning:
  app:
    maxPods: 10
    terminationGracePeriodSeconds: 45
    threadsPerWorker: 1
    workersPerPod: 3
  broker:
    maxMemory: 128Mi
    maxMemoryPolicy: noeviction
  cache:
    storage: 307Mi
    transient: 51Mi
  database:
    effectiveCacheSize: 768Mi
    maintenanceWorkMem: 64Mi
    maxConnections: 22
    sharedBuffers: 256Mi
    workMem: 11Mi
  loadBalancer:
    maxConnections: 4096
    serverMaxConnections: 2
    serverSlots: 16
    threads: 1
  pooler:
    maxClientConnections: 100
    poolSize: 3
    replicas: 2
    reservePoolSize: 1
  redis:
    maxMemory: 192Mi
    maxMemoryPolicy: allkeys-lru
  tasks:
    concurrency: 1
    pods: 2
  warnings: []
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
}

func TestTuneJSON(t *testing.T) {
	code, stdout, stderr := runCmd("tune", "-f", manifestPath("below-budget.yaml"), "-o", "json")
	if code != 0 || stderr != "" {
		t.Fatalf("exit code %d, stderr %q", code, stderr)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || len(doc) != 1 || doc["tuning"] == nil {
		t.Fatalf("want one JSON object with only \"tuning\", got %v:\n%s", err, stdout)
	}
	var got v1alpha1.TuningStatus
	if err := json.Unmarshal(doc["tuning"], &got); err != nil {
		t.Fatal(err)
	}
	// 4 pods x 5 workers x 2 threads + 10 = 50 > 40; 2Gi database: 512Mi, 1536Mi,
	// (2048 - 512) / 120 = 12Mi, 128Mi; no cache, no tasks.
	want := v1alpha1.TuningStatus{
		App:          v1alpha1.AppTuning{WorkersPerPod: 5, ThreadsPerWorker: 2, MaxPods: 4, TerminationGracePeriodSeconds: 45},
		Database:     &v1alpha1.DatabaseTuning{MaxConnections: 40, SharedBuffers: "512Mi", EffectiveCacheSize: "1536Mi", WorkMem: "12Mi", MaintenanceWorkMem: "128Mi"},
		Redis:        &v1alpha1.RedisTuning{MaxMemory: "192Mi", MaxMemoryPolicy: "allkeys-lru"},
		LoadBalancer: v1alpha1.LoadBalancerTuning{MaxConnections: 4096, Threads: 1, ServerMaxConnections: 5, ServerSlots: 8},
		Warnings: []string{"database.maxConnections 40 is below the connection budget 50 (app 4 pods x 5 workers x 2 threads + 10 reserved): " +
			"some app or task processes may fail to connect; raise it to at least 50, or remove it to derive it"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestTuneTable(t *testing.T) {
	cases := map[string]struct {
		file, golden string
		// lines are some lines of the output, with their alignment.
		lines []string
	}{
		"issue example": {
			file: "issue-example.yaml", golden: "issue-example.txt",
			lines: []string{
				"PATH                               VALUE        EXPLANATION",
				"database.maxConnections            22           pooler (2 replicas + 1 rollout surge) x (pool 3 + reserve 1) + 10 reserved = 22 (reserved: 3 superuser, the migration Job, admin and monitoring sessions)",
				"pooler.maxClientConnections        100          max(100, 2 x client budget 32) = 100 per pooler pod (every client may land on one pod); client budget: app 10 pods x 3 workers x 1 threads + tasks 2 pods x concurrency 1 + beat 0",
			},
		},
		"warnings follow the table": {
			file: "below-budget.yaml", golden: "below-budget.txt",
			lines: []string{
				"",
				"WARNINGS",
				"- database.maxConnections 40 is below the connection budget 50 (app 4 pods x 5 workers x 2 threads + 10 reserved): some app or task processes may fail to connect; raise it to at least 50, or remove it to derive it",
			},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCmd("tune", "-f", manifestPath(c.file))
			if code != 0 || stderr != "" {
				t.Fatalf("exit code %d, stderr %q", code, stderr)
			}
			for _, l := range c.lines {
				if !strings.Contains("\n"+stdout, "\n"+l+"\n") {
					t.Errorf("no line %q in\n%s", l, stdout)
				}
			}
			path := filepath.Join(tuneData, "tune", c.golden)
			if *updateTune {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(stdout), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update-tune writes it)", err)
			}
			if stdout != string(want) {
				t.Errorf("stdout differs from %s (go test -update-tune rewrites it):\n%s", path, stdout)
			}
		})
	}
}

// -f - reads the manifest from standard input.
func TestTuneStdin(t *testing.T) {
	f, err := os.Open(manifestPath("issue-example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stdin := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = stdin }()

	code, stdout, stderr := runCmd("tune", "-f", "-", "-o", "yaml")
	if code != 0 || stderr != "" {
		t.Fatalf("exit code %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, "    maxConnections: 22\n") {
		t.Errorf("stdout does not show maxConnections 22:\n%s", stdout)
	}
}

func TestTuneBadInput(t *testing.T) {
	cases := map[string]struct {
		args []string
		// stderr must contain every one of these.
		want []string
	}{
		"unreadable file": {
			args: []string{"-f", manifestPath("missing.yaml")},
			want: []string{"webstack-operator tune: reading ", "missing.yaml", "no such file"},
		},
		"not a WebStack": {
			args: []string{"-f", manifestPath("not-a-webstack.yaml"), "-o", "yaml"},
			want: []string{"not-a-webstack.yaml", "no WebStack"},
		},
		"a value the API server rejects names the field": {
			args: []string{"-f", manifestPath("invalid-workers.yaml"), "-o", "json"},
			want: []string{"invalid-workers.yaml", "spec.app.workers", "less than or equal to 256"},
		},
		"no file": {
			args: []string{"-o", "yaml"},
			want: []string{"-f FILE is required"},
		},
		"unknown output": {
			args: []string{"-f", manifestPath("issue-example.yaml"), "-o", "xml"},
			want: []string{`-o "xml" is not an output format`},
		},
		"stray argument": {
			args: []string{"-f", manifestPath("issue-example.yaml"), "extra"},
			want: []string{`unexpected arguments ["extra"]`},
		},
		"unknown flag": {
			args: []string{"--bogus"},
			want: []string{"flag provided but not defined: -bogus"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCmd(append([]string{"tune"}, c.args...)...)
			if code == 0 {
				t.Errorf("exit code 0, want non-zero")
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not contain %q", stderr, w)
				}
			}
		})
	}
}
