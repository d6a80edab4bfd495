package render

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

func TestPoolerConfig(t *testing.T) {
	cases := map[string]struct {
		spec    string
		d       Discovery
		want    []string
		wantErr string
	}{
		"transaction by default, sized from tuning": {
			spec: "defaults", d: dnsDiscovery(),
			want: []string{"pool_mode = transaction\n", "default_pool_size = 3\n", "reserve_pool_size = 1\n",
				"max_db_connections = 4\n", "max_client_conn = 100\n",
				"app = host=shop-database.web.svc.cluster.local port=5432 dbname=app\n", "listen_port = 6432\n"},
		},
		"session: a server connection per client (2 pods x 3 workers x 4 threads on 1 replica)": {
			spec: "session", d: dnsDiscovery(),
			want: []string{"pool_mode = session\n", "default_pool_size = 24\n", "reserve_pool_size = 6\n", "max_db_connections = 30\n"},
		},
		"static: database and listen address": {
			spec: "defaults", d: Discovery{Static: &StaticDiscovery{AppServers: []string{"127.0.0.1:8001"}, CacheServers: []string{"127.0.0.1:6081"},
				AppListener: "127.0.0.1:8081", Database: "127.0.0.1:15432", Pooler: "127.0.0.1:16432"}},
			want: []string{"app = host=127.0.0.1 port=15432 dbname=app\n", "listen_addr = 127.0.0.1\n", "listen_port = 16432\n"},
		},
		"no pooler with mode None": {spec: "direct", d: dnsDiscovery(), wantErr: "pooling.mode is None"},
		"DNS without the database host": {
			spec: "defaults", d: Discovery{DNS: &DNSDiscovery{AppHost: "a.b", CacheHost: "c.d", AppListenerHost: "e.f"}},
			wantErr: `DNS.DatabaseHost "" is not a DNS name`,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ws := loadSpec(t, c.spec)
			got, err := PoolerConfig(ws, tuning.For(ws), c.d, Options{})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("pgbouncer.ini has no %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestPoolerAuthFile(t *testing.T) {
	if got, want := PoolerAuthFile("app", `pa"ss word`), `"app" "pa""ss word"`+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestPgBouncerRunsTheConfig starts a real PostgreSQL with the rendered files and Debian's
// pgbouncer with the rendered pgbouncer.ini between it and psql clients: the app role logs
// in through the pooler with its password (a wrong one is refused), and more clients than
// max_connections run queries at once while PostgreSQL never has more backends of the app
// role than the pooler's server pool.
func TestPgBouncerRunsTheConfig(t *testing.T) {
	pgbouncer := daemon(t, "pgbouncer", "/usr/sbin/pgbouncer")
	c := newPGCluster(t)
	ws := loadSpec(t, "defaults")
	tu := tuning.For(ws)
	files := renderSpec(t, "defaults", "dns", Options{})
	pg := c.start(t, files)
	defer c.stop(t, pg)
	const password = `s3cret "pass" word`
	if out, err := c.superuser(t, "", nil, "-v", "app_password="+password, "-f", c.write(t, FileInitSQL, files[FileInitSQL])); err != nil {
		t.Fatalf("init.sql: %v\n%s", err, out)
	}

	port := freePort(t)
	auth := c.write(t, FilePoolerAuth, PoolerAuthFile(DefaultAppRole, password))
	ini, err := PoolerConfig(ws, tu, Discovery{Static: &StaticDiscovery{
		AppServers: []string{"127.0.0.1:8001"}, CacheServers: []string{"127.0.0.1:6081"}, AppListener: "127.0.0.1:8081",
		Database: loopback(c.port), Pooler: loopback(port),
	}}, Options{PoolerAuthFile: auth})
	if err != nil {
		t.Fatal(err)
	}
	p := start(t, "pgbouncer", syscall.SIGINT, c.command(pgbouncer, c.write(t, FilePooler, ini)))
	viaPooler := func(pw, sql string) (string, error) {
		cmd := c.command(filepath.Join(pgBinDir, "psql"), "-X", "-w", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
			"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", DefaultAppRole, "-d", DefaultAppDatabase)
		cmd.Env = append(cmd.Env, "PGPASSWORD="+pw)
		cmd.Stdin = strings.NewReader(sql)
		out, err := run(t, 60*time.Second, cmd)
		return strings.TrimSpace(out), err
	}
	waitFor(t, p, 20*time.Second, "pgbouncer", func() error {
		_, err := viaPooler(password, "SELECT 1")
		return err
	})
	if out, err := viaPooler(password, "SELECT current_user || '@' || current_database()"); err != nil || out != "app@app" {
		t.Errorf("through the pooler: %q (%v)", out, err)
	}
	if out, err := viaPooler("wrong", "SELECT 1"); err == nil || !strings.Contains(out, "SASL authentication failed") {
		t.Errorf("a wrong password through the pooler: %q (%v), want a refusal", out, err)
	}

	pool := int(tu.Pooler.PoolSize + tu.Pooler.ReservePoolSize)
	clients := int(tu.Database.MaxConnections) + 5
	backends := func() int {
		out, err := c.superuser(t, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'", nil)
		n, convErr := strconv.Atoi(out)
		if err != nil || convErr != nil {
			t.Errorf("counting backends: %q (%v)", out, err)
		}
		return n
	}
	stop := make(chan struct{})
	most := make(chan int)
	go func() {
		m := 0
		for {
			select {
			case <-stop:
				most <- m
				return
			default:
				m = max(m, backends())
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Five transactions per client, each holding a server connection for 50ms.
			out, err := viaPooler(password, strings.Repeat("SELECT pg_sleep(0.05);\n", 5)+fmt.Sprintf("SELECT %d;", i))
			if err != nil || !strings.HasSuffix(out, strconv.Itoa(i)) {
				errs <- fmt.Errorf("client %d: %v: %s", i, err, out)
			}
		}()
	}
	wg.Wait()
	close(stop)
	peak := <-most
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d clients (max_connections %d) through the pooler: at most %d app backends (pool %d + reserve %d)",
		clients, tu.Database.MaxConnections, peak, tu.Pooler.PoolSize, tu.Pooler.ReservePoolSize)
	if peak > pool || peak < 1 {
		t.Errorf("PostgreSQL had %d backends of the app role, want 1 to %d (the server pool)", peak, pool)
	}
	if ws.Spec.Database.Pooling.Mode != v1alpha1.PoolingTransaction {
		t.Errorf("the defaults spec pools in mode %q, want Transaction", ws.Spec.Database.Pooling.Mode)
	}
}
