package stack

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/webstack-dev/webstack-operator/internal/stack/render"
)

// TestStack runs the django-shop sample on loopback and checks the stack end to end. It
// runs with WEBSTACK_STACK_TEST=1 (make test-stack) or CI=true, and takes about 30 seconds.
// WEBSTACK_STACK_KEEP=1 keeps its temp dir (rendered configs, data, logs/) for a look.
func TestStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	s := startForTest(ctx, t, Options{People: 20000, Authors: 100, BooksPerAuthor: 5})
	c := &client{t: t, http: &http.Client{Timeout: 30 * time.Second}, base: "http://" + s.Frontend}
	defer c.http.CloseIdleConnections()

	t.Run("a page through HAProxy is served by the app, then a Varnish HIT", func(t *testing.T) {
		c := c.with(t)
		first := c.get("/people/1/", nil)
		wantCache(t, first, "MISS")
		if !strings.Contains(first.body, `class="person" data-id="1"`) {
			t.Errorf("GET /people/1/ is not the person page of the app:\n%s", first.body)
		}
		if inst := first.Header.Get("X-App-Instance"); !strings.HasPrefix(inst, "app-") {
			t.Errorf("X-App-Instance %q, want app-N: not served by the app", inst)
		}
		second := c.get("/people/1/", nil)
		wantCache(t, second, "HIT")
		if second.body != first.body {
			t.Error("the HIT differs from the page the app served")
		}
	})

	t.Run("a pass rule path is never cached", func(t *testing.T) {
		c := c.with(t)
		for range 3 {
			r := c.get("/api/people/2/", nil)
			wantCache(t, r, "MISS")
			if r.Header.Get("X-App-Instance") == "" {
				t.Error("a pass response without X-App-Instance: not from the app")
			}
		}
	})

	t.Run("a short-TTL rule expires", func(t *testing.T) {
		c := c.with(t)
		ttl := ruleTTL(t, s, "/stock/")
		stamp := regexp.MustCompile(`data-at="([0-9.]+)"`)
		at := func(r *response) string {
			m := stamp.FindStringSubmatch(r.body)
			if m == nil {
				t.Fatalf("no render stamp in /stock/:\n%s", r.body)
			}
			return m[1]
		}
		first := c.get("/stock/", nil)
		cachedAt := time.Now()
		wantCache(t, first, "MISS")
		second := c.get("/stock/", nil)
		wantCache(t, second, "HIT")
		if at(second) != at(first) {
			t.Fatal("the HIT has another render stamp than the MISS")
		}
		// After the TTL, the object is stale: within grace Varnish answers the first request
		// with it and fetches a fresh one in the background, so a fresh page appears at once.
		time.Sleep(time.Until(cachedAt.Add(ttl + 200*time.Millisecond)))
		deadline := time.Now().Add(10 * time.Second)
		for at(c.get("/stock/", nil)) == at(first) {
			if time.Now().After(deadline) {
				t.Fatalf("/stock/ (ttl %s) still has its first render %s after the TTL", ttl, time.Since(cachedAt).Round(time.Millisecond))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("ignoreCookies caches static files despite cookies; cookies elsewhere pass", func(t *testing.T) {
		c := c.with(t)
		cookie := http.Header{"Cookie": {"sessionid=abc; csrftoken=def"}}
		for i, want := range []string{"MISS", "HIT"} {
			r := c.get("/static/css/shop.css", cookie)
			wantCache(t, r, want)
			if !strings.Contains(r.body, "font-family") {
				t.Errorf("GET #%d of /static/css/shop.css is not the stylesheet", i+1)
			}
		}
		for range 2 {
			wantCache(t, c.get("/people/4/", cookie), "MISS")
		}
	})

	t.Run("saving a model purges its cached page", func(t *testing.T) {
		c := c.with(t)
		wantCache(t, c.get("/people/3/", nil), "MISS")
		wantCache(t, c.get("/people/3/", nil), "HIT")
		name := fmt.Sprintf("Renamed%d", time.Now().UnixNano()%1000000)
		if r := c.do("POST", "/api/people/3/", nil, fmt.Sprintf(`{"first_name": %q}`, name)); r.StatusCode != 200 {
			t.Fatalf("POST /api/people/3/: status %d\n%s", r.StatusCode, r.body)
		}
		after := c.get("/people/3/", nil)
		wantCache(t, after, "MISS")
		if !strings.Contains(after.body, name) {
			t.Errorf("after the save, /people/3/ does not show %s: the Varnish page or the Redis query cache is stale:\n%s", name, after.body)
		}
		wantCache(t, c.get("/people/3/", nil), "HIT")
	})

	t.Run("PURGE at the public frontend is refused", func(t *testing.T) {
		c := c.with(t)
		for _, method := range []string{"PURGE", "purge", "BAN"} {
			if r := c.do(method, "/people/3/", nil, ""); r.StatusCode != http.StatusForbidden {
				t.Errorf("%s /people/3/ at HAProxy: status %d, want 403", method, r.StatusCode)
			}
		}
		wantCache(t, c.get("/people/3/", nil), "HIT")
	})

	t.Run("the query cache lives in the cache Redis", func(t *testing.T) {
		config, err := s.Cache.ConfigGet(ctx, "maxmemory-policy").Result()
		if err != nil {
			t.Fatal(err)
		}
		if policy := config["maxmemory-policy"]; policy != s.Tuning.Redis.MaxMemoryPolicy {
			t.Errorf("cache Redis maxmemory-policy %q, want %q", policy, s.Tuning.Redis.MaxMemoryPolicy)
		}
		// person_card of /people/3/, cached again by the MISS after the save.
		n, err := s.Cache.Exists(ctx, "shop:1:person:3").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("the cache Redis has no shop:1:person:3 (EXISTS %v)", n)
		}
	})

	t.Run("the GIN index serves the JSONB containment and the books page's query count is constant", func(t *testing.T) {
		out, err := s.Manage(ctx, "checkpractices", "--steps", "1,10,60")
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			BooksPage  []struct{ Books, Queries int } `json:"books_page"`
			NaiveBooks []struct{ Books, Queries int } `json:"naive_books"`
			AuthorPage struct {
				Queries   int `json:"queries"`
				BookCount int `json:"book_count"`
			} `json:"author_page"`
			Containment struct {
				Plan         string `json:"plan"`
				UsesGinIndex bool   `json:"uses_gin_index"`
				Rows         int    `json:"rows"`
			} `json:"containment"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("checkpractices: %v\n%s", err, out)
		}
		t.Logf("books page: %+v; naive loop: %+v; author page: %+v", res.BooksPage, res.NaiveBooks, res.AuthorPage)
		if len(res.BooksPage) != 3 || len(res.NaiveBooks) != 3 {
			t.Fatalf("want 3 measurements each:\n%s", out)
		}
		for _, m := range res.BooksPage[1:] {
			if m.Queries != res.BooksPage[0].Queries {
				t.Errorf("the books page runs %d queries with %d books and %d with %d: not constant",
					res.BooksPage[0].Queries, res.BooksPage[0].Books, m.Queries, m.Books)
			}
		}
		// The capture sees the N+1 loop grow, so it would see the page grow too.
		for _, m := range res.NaiveBooks {
			if m.Queries != m.Books+1 {
				t.Errorf("the naive loop over %d books ran %d queries, want %d", m.Books, m.Queries, m.Books+1)
			}
		}
		if res.AuthorPage.Queries != 2 {
			t.Errorf("the author page runs %d queries, want 2 (the author, one COUNT: book_count is a cached_property)", res.AuthorPage.Queries)
		}
		if !res.Containment.UsesGinIndex || !strings.Contains(res.Containment.Plan, "Bitmap Index Scan on person_profile_gin") {
			t.Errorf("the containment query does not use person_profile_gin:\n%s", res.Containment.Plan)
		}
		if res.Containment.Rows == 0 {
			t.Error("the containment query finds nobody: the plan proves nothing")
		}
	})

	t.Run("a task enqueued by a view runs on the Celery worker through the broker", func(t *testing.T) {
		c := c.with(t)
		r := c.do("POST", "/api/invoices/", nil, `{"person": 5, "book": 1, "quantity": 2}`)
		if r.StatusCode != http.StatusAccepted {
			t.Fatalf("POST /api/invoices/: status %d, want 202\n%s", r.StatusCode, r.body)
		}
		var inv struct {
			ID         int    `json:"id"`
			Status     string `json:"status"`
			RenderedBy string `json:"rendered_by"`
			Body       string `json:"body"`
		}
		if err := json.Unmarshal([]byte(r.body), &inv); err != nil || inv.Status != "pending" {
			t.Fatalf("POST /api/invoices/ answered %s (%v), want a pending invoice", r.body, err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for inv.Status != "done" {
			if time.Now().After(deadline) {
				t.Fatalf("invoice %d still %q after 30s", inv.ID, inv.Status)
			}
			time.Sleep(200 * time.Millisecond)
			if err := json.Unmarshal([]byte(c.get(fmt.Sprintf("/api/invoices/%d/", inv.ID), nil).body), &inv); err != nil {
				t.Fatal(err)
			}
		}
		row, err := s.SQL(ctx, fmt.Sprintf("SELECT status, rendered_by, body LIKE 'INVOICE %d%%' FROM catalog_invoice WHERE id = %d", inv.ID, inv.ID))
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Split(row, "|"); len(f) != 3 || f[0] != "done" || !strings.HasPrefix(f[1], "celery@") || f[2] != "t" {
			t.Errorf("catalog_invoice row %d in PostgreSQL: %q, want done|celery@...|t", inv.ID, row)
		}
		info, err := s.Broker.InfoMap(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		stats := info["Commandstats"]
		for _, cmd := range []string{"cmdstat_lpush", "cmdstat_brpop"} {
			if !strings.HasPrefix(stats[cmd], "calls=") || strings.HasPrefix(stats[cmd], "calls=0,") {
				t.Errorf("the broker shows no %s (%q): the task did not go through it", cmd, stats[cmd])
			}
		}
	})

	t.Run("the broker never evicts and keeps an append-only file", func(t *testing.T) {
		for key, want := range map[string]string{"maxmemory-policy": "noeviction", "appendonly": "yes", "appendfsync": "everysec"} {
			config, err := s.Broker.ConfigGet(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got := config[key]; got != want {
				t.Errorf("broker %s = %q, want %q", key, got, want)
			}
		}
		if _, err := os.Stat(s.Dir + "/broker/appendonlydir"); err != nil {
			t.Errorf("the broker wrote no append-only file: %v", err)
		}
	})

	t.Run("requests spread over both app instances", func(t *testing.T) {
		c := c.with(t)
		seen := map[string]int{}
		for range 20 {
			seen[c.get("/api/people/1/", nil).Header.Get("X-App-Instance")]++
		}
		for _, p := range s.Apps {
			if seen[p.Name] == 0 {
				t.Errorf("%s served none of 20 requests: %v", p.Name, seen)
			}
		}
	})

	t.Run("HAProxy takes a killed app instance out and requests keep succeeding", func(t *testing.T) {
		c := c.with(t)
		killed, survivor := s.Apps[0], s.Apps[1]
		killed.Kill()
		killedAt := time.Now()
		server := "app1" // haproxy.cfg names the static servers app1, app2, ...
		var down time.Duration
		for i := 0; down == 0; i++ {
			if time.Since(killedAt) > 20*time.Second {
				t.Fatalf("HAProxy still has %s up 20s after it was killed", server)
			}
			r := c.get(fmt.Sprintf("/api/people/%d/", 1+i%5), nil)
			if inst := r.Header.Get("X-App-Instance"); inst != survivor.Name {
				t.Errorf("request %d after the kill served by %q, want %s", i, inst, survivor.Name)
			}
			if status := serverStatus(t, c.http, s.Stats, "app", server); strings.HasPrefix(status, "DOWN") {
				down = time.Since(killedAt)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("HAProxy marked %s DOWN %s after the kill", server, down.Round(100*time.Millisecond))
		for range 10 {
			if inst := c.get("/api/people/1/", nil).Header.Get("X-App-Instance"); inst != survivor.Name {
				t.Errorf("served by %q after %s went DOWN, want %s", inst, server, survivor.Name)
			}
		}
	})

	// It restarts PostgreSQL (a roll for shared_buffers): after the tests that count the
	// app's answers, since stale pooled connections fail once.
	t.Run("day-2 changes apply in place under load", func(t *testing.T) { testDayTwo(ctx, t, s) })

	// Last: it restarts PostgreSQL.
	t.Run("new database passwords (a deleted credentials Secret) are the ones the restarted server accepts", func(t *testing.T) {
		old := s.Credentials
		if user, err := s.AppLogin(ctx, old.DatabaseApp); err != nil || user != render.DefaultAppRole {
			t.Fatalf("before: the app logs in as %q, %v", user, err)
		}
		fresh := old
		fresh.DatabaseSuperuser, fresh.DatabaseApp = password(), password()
		if err := s.RestartPostgres(ctx, fresh); err != nil {
			t.Fatalf("restarting PostgreSQL as a new pod would: %v\n%s", err, s.Logs(20))
		}
		if user, err := s.AppLogin(ctx, fresh.DatabaseApp); err != nil || user != render.DefaultAppRole {
			t.Errorf("a fresh app process with the new password: %q, %v", user, err)
		}
		if _, err := s.AppLogin(ctx, old.DatabaseApp); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
			t.Errorf("the old password still logs in (or fails otherwise): %v", err)
		}
		if n, err := s.SQL(ctx, "SELECT count(*) > 0 FROM catalog_person"); err != nil || n != "t" {
			t.Errorf("the data after the restart: %q, %v", n, err)
		}
	})
}

// ruleTTL is the TTL of the sample's cache rule with pathPrefix prefix.
func ruleTTL(t *testing.T, s *Stack, prefix string) time.Duration {
	t.Helper()
	for _, r := range s.WS.Spec.Cache.Rules {
		if r.PathPrefix == prefix && r.TTL != nil {
			return r.TTL.Duration
		}
	}
	t.Fatalf("the sample has no cache rule with pathPrefix %s and a ttl", prefix)
	return 0
}

// serverStatus is the status of a server in HAProxy's stats CSV, e.g. "UP" or "DOWN".
func serverStatus(t *testing.T, c *http.Client, stats, backend, server string) string {
	t.Helper()
	resp, err := c.Get("http://" + stats + render.HAProxyStatsPath + ";csv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("# ")))).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("HAProxy stats CSV: %v\n%s", err, b)
	}
	col := -1
	for i, h := range rows[0] {
		if h == "status" {
			col = i
		}
	}
	for _, r := range rows[1:] {
		if len(r) > col && col >= 0 && r[0] == backend && r[1] == server {
			return r[col]
		}
	}
	t.Fatalf("no server %s/%s in HAProxy's stats:\n%s", backend, server, b)
	return ""
}

// client sends requests to the public frontend.
type client struct {
	t    *testing.T
	http *http.Client
	base string
}

// response is a response with its body read.
type response struct {
	*http.Response
	body string
}

func (c *client) with(t *testing.T) *client { return &client{t: t, http: c.http, base: c.base} }

func (c *client) get(path string, h http.Header) *response {
	c.t.Helper()
	r := c.do("GET", path, h, "")
	if r.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: status %d\n%s", path, r.StatusCode, r.body)
	}
	return r
}

func (c *client) do(method, path string, h http.Header, body string) *response {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return &response{Response: resp, body: string(b)}
}

// wantCache checks Varnish's X-Cache header.
func wantCache(t *testing.T, r *response, want string) {
	t.Helper()
	if got := r.Header.Get("X-Cache"); got != want {
		t.Errorf("%s %s: X-Cache %q, want %q", r.Request.Method, r.Request.URL.Path, got, want)
	}
}
