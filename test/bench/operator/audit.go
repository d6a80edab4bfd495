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

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// request is one request of the manager, as the API server's audit log saw it.
type request struct {
	at, done        time.Time // received, answered
	verb, resource  string    // resource[/subresource]
	namespace, name string
	code            int32
}

func (r request) write() bool {
	return slices.Contains([]string{"create", "update", "patch", "delete", "deletecollection"}, r.verb)
}

// key is "verb resource", the rows of the per-resource tables.
func (r request) key() string { return r.verb + " " + r.resource }

// auditLog follows the API server's audit log and keeps the manager's requests. A request
// counts once, at ResponseComplete; a watch when it starts (ResponseStarted).
type auditLog struct {
	mu       sync.Mutex
	requests []request
	// written is when each object ("resource/namespace/name") was written with success.
	written map[string][]time.Time
	// lastSeen is when the harness last read a request of the manager (quiescence).
	lastSeen time.Time
}

func tailAudit(ctx context.Context, path string) *auditLog {
	a := &auditLog{lastSeen: time.Now(), written: map[string][]time.Time{}}
	go func() {
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
				if partial = append(partial, line...); err != nil {
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
	var ev auditv1.Event
	if json.Unmarshal(line, &ev) != nil || ev.User.Username != benchUser {
		return
	}
	if want := map[bool]auditv1.Stage{true: auditv1.StageResponseStarted, false: auditv1.StageResponseComplete}[ev.Verb == "watch"]; ev.Stage != want {
		return
	}
	r := request{at: ev.RequestReceivedTimestamp.Time, done: ev.StageTimestamp.Time, verb: ev.Verb}
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
		k := r.resource + "/" + r.namespace + "/" + r.name
		a.written[k] = append(a.written[k], r.done)
	}
	a.lastSeen = time.Now()
}

// writtenAfter is when the object ("resource/namespace/name") was first written with success
// by a request received at from or later.
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

// requestCounts summarises the requests of one window, by "verb resource[/subresource]";
// Failed by "verb resource code" for answers outside 2xx (409 conflicts, 404s).
type requestCounts struct {
	Writes   int            `json:"writes"`
	Reads    int            `json:"reads"`
	WritesBy map[string]int `json:"writesBy"`
	ReadsBy  map[string]int `json:"readsBy"`
	Failed   map[string]int `json:"failed,omitempty"`
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
			c.Failed[r.key()+" "+strconv.Itoa(int(r.code))]++
		}
	}
	return c
}

// writesPerWebStack counts each WebStack's writes by "verb resource", attributed by name:
// children are "<webstack>-<component>", Events "<object>.<suffix>", and the benchmark's
// WebStacks are named ws-NNNN, so the prefix is unambiguous.
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
