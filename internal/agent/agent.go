package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Applier applies one version of a config to the running daemon.
type Applier interface {
	// Apply applies content (the file's whole text, whose hash is hash). A *RefusedError
	// means the daemon refused it and still runs its last good config; any other error is
	// a failure to reach the daemon, retried at the next poll.
	Apply(ctx context.Context, content []byte, hash string) error
}

// Pending is an Applier whose daemon can hold changes that wait for a restart.
type Pending interface {
	// PendingRestart lists the settings whose new value the daemon takes only at a restart.
	PendingRestart(ctx context.Context) ([]string, error)
}

// RefusedError is a config the daemon refused, with the daemon's own message.
type RefusedError struct{ Message string }

func (e *RefusedError) Error() string { return "refused: " + e.Message }

// Status is what the agent reports about its config, as the status file and GET /status
// hold it. The agent's readiness never depends on it: a refused config leaves the daemon
// serving its last good one, so the pod stays in service.
type Status struct {
	// Component is "varnish", "haproxy" or "redis".
	Component string `json:"component"`
	// Applied is the hash of the config the daemon runs, empty before the first apply.
	Applied string `json:"applied,omitempty"`
	// AppliedAt is when it was applied (or found applied).
	AppliedAt *time.Time `json:"appliedAt,omitempty"`
	// Refused is the hash of the newest config the daemon refused, while it is still the
	// mounted one; empty otherwise.
	Refused string `json:"refused,omitempty"`
	// Message is the daemon's reason for the refusal.
	Message string `json:"message,omitempty"`
	// PendingRestart are the settings of the applied config that wait for a restart (the
	// pod template's hash covers them, so the operator rolls the pod).
	PendingRestart []string `json:"pendingRestart,omitempty"`
	// Applies and Refusals count the configs applied and refused since the agent started.
	Applies  int `json:"applies"`
	Refusals int `json:"refusals"`
}

// Options configure Run.
type Options struct {
	// Component names the daemon in logs and the status.
	Component string
	// File is the mounted config file to watch.
	File string
	// Interval is how often File is read. A ConfigMap volume changes by an atomic swap of
	// its ..data symlink; reading the whole file each time sees the old or the new version,
	// never a mix, and needs no inotify on the kubelet's symlinks.
	Interval time.Duration
	// StatusFile, when set, is rewritten (atomically) after every apply or refusal.
	StatusFile string
	// Listen, when set, serves GET /status (the Status as JSON) and GET /healthz.
	Listen string
	Log    *slog.Logger
}

// Hash is the short hex sha256 the agent names config versions by.
func Hash(content []byte) string {
	s := sha256.Sum256(content)
	return hex.EncodeToString(s[:])[:16]
}

// Run polls o.File and applies every new version with a until ctx ends, starting with the
// one mounted now: the agent cannot know whether the daemon started with it (the file may
// have changed while the agent was down), and applying the running config again is
// harmless (a reload, a VCL already active, the same CONFIG SET). A refused version is not
// retried until the file changes again.
func Run(ctx context.Context, o Options, a Applier) error {
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	r := &runner{o: o, a: a, status: Status{Component: o.Component}}
	if o.Listen != "" {
		l, err := net.Listen("tcp", o.Listen)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", o.Listen, err)
		}
		srv := &http.Server{Handler: r.handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(l) }()
		defer srv.Close()
	}
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	for {
		r.poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

type runner struct {
	o      Options
	a      Applier
	mu     sync.Mutex
	status Status
}

func (r *runner) poll(ctx context.Context) {
	content, err := os.ReadFile(r.o.File)
	if err != nil {
		r.o.Log.Error("reading the config", "component", r.o.Component, "file", r.o.File, "err", err)
		return
	}
	hash := Hash(content)
	r.mu.Lock()
	current := r.status.Applied == hash || r.status.Refused == hash
	stillPending := r.status.Applied == hash && len(r.status.PendingRestart) > 0
	// Back to the running config: the refused one is no longer mounted.
	back := r.status.Applied == hash && r.status.Refused != ""
	if back {
		r.status.Refused, r.status.Message = "", ""
	}
	r.mu.Unlock()
	if back {
		r.write()
		r.o.Log.Info("the mounted config is the running one again", "component", r.o.Component, "hash", hash)
	}
	if stillPending {
		r.recheckPending(ctx)
	}
	if current {
		return
	}
	start := time.Now()
	err = r.a.Apply(ctx, content, hash)
	var refused *RefusedError
	switch {
	case err == nil:
		var pending []string
		if p, ok := r.a.(Pending); ok {
			if pending, err = p.PendingRestart(ctx); err != nil {
				r.o.Log.Error("reading the settings pending a restart", "component", r.o.Component, "err", err)
			}
		}
		r.mu.Lock()
		r.status.PendingRestart = pending
		r.mu.Unlock()
		r.applied(hash)
		r.o.Log.Info("config applied in place", "component", r.o.Component, "hash", hash, "took", time.Since(start).Round(time.Millisecond).String(),
			"pendingRestart", pending)
	case errors.As(err, &refused):
		r.mu.Lock()
		r.status.Refused, r.status.Message = hash, refused.Message
		r.status.Refusals++
		r.mu.Unlock()
		r.write()
		r.o.Log.Error("config refused: the daemon keeps its last good config", "component", r.o.Component, "hash", hash,
			"running", r.status.Applied, "message", refused.Message)
	default:
		r.o.Log.Error("applying the config", "component", r.o.Component, "hash", hash, "err", err)
	}
}

// recheckPending clears the settings pending a restart once the daemon has restarted with
// them.
func (r *runner) recheckPending(ctx context.Context) {
	p, ok := r.a.(Pending)
	if !ok {
		return
	}
	pending, err := p.PendingRestart(ctx)
	if err != nil {
		return // the daemon may be restarting: ask again at the next poll
	}
	r.mu.Lock()
	changed := !slices.Equal(pending, r.status.PendingRestart)
	r.status.PendingRestart = pending
	r.mu.Unlock()
	if changed {
		r.write()
		r.o.Log.Info("settings pending a restart", "component", r.o.Component, "pendingRestart", pending)
	}
}

func (r *runner) applied(hash string) {
	now := time.Now().UTC()
	r.mu.Lock()
	r.status.Applied, r.status.AppliedAt = hash, &now
	r.status.Refused, r.status.Message = "", ""
	r.status.Applies++
	r.mu.Unlock()
	r.write()
}

func (r *runner) snapshot() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// write replaces the status file atomically (a reader sees the old or the new one).
func (r *runner) write() {
	if r.o.StatusFile == "" {
		return
	}
	b, _ := json.Marshal(r.snapshot())
	tmp, err := os.CreateTemp(filepath.Dir(r.o.StatusFile), ".status-")
	if err == nil {
		_, err = tmp.Write(append(b, '\n'))
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), r.o.StatusFile)
		}
		if err != nil {
			os.Remove(tmp.Name())
		}
	}
	if err != nil {
		r.o.Log.Error("writing the status file", "file", r.o.StatusFile, "err", err)
	}
}

func (r *runner) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.snapshot())
	})
	return mux
}

// ReadStatus reads a status file the agent wrote.
func ReadStatus(path string) (Status, error) {
	var s Status
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}
