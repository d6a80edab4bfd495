package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// TestPooler runs the django-shop sample with its default pooler (PgBouncer in transaction
// mode, the pooler's replicas as pgbouncer processes) on loopback: the app reaches
// PostgreSQL only through the pooler, the migrations went directly; the app scaled from 2
// to 10 instances changes no PostgreSQL parameter; under load, more client connections
// than max_connections get every page with no error while PostgreSQL never has more
// backends of the app role than the pooler's server connections; Celery tasks work; a new
// app password reaches the pooler. WEBSTACK_STACK_TEST=1 runs it, like TestStack.
func TestPooler(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	s := startForTest(ctx, t, Options{People: 5000, Authors: 50, BooksPerAuthor: 5})
	tu := s.Tuning
	if tu.Pooler == nil {
		t.Fatal("the sample has no pooler: database.pooling.mode should default to Transaction")
	}
	serverPool := int(tu.Pooler.Replicas * (tu.Pooler.PoolSize + tu.Pooler.ReservePoolSize))
	maxConnections := tu.Database.MaxConnections
	startedAt, err := s.SQL(ctx, "SELECT pg_postmaster_start_time()")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pooler: %d replicas x (pool %d + reserve %d) = %d server connections; max_connections %d",
		tu.Pooler.Replicas, tu.Pooler.PoolSize, tu.Pooler.ReservePoolSize, serverPool, maxConnections)

	t.Run("the app connects through the pooler; the migrations went to PostgreSQL directly", func(t *testing.T) {
		u, err := url.Parse(s.AppEnv(resources.DatabaseURLKey))
		if err != nil || u.Host != s.PoolerAddr {
			t.Errorf("the app's DATABASE_URL %q (%v), want the pooler at %s", u, err, s.PoolerAddr)
		}
		if v := s.AppEnv(resources.EnvDisableServerSideCursors); v != "true" {
			t.Errorf("%s=%q, want true in transaction mode", resources.EnvDisableServerSideCursors, v)
		}
		if n, err := s.SQL(ctx, "SELECT count(*) > 0 FROM django_migrations WHERE app = 'catalog'"); err != nil || n != "t" {
			t.Errorf("catalog migrations applied: %q, %v", n, err)
		}
	})

	t.Run("scaling the app from 2 to 10 instances changes no PostgreSQL parameter", func(t *testing.T) {
		ws := s.WS.DeepCopy()
		ten := int32(10)
		ws.Spec.App.Replicas = &ten
		p, err := s.Replan(ws)
		if err != nil {
			t.Fatal(err)
		}
		if p.Tuning.Database.MaxConnections != maxConnections || p.Configs.Postgres != s.Plan.Configs.Postgres {
			t.Errorf("10 app pods: max_connections %d (was %d), postgresql.conf changed %t: PostgreSQL would restart",
				p.Tuning.Database.MaxConnections, maxConnections, p.Configs.Postgres != s.Plan.Configs.Postgres)
		}
		before, after := tu.Pooler, p.Tuning.Pooler
		if before.Replicas != after.Replicas || before.PoolSize != after.PoolSize || before.ReservePoolSize != after.ReservePoolSize {
			t.Errorf("the pooler's server side changed: %+v -> %+v", before, after)
		}
		t.Logf("max_client_conn %d -> %d (reloaded in place)", before.MaxClientConnections, after.MaxClientConnections)
		// Only reloadable pgbouncer settings may change; the poolers reload in place.
		if err := s.ReloadPoolers(p); err != nil {
			t.Fatal(err)
		}
		if _, err := s.StartApps(ctx, 8); err != nil {
			t.Fatalf("starting 8 more app instances: %v", err)
		}
	})

	t.Run("more clients than max_connections under load: no error, backends within the server pool", func(t *testing.T) {
		clients := len(s.Apps) * int(tu.App.WorkersPerPod*tu.App.ThreadsPerWorker)
		if clients <= int(maxConnections) {
			t.Fatalf("%d app threads do not exceed max_connections %d: the test proves nothing", clients, maxConnections)
		}
		res := s.Load(ctx, clients, 15*time.Second)
		t.Logf("%d clients on %d app instances for %s: %d requests (%.0f/s), %d errors, p50 %s p99 %s; at most %d app backends, %d client connections to the pooler",
			clients, len(s.Apps), res.Duration.Round(time.Millisecond), res.Requests, res.RequestsPerSecond(), res.Errors,
			res.Percentile(50), res.Percentile(99), res.PeakBackends, res.PeakPoolerClients)
		if res.Requests == 0 || res.Errors != 0 {
			t.Errorf("%d requests, %d errors (%v): want every request served", res.Requests, res.Errors, res.FirstError)
		}
		if res.PeakBackends > serverPool || res.PeakBackends == 0 {
			t.Errorf("PostgreSQL had up to %d backends of the app role, want 1 to %d (the pooler's server connections)", res.PeakBackends, serverPool)
		}
		if res.PeakPoolerClients >= 0 && res.PeakPoolerClients <= int(maxConnections) {
			t.Errorf("only %d client connections to the pooler, want more than max_connections %d", res.PeakPoolerClients, maxConnections)
		}
	})

	t.Run("a Celery task runs and writes through the pooler", func(t *testing.T) {
		c := &http.Client{Timeout: 30 * time.Second}
		base := "http://" + s.Apps[len(s.Apps)-1].Addr
		r, err := c.Post(base+"/api/invoices/", "application/json", strings.NewReader(`{"person": 5, "book": 1, "quantity": 2}`))
		if err != nil {
			t.Fatal(err)
		}
		var inv struct {
			ID     int    `json:"id"`
			Status string `json:"status"`
		}
		err = json.NewDecoder(r.Body).Decode(&inv)
		r.Body.Close()
		if err != nil || r.StatusCode != http.StatusAccepted {
			t.Fatalf("POST /api/invoices/: %d, %v", r.StatusCode, err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for inv.Status != "done" && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			out, _ := s.SQL(ctx, fmt.Sprintf("SELECT status FROM catalog_invoice WHERE id = %d", inv.ID))
			inv.Status = out
		}
		if inv.Status != "done" {
			t.Errorf("invoice %d is %q after 30s, want done", inv.ID, inv.Status)
		}
	})

	t.Run("PostgreSQL was not restarted and max_connections is unchanged", func(t *testing.T) {
		if now, err := s.SQL(ctx, "SELECT pg_postmaster_start_time()"); err != nil || now != startedAt {
			t.Errorf("postmaster start time %q (%v), was %q", now, err, startedAt)
		}
		if mc, err := s.SQL(ctx, "SHOW max_connections"); err != nil || mc != strconv.Itoa(int(maxConnections)) {
			t.Errorf("max_connections %q (%v), want %d", mc, err, maxConnections)
		}
	})

	// Last: it restarts PostgreSQL and the poolers.
	t.Run("a new app password reaches the pooler", func(t *testing.T) {
		fresh := s.Credentials
		old := fresh.DatabaseApp
		fresh.DatabaseSuperuser, fresh.DatabaseApp = password(), password()
		if err := s.RestartPostgres(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		if out, err := s.ThroughPooler(ctx, fresh.DatabaseApp, "SELECT current_user"); err != nil || out != "app" {
			t.Errorf("the new password through the pooler: %q, %v", out, err)
		}
		if _, err := s.ThroughPooler(ctx, old, "SELECT 1"); err == nil {
			t.Error("the old password still passes the pooler")
		}
	})
}
