package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// request is one request of the manager, as the API server's audit log saw it.
type request struct {
	at        time.Time // when the API server received it
	verb      string
	resource  string // resource[/subresource]
	namespace string
	name      string
	code      int
}

func (r request) write() bool {
	switch r.verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
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
}

// auditLog follows the API server's audit log file and keeps the manager's requests.
// A request counts once: at ResponseComplete, except a watch, which counts when it starts
// (ResponseStarted), since it completes only when the watch ends.
type auditLog struct {
	mu       sync.Mutex
	requests []request
	// lastSeen is when the harness last read a request of the manager (quiescence).
	lastSeen time.Time
	cancel   context.CancelFunc
	done     chan struct{}
}

func tailAudit(ctx context.Context, path string) (*auditLog, error) {
	ctx, cancel := context.WithCancel(ctx)
	a := &auditLog{cancel: cancel, done: make(chan struct{}), lastSeen: time.Now()}
	go func() {
		defer close(a.done)
		var f *os.File
		for f == nil {
			var err error
			if f, err = os.Open(path); err != nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
		defer f.Close()
		r := bufio.NewReaderSize(f, 1<<20)
		var partial []byte
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				partial = append(partial, line...)
			}
			if err == nil {
				a.add(bytes.TrimSpace(partial))
				partial = partial[:0]
				continue
			}
			if !errors.Is(err, io.EOF) {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return a, nil
}

func (a *auditLog) add(line []byte) {
	if len(line) == 0 {
		return
	}
	var ev auditEvent
	if json.Unmarshal(line, &ev) != nil || ev.User.Username != benchUser {
		return
	}
	switch {
	case ev.Verb == "watch" && ev.Stage == "ResponseStarted":
	case ev.Verb != "watch" && ev.Stage == "ResponseComplete":
	default:
		return
	}
	r := request{at: ev.RequestReceivedTimestamp, verb: ev.Verb}
	if ev.ObjectRef != nil {
		r.resource, r.namespace, r.name = ev.ObjectRef.Resource, ev.ObjectRef.Namespace, ev.ObjectRef.Name
		if ev.ObjectRef.Subresource != "" {
			r.resource += "/" + ev.ObjectRef.Subresource
		}
	}
	if ev.ResponseStatus != nil {
		r.code = ev.ResponseStatus.Code
	}
	a.mu.Lock()
	a.requests = append(a.requests, r)
	a.lastSeen = time.Now()
	a.mu.Unlock()
}

func (a *auditLog) close() {
	a.cancel()
	<-a.done
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
		if r.code != 0 && (r.code < 200 || r.code > 299) {
			c.Failed[r.key()+" "+strconv.Itoa(r.code)]++
		}
	}
	return c
}

// owner attributes a request to the WebStack it is about, by name: children are named
// "<webstack>-<component>", Events "<object>.<suffix>", the WebStack itself "<webstack>".
// The benchmark's WebStacks are named ws-NNNN, so the prefix is unambiguous.
func owner(r request) string {
	n := r.name
	if !strings.HasPrefix(n, "ws-") || len(n) < len("ws-0000") {
		return ""
	}
	return n[:len("ws-0000")]
}

// writesPerWebStack counts each WebStack's writes by "verb resource".
func writesPerWebStack(rs []request) (per map[string]map[string]int, unattributed int) {
	per = map[string]map[string]int{}
	for _, r := range rs {
		if !r.write() {
			continue
		}
		o := owner(r)
		if o == "" {
			unattributed++
			continue
		}
		if per[o] == nil {
			per[o] = map[string]int{}
		}
		per[o][r.key()]++
	}
	return per, unattributed
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
