package agent

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseVCLList(t *testing.T) {
	tests := map[string]struct {
		body string
		want []VCL
	}{
		"varnish 7.1": {
			body: "available   auto    warm         1    webstack_46e98597d9b78079\nactive      auto    warm         0    boot\n",
			want: []VCL{{Name: "webstack_46e98597d9b78079", State: "available"}, {Name: "boot", State: "active"}},
		},
		"combined temperature column": {
			body: "active   auto/warm          0 w1\ndiscarded   auto/busy   2 w0\n",
			want: []VCL{{Name: "w1", State: "active"}, {Name: "w0", State: "discarded"}},
		},
		"label": {
			body: "active   auto    warm   0   lbl -> w1\n",
			want: []VCL{{Name: "lbl", State: "active"}},
		},
		"empty": {body: "", want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, parseVCLList(tc.body)); diff != "" {
				t.Errorf("parseVCLList (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseShowProc(t *testing.T) {
	tests := map[string]struct {
		out     string
		want    Proc
		wantErr bool
	}{
		"after a good reload": {
			out: "#<PID>          <type>          <reloads>       <uptime>        <version>\n" +
				"1117            master          3 [failed: 0]   0d00h10m43s     2.6.12\n# workers\n" +
				"10006           worker          0               0d00h00m01s     2.6.12\n" +
				"1120            worker          1               0d00h10m43s     2.6.12\n# programs\n\n",
			want: Proc{Reloads: 3, Failed: 0, Workers: []int{10006}, All: []int{10006, 1120}},
		},
		"after a refused reload": {
			out: "1117            master          2 [failed: 2]   0d00h10m37s     2.6.12\n# workers\n" +
				"1120            worker          2               0d00h10m37s     2.6.12\n",
			want: Proc{Reloads: 2, Failed: 2, All: []int{1120}},
		},
		"no master": {out: "Unknown command\n", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseShowProc(tc.out)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %t", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
				t.Errorf("parseShowProc (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeApplier refuses contents that contain "bad" and records what it applied.
type fakeApplier struct {
	mu      sync.Mutex
	applied []string
}

func (f *fakeApplier) Apply(_ context.Context, content []byte, _ string) error {
	if strings.Contains(string(content), "bad") {
		return &RefusedError{Message: "bad config"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, string(content))
	return nil
}

// TestRun follows a config through the agent: applied at start, a refusal that keeps the
// running one and is reported, the way back (which clears the refusal without applying
// again), and a new version.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	file, status := filepath.Join(dir, "cfg"), filepath.Join(dir, "status.json")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waitStatus := func(ok func(Status) bool) Status {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, err := ReadStatus(status)
			if err == nil && ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("status %+v (%v)", st, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	write("one")
	f := &fakeApplier{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Run(ctx, Options{Component: "fake", File: file, Interval: 10 * time.Millisecond, StatusFile: status,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, f)
	}()
	one := Hash([]byte("one"))
	waitStatus(func(s Status) bool { return s.Applied == one })

	write("bad two")
	st := waitStatus(func(s Status) bool { return s.Refused != "" })
	if st.Applied != one || st.Message != "bad config" || st.Refusals != 1 {
		t.Errorf("after a refusal: %+v", st)
	}
	write("one")
	st = waitStatus(func(s Status) bool { return s.Refused == "" })
	if st.Applied != one || st.Applies != 1 {
		t.Errorf("back to the running config: %+v, want it applied once", st)
	}
	write("three")
	waitStatus(func(s Status) bool { return s.Applied == Hash([]byte("three")) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := []string{"one", "three"}; !slices.Equal(f.applied, want) {
		t.Errorf("applied %q, want %q", f.applied, want)
	}
}
