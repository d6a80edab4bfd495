package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// request is one request of the manager, as the API server's audit log saw it.
type request struct {
	at        time.Time // when the API server received it
	done      time.Time // when it answered
	verb      string
	resource  string // resource[/subresource]
	namespace string
	name      string
	code      int
}

func (r request) write() bool {
	return slices.Contains([]string{"create", "update", "patch", "delete", "deletecollection"}, r.verb)
}

// key is "verb resource", the rows of the per-resource tables.
func (r request) key() string { return r.verb + " " + r.resource }

// auditEvent is the part of an audit.k8s.io/v1 Event the benchmark reads.
type auditEvent struct {
	Stage string `json:"stage"`
	Verb  string `json:"verb"`
	User  struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
	StageTimestamp           time.Time `json:"stageTimestamp"`
}

// auditLog follows the API server's audit log file and keeps the manager's requests.
// A request counts once: at ResponseComplete, except a watch, which counts when it starts
// (ResponseStarted), since it completes only when the watch ends.
type auditLog struct {
	mu       sync.Mutex
	requests []request
	// written is when each object ("resource/namespace/name") was written with success.
	written map[string][]time.Time
	// lastSeen is when the harness last read a request of the manager (quiescence).
	lastSeen time.Time
	done     chan struct{}
}

func tailAudit(ctx context.Context, path string) *auditLog {
	a := &auditLog{lastSeen: time.Now(), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		var r *bufio.Reader
		var partial []byte
		for ctx.Err() == nil {
			if r == nil {
				if f, err := os.Open(path); err == nil {
					defer f.Close()
					r = bufio.NewReaderSize(f, 1<<20)
				}
			}
			for r != nil {
				line, err := r.ReadBytes('\n')
				partial = append(partial, line...)
				if err != nil {
					break
				}
				a.add(partial)
				partial = partial[:0]
			}
			_ = sleep(ctx, 50*time.Millisecond)
		}
	}()
	return a
}

func (a *auditLog) add(line []byte) {
	var ev auditEvent
	if json.Unmarshal(line, &ev) != nil || ev.User.Username != benchUser {
		return
	}
	if want := map[bool]string{true: "ResponseStarted", false: "ResponseComplete"}[ev.Verb == "watch"]; ev.Stage != want {
		return
	}
	r := request{at: ev.RequestReceivedTimestamp, done: ev.StageTimestamp, verb: ev.Verb}
	if o := ev.ObjectRef; o != nil {
		r.resource, r.namespace, r.name = o.Resource, o.Namespace, o.Name
		if o.Subresource != "" {
			r.resource += "/" + o.Subresource
		}
	}
	if ev.ResponseStatus != nil {
		r.code = ev.ResponseStatus.Code
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests = append(a.requests, r)
	if r.write() && r.code/100 == 2 {
		if a.written == nil {
			a.written = map[string][]time.Time{}
		}
		k := r.resource + "/" + r.namespace + "/" + r.name
		a.written[k] = append(a.written[k], r.done)
	}
	a.lastSeen = time.Now()
}

// writtenAfter is when the object ("resource/namespace/name") was first written with
// success by a request the API server received at from or later.
func (a *auditLog) writtenAfter(key string, from time.Time) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, at := range a.written[key] {
		if !at.Before(from) {
			return at, true
		}
	}
	return time.Time{}, false
}

// quietSince is when the harness last read a request of the manager.
func (a *auditLog) quietSince() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastSeen
}

// between returns the requests received in [from, to).
func (a *auditLog) between(from, to time.Time) []request {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []request
	for _, r := range a.requests {
		if !r.at.Before(from) && r.at.Before(to) {
			out = append(out, r)
		}
	}
	return out
}

// requestCounts summarises the requests of one window.
type requestCounts struct {
	Writes int `json:"writes"`
	Reads  int `json:"reads"`
	// WritesBy and ReadsBy count by "verb resource[/subresource]".
	WritesBy map[string]int `json:"writesBy"`
	ReadsBy  map[string]int `json:"readsBy"`
	// Failed counts responses outside 2xx by "verb resource code" (409 conflicts, 404s).
	Failed map[string]int `json:"failed,omitempty"`
}

func countRequests(rs []request) requestCounts {
	c := requestCounts{WritesBy: map[string]int{}, ReadsBy: map[string]int{}, Failed: map[string]int{}}
	for _, r := range rs {
		if r.write() {
			c.Writes++
			c.WritesBy[r.key()]++
		} else {
			c.Reads++
			c.ReadsBy[r.key()]++
		}
		if r.code != 0 && r.code/100 != 2 {
			c.Failed[r.key()+" "+strconv.Itoa(r.code)]++
		}
	}
	return c
}

// writesPerWebStack counts each WebStack's writes by "verb resource", attributed by name:
// children are named "<webstack>-<component>", Events "<object>.<suffix>", the WebStack
// itself "<webstack>". The benchmark's WebStacks are named ws-NNNN, so the prefix is
// unambiguous.
func writesPerWebStack(rs []request) (per map[string]map[string]int, unattributed int) {
	per = map[string]map[string]int{}
	for _, r := range rs {
		if !r.write() {
			continue
		}
		if !strings.HasPrefix(r.name, "ws-") || len(r.name) < len("ws-0000") {
			unattributed++
			continue
		}
		o := r.name[:len("ws-0000")]
		if per[o] == nil {
			per[o] = map[string]int{}
		}
		per[o][r.key()]++
	}
	return per, unattributed
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
