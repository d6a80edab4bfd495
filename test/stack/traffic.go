package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Traffic sends GETs for a fixed set of paths through the public frontend from several
// clients at once, without pause, until Stop, and counts every answer: a day-2 change must
// not show in these counts. (Stack.Load measures the app and PostgreSQL instead.)
type Traffic struct {
	requests, failed, reset, hits atomic.Int64
	cancel                        context.CancelFunc
	wg                            sync.WaitGroup
	mu                            sync.Mutex
	errors                        []string
}

// Counts are Traffic's counters at one moment.
type Counts struct {
	// Requests are the answered and failed requests; Failed those without a 200 (including
	// Reset); Reset those whose connection the server reset or closed mid-request; Hits the
	// 200s that Varnish answered from its cache (X-Cache: HIT).
	Requests, Failed, Reset, Hits int64
}

// Sub is c - o.
func (c Counts) Sub(o Counts) Counts {
	return Counts{c.Requests - o.Requests, c.Failed - o.Failed, c.Reset - o.Reset, c.Hits - o.Hits}
}

// HitRatio is Hits / Requests in percent.
func (c Counts) HitRatio() float64 {
	if c.Requests == 0 {
		return 0
	}
	return 100 * float64(c.Hits) / float64(c.Requests)
}

func (c Counts) String() string {
	return fmt.Sprintf("%d requests, %d failed, %d reset, hit ratio %.1f%%", c.Requests, c.Failed, c.Reset, c.HitRatio())
}

// StartTraffic starts clients goroutines, each with its own keep-alive connection, cycling
// through paths on base (http://host:port).
func StartTraffic(base string, paths []string, clients int) *Traffic {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Traffic{cancel: cancel}
	for i := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			for n := i; ctx.Err() == nil; n++ {
				l.one(ctx, c, base+paths[n%len(paths)])
			}
		}()
	}
	return l
}

func (l *Traffic) one(ctx context.Context, c *http.Client, url string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if ctx.Err() != nil {
		return // stopping: not an answer
	}
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	l.requests.Add(1)
	switch {
	case err != nil:
		l.failed.Add(1)
		if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
			errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "connection reset") {
			l.reset.Add(1)
		}
		l.note(err.Error())
	case resp.StatusCode != http.StatusOK:
		l.failed.Add(1)
		l.note(fmt.Sprintf("GET %s: status %d", url, resp.StatusCode))
	case resp.Header.Get("X-Cache") == "HIT":
		l.hits.Add(1)
	}
}

// note keeps the first errors for the test's message.
func (l *Traffic) note(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errors) < 10 {
		l.errors = append(l.errors, msg)
	}
}

// Errors are the first errors seen.
func (l *Traffic) Errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errors...)
}

// Counts are the counters now.
func (l *Traffic) Counts() Counts {
	return Counts{l.requests.Load(), l.failed.Load(), l.reset.Load(), l.hits.Load()}
}

// Window counts what happens during d from now.
func (l *Traffic) Window(d time.Duration) Counts {
	before := l.Counts()
	time.Sleep(d)
	return l.Counts().Sub(before)
}

// Stop stops the clients and returns the totals.
func (l *Traffic) Stop() Counts {
	l.cancel()
	l.wg.Wait()
	return l.Counts()
}
