package render

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/manifest"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// pgBinDir holds Debian's PostgreSQL 15 binaries.
const pgBinDir = "/usr/lib/postgresql/15/bin"

// TestPostgresConfig checks postgresql.conf against tuning and the spec's parameters.
func TestPostgresConfig(t *testing.T) {
	for _, name := range specNames() {
		ws := loadSpec(t, name)
		if !ws.Spec.Database.IsEnabled() {
			continue
		}
		t.Run(name, func(t *testing.T) {
			db := tuning.For(ws).Database
			conf := lines(renderSpec(t, name, "dns", Options{})[FilePostgres])
			for _, w := range []string{
				"listen_addresses = '*'", "port = 5432",
				fmt.Sprintf("max_connections = %d", db.MaxConnections),
				fmt.Sprintf("shared_buffers = %dMB", db.SharedBuffersMiB),
				fmt.Sprintf("effective_cache_size = %dMB", db.EffectiveCacheSizeMiB),
				fmt.Sprintf("work_mem = %dMB", db.WorkMemMiB),
				fmt.Sprintf("maintenance_work_mem = %dMB", db.MaintenanceWorkMemMiB),
				"password_encryption = 'scram-sha-256'",
				"random_page_cost = 1.1", "effective_io_concurrency = 200", "checkpoint_completion_target = 0.9",
			} {
				if !containsLine(conf, w) {
					t.Errorf("postgresql.conf has no line %q", w)
				}
			}
		})
	}
}

// TestPostgresParametersAreQuotedAndLast checks that spec.database.parameters come last,
// sorted, quoted as postgresql.conf wants (” for a quote, \\ for a backslash).
func TestPostgresParametersAreQuotedAndLast(t *testing.T) {
	conf := renderSpec(t, "db-parameters", "dns", Options{})[FilePostgres]
	want := strings.Join([]string{
		`log_line_prefix = '%m it''s a "test" \\ [%p]'`,
		`log_min_duration_statement = '250ms'`,
		`random_page_cost = '1.5'`,
		`webstack.note = 'a''b\\c'`,
		`work_mem = '8MB'`,
	}, "\n") + "\n"
	if !strings.HasSuffix(conf, want) {
		t.Fatalf("postgresql.conf does not end with the parameters:\n%s\nit ends with:\n%s", want, tail(conf, 8))
	}
}

// TestPostgresHBAAndInitSQL checks the access rules and the init script, with default and
// custom names.
func TestPostgresHBAAndInitSQL(t *testing.T) {
	tests := map[string]struct {
		opts     Options
		role, db string
	}{
		"default names": {role: "app", db: "app"},
		"custom names":  {opts: Options{AppRole: "shop_user", AppDatabase: "shop"}, role: "shop_user", db: "shop"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			files := renderSpec(t, "full", "dns", tc.opts)
			var rules []string
			for _, l := range lines(files[FilePgHBA]) {
				if !strings.HasPrefix(l, "#") {
					rules = append(rules, strings.Join(strings.Fields(l), " "))
				}
			}
			want := []string{
				"local all postgres trust",
				"host " + tc.db + " " + tc.role + " 0.0.0.0/0 scram-sha-256",
				"host " + tc.db + " " + tc.role + " ::/0 scram-sha-256",
			}
			if strings.Join(rules, "\n") != strings.Join(want, "\n") {
				t.Errorf("pg_hba.conf rules:\n%s\nwant:\n%s", strings.Join(rules, "\n"), strings.Join(want, "\n"))
			}
			sql := files[FileInitSQL]
			wantInOrder(t, "init.sql", sql,
				"--   app_password",
				`\if :{?app_password}`,
				fmt.Sprintf(`SELECT 'CREATE ROLE "%s" LOGIN'`, tc.role),
				fmt.Sprintf(`ALTER ROLE "%s" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';`, tc.role),
				fmt.Sprintf(`SELECT 'CREATE DATABASE "%s" OWNER "%s"`, tc.db, tc.role),
				fmt.Sprintf(`\connect "%s"`, tc.db),
				`CREATE EXTENSION IF NOT EXISTS "pg_trgm";`,
				`CREATE EXTENSION IF NOT EXISTS "btree_gin";`)
		})
	}
}

// pgCluster is a PostgreSQL data directory made by initdb in a temp dir, owned by the
// postgres user when the tests run as root (postgres refuses to run as root).
type pgCluster struct {
	dir  string // config files and the socket
	data string
	port int
	cred *syscall.Credential
}

// newPGCluster runs initdb once.
func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	initdb := daemon(t, "initdb", filepath.Join(pgBinDir, "initdb"))
	daemon(t, "postgres", filepath.Join(pgBinDir, "postgres"))
	daemon(t, "psql", filepath.Join(pgBinDir, "psql"))
	c := &pgCluster{dir: filepath.Join(sharedTempDir(t), "pg")}
	c.data = filepath.Join(c.dir, "data")
	if err := os.Mkdir(c.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user to run PostgreSQL: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(c.dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	out, err := run(t, 60*time.Second, c.command(initdb, "-D", c.data, "-U", PostgresSuperuser, "-A", "trust",
		"--no-sync", "--no-instructions", "-E", "UTF8", "--locale", "C"))
	if err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	return c
}

// command runs a PostgreSQL program as the cluster's user, in its dir.
func (c *pgCluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGCONNECT_TIMEOUT=5")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

// write puts a rendered file into the cluster's dir.
func (c *pgCluster) write(t *testing.T, name, content string) string {
	t.Helper()
	return writeFile(t, c.dir, name, content)
}

// start runs postgres with the rendered postgresql.conf and pg_hba.conf on a free loopback
// port (the command line narrows listen_addresses '*' to 127.0.0.1) and waits until the
// superuser can connect through the socket.
func (c *pgCluster) start(t *testing.T, files map[string]string) *process {
	t.Helper()
	conf := c.write(t, FilePostgres, files[FilePostgres])
	hba := c.write(t, FilePgHBA, files[FilePgHBA])
	c.port = freePort(t)
	p := start(t, "postgres", syscall.SIGINT, c.command(filepath.Join(pgBinDir, "postgres"), "-D", c.data,
		"-c", "config_file="+conf, "-c", "hba_file="+hba, "-c", "listen_addresses=127.0.0.1",
		"-p", strconv.Itoa(c.port), "-k", c.dir))
	waitFor(t, p, 20*time.Second, "postgres", func() error {
		_, err := c.superuser(t, "SELECT 1", nil)
		return err
	})
	return p
}

// stop shuts postgres down (fast) and waits, so that the next start can use the data dir.
func (c *pgCluster) stop(t *testing.T, p *process) {
	t.Helper()
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("postgres did not stop within 20s")
	}
}

// psql runs SQL (from stdin) with psql, as the cluster's OS user.
func (c *pgCluster) psql(t *testing.T, sql string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := c.command(filepath.Join(pgBinDir, "psql"), append([]string{"-X", "-w", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-p", strconv.Itoa(c.port)}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	if sql != "" {
		cmd.Stdin = strings.NewReader(sql)
	}
	out, err := run(t, 30*time.Second, cmd)
	return strings.TrimSpace(out), err
}

// superuser runs SQL as the superuser through the local socket.
func (c *pgCluster) superuser(t *testing.T, sql string, env []string, args ...string) (string, error) {
	return c.psql(t, sql, env, append([]string{"-h", c.dir, "-U", PostgresSuperuser, "-d", "postgres"}, args...)...)
}

// overTCP runs SQL as user on database db over loopback TCP with a password.
func (c *pgCluster) overTCP(t *testing.T, user, db, password, sql string) (string, error) {
	return c.psql(t, sql, []string{"PGPASSWORD=" + password}, "-h", "127.0.0.1", "-U", user, "-d", db)
}

// TestPostgresRunsTheConfig checks every spec's postgresql.conf with `postgres -C` and then
// runs a real server with four of them in turn on one data directory: it reports the
// rendered values, runs init.sql (again on each start: it must be repeatable), accepts the
// app role with scram-sha-256 only, and answers JSONB and trigram queries with GIN indexes.
func TestPostgresRunsTheConfig(t *testing.T) {
	c := newPGCluster(t)

	t.Run("postgres -C accepts every spec's postgresql.conf", func(t *testing.T) {
		for _, name := range specNames() {
			ws := loadSpec(t, name)
			if !ws.Spec.Database.IsEnabled() {
				continue
			}
			conf := c.write(t, name+".conf", renderSpec(t, name, "dns", Options{})[FilePostgres])
			out, err := run(t, 30*time.Second, c.command(filepath.Join(pgBinDir, "postgres"), "-D", c.data,
				"-c", "config_file="+conf, "-C", "max_connections"))
			if err != nil {
				t.Errorf("%s: postgres -C: %v\n%s", name, err, out)
				continue
			}
			if want := strconv.Itoa(int(tuning.For(ws).Database.MaxConnections)); strings.TrimSpace(out) != want {
				t.Errorf("%s: max_connections %q, want %s", name, strings.TrimSpace(out), want)
			}
		}
	})

	// One server start per variant, on the same data directory, in this order.
	variants := []struct {
		spec, password string
		check          func(t *testing.T, c *pgCluster, ws *v1alpha1.WebStack)
	}{
		{"defaults", "first-pass'word", checkFreshCluster},
		{"full", "second password", checkExtensions},
		{"db-parameters", "third", checkParameters},
		{"autoscaling-100", "fourth", nil},
	}
	previous := ""
	for _, v := range variants {
		t.Run(v.spec, func(t *testing.T) {
			ws := loadSpec(t, v.spec)
			files := renderSpec(t, v.spec, "dns", Options{})
			p := c.start(t, files)
			defer c.stop(t, p)

			initSQL := c.write(t, FileInitSQL, files[FileInitSQL])
			if out, err := c.superuser(t, "", nil, "-v", "app_password="+v.password, "-f", initSQL); err != nil {
				t.Fatalf("init.sql: %v\n%s", err, out)
			}
			checkSettings(t, c, tuning.For(ws).Database)
			checkAccess(t, c, v.password, previous)
			if v.check != nil {
				v.check(t, c, ws)
			}
			previous = v.password
		})
	}
}

// checkSettings compares what the server runs with to tuning.
func checkSettings(t *testing.T, c *pgCluster, db *tuning.DatabaseResult) {
	t.Helper()
	out, err := c.superuser(t, `SELECT name || '=' || CASE WHEN name IN ('shared_buffers', 'effective_cache_size', 'work_mem', 'maintenance_work_mem')
		THEN pg_size_bytes(current_setting(name))::text ELSE current_setting(name) END
		FROM unnest(ARRAY['max_connections', 'shared_buffers', 'effective_cache_size', 'work_mem', 'maintenance_work_mem',
			'password_encryption', 'effective_io_concurrency', 'checkpoint_completion_target', 'wal_level', 'timezone']) AS name`, nil)
	if err != nil {
		t.Fatalf("reading settings: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, l := range lines(out) {
		k, v, _ := strings.Cut(l, "=")
		got[k] = v
	}
	const mib = 1024 * 1024
	want := map[string]string{
		"max_connections":              strconv.Itoa(int(db.MaxConnections)),
		"shared_buffers":               strconv.FormatInt(db.SharedBuffersMiB*mib, 10),
		"effective_cache_size":         strconv.FormatInt(db.EffectiveCacheSizeMiB*mib, 10),
		"maintenance_work_mem":         strconv.FormatInt(db.MaintenanceWorkMemMiB*mib, 10),
		"password_encryption":          "scram-sha-256",
		"effective_io_concurrency":     "200",
		"checkpoint_completion_target": "0.9",
		"wal_level":                    "replica",
		"timezone":                     "UTC",
	}
	if got["work_mem"] != "8388608" { // db-parameters overrides it with 8MB
		want["work_mem"] = strconv.FormatInt(db.WorkMemMiB*mib, 10)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("SHOW %s = %q, want %q", k, got[k], w)
		}
	}
}

// checkAccess: the app role logs in over the network with its password (scram-sha-256
// only), a wrong or the previous password is refused, and the superuser and other
// databases are not reachable over the network.
func checkAccess(t *testing.T, c *pgCluster, password, previous string) {
	t.Helper()
	if out, err := c.overTCP(t, "app", "app", password, "SELECT current_user || '@' || current_database()"); err != nil || out != "app@app" {
		t.Errorf("app login with its password: %v, %q", err, out)
	}
	refused := map[string]struct{ user, db, password, want string }{
		"wrong password":          {"app", "app", "wrong", `password authentication failed for user "app"`},
		"superuser over TCP":      {PostgresSuperuser, "postgres", "x", `no pg_hba.conf entry for host "127.0.0.1", user "postgres"`},
		"app to another database": {"app", "postgres", password, `no pg_hba.conf entry for host "127.0.0.1", user "app", database "postgres"`},
	}
	if previous != "" {
		refused["the previous password after init.sql ran again"] = struct{ user, db, password, want string }{"app", "app", previous, "password authentication failed"}
	}
	for what, r := range refused {
		out, err := c.overTCP(t, r.user, r.db, r.password, "SELECT 1")
		if err == nil || !strings.Contains(out, r.want) {
			t.Errorf("%s: %v, %q; want a refusal with %q", what, err, out, r.want)
		}
	}
	out, err := c.superuser(t, `SELECT (SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'app')
		|| ',' || (SELECT string_agg(DISTINCT auth_method, ',') FROM pg_hba_file_rules WHERE 'app' = ANY(user_name))`, nil)
	if err != nil || out != "true,scram-sha-256" {
		t.Errorf("the app role's password is stored as SCRAM and pg_hba only allows scram-sha-256 for it: got %q (%v)", out, err)
	}
}

// checkFreshCluster: init.sql refuses to run without a password; JSONB with a GIN index
// works without any extension.
func checkFreshCluster(t *testing.T, c *pgCluster, _ *v1alpha1.WebStack) {
	t.Helper()
	initSQL := filepath.Join(c.dir, FileInitSQL)
	if out, err := c.superuser(t, "", nil, "-f", initSQL); err == nil || !strings.Contains(out, "app_password is not set") {
		t.Errorf("init.sql without app_password: %v, %q; want a failure naming the variable", err, out)
	}
	if out, err := c.superuser(t, "", nil, "-v", "app_password=", "-f", initSQL); err == nil || !strings.Contains(out, "app_password is empty") {
		t.Errorf("init.sql with an empty app_password: %v, %q; want a failure", err, out)
	}
	out, err := c.overTCP(t, "app", "app", "first-pass'word", `
CREATE TABLE docs (id bigserial PRIMARY KEY, tenant int NOT NULL, body jsonb NOT NULL);
INSERT INTO docs (tenant, body)
  SELECT g % 7, jsonb_build_object('n', g, 'tag', 't' || (g % 10)) FROM generate_series(1, 2000) AS g;
CREATE INDEX docs_body ON docs USING gin (body jsonb_path_ops);
ANALYZE docs;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM docs WHERE body @> '{"tag": "t3"}';
SELECT count(*) FROM docs WHERE body @> '{"tag": "t3"}';`)
	if err != nil {
		t.Fatalf("JSONB table: %v\n%s", err, out)
	}
	l := lines(out)
	if !strings.Contains(out, "Bitmap Index Scan on docs_body") || l[len(l)-1] != "200" {
		t.Errorf("JSONB containment through the GIN index: want a Bitmap Index Scan on docs_body and 200 rows, got:\n%s", out)
	}
}

// checkExtensions: init.sql created the spec's extensions in the app database; pg_trgm
// serves LIKE '%...%' from a GIN index, btree_gin allows an int column in one.
func checkExtensions(t *testing.T, c *pgCluster, ws *v1alpha1.WebStack) {
	t.Helper()
	out, err := c.overTCP(t, "app", "app", "second password", `
SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension WHERE extname <> 'plpgsql';
CREATE TABLE products (id bigserial PRIMARY KEY, tenant int NOT NULL, name text NOT NULL);
INSERT INTO products (tenant, name) SELECT g % 7, 'product number ' || g FROM generate_series(1, 2000) AS g;
CREATE INDEX products_name ON products USING gin (name gin_trgm_ops);
CREATE INDEX products_tenant_name ON products USING gin (tenant, name gin_trgm_ops);
ANALYZE products;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM products WHERE name LIKE '%number 123%';
SELECT count(*) FROM products WHERE name LIKE '%number 123%';`)
	if err != nil {
		t.Fatalf("trigram table: %v\n%s", err, out)
	}
	l := lines(out)
	if want := "btree_gin,pg_trgm"; l[0] != want || len(ws.Spec.Database.Extensions) != 2 {
		t.Errorf("extensions in the app database: %q, want %q", l[0], want)
	}
	if !strings.Contains(out, "Bitmap Index Scan on products_") || l[len(l)-1] != "11" {
		t.Errorf("LIKE through the trigram GIN index: want a Bitmap Index Scan and 11 rows, got:\n%s", out)
	}
	// The JSONB table of the first variant is still there: the data survived the restart.
	if out, err := c.overTCP(t, "app", "app", "second password", "SELECT count(*) FROM docs"); err != nil || out != "2000" {
		t.Errorf("docs after a restart with another config: %q (%v)", out, err)
	}
}

// checkParameters: spec.database.parameters reach the server verbatim, quotes and
// backslashes included.
func checkParameters(t *testing.T, c *pgCluster, _ *v1alpha1.WebStack) {
	t.Helper()
	out, err := c.superuser(t, `SELECT name || '=' || current_setting(name)
		FROM unnest(ARRAY['random_page_cost', 'work_mem', 'log_min_duration_statement', 'log_line_prefix', 'webstack.note']) AS name`, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"random_page_cost=1.5",
		"work_mem=8MB",
		"log_min_duration_statement=250ms",
		`log_line_prefix=%m it's a "test" \ [%p]`,
		`webstack.note=a'b\c`,
	}
	if got := lines(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("parameters:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPostgresRestartParameters checks the restart list against the real server's own
// description of its parameters (PostgreSQL 15): every postmaster parameter and no other.
func TestPostgresRestartParameters(t *testing.T) {
	bin := "/usr/lib/postgresql/15/bin/postgres"
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("PostgreSQL 15 is not installed (hack/install-deps.sh): %v", err)
	}
	out, err := exec.Command(bin, "--describe-config").Output()
	if err != nil {
		t.Fatal(err)
	}
	var postmaster []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 2 {
			continue
		}
		if f[1] == "postmaster" {
			postmaster = append(postmaster, f[0])
		}
		if got, want := PostgresNeedsRestart(f[0]), f[1] == "postmaster"; got != want && f[1] != "internal" {
			t.Errorf("%s (context %s): needs restart %t, want %t", f[0], f[1], got, want)
		}
	}
	if len(postmaster) < 40 {
		t.Fatalf("postgres --describe-config lists only %d postmaster parameters:\n%s", len(postmaster), out)
	}
	conf, err := PostgresConfig(loadSpec(t, "db-parameters"), tuning.For(loadSpec(t, "db-parameters")))
	if err != nil {
		t.Fatal(err)
	}
	restart := PostgresRestartOnly(conf)
	for _, want := range []string{"max_connections = ", "shared_buffers = ", "wal_level = ", "listen_addresses = ", "port = "} {
		if !strings.Contains(restart, want) {
			t.Errorf("the restart part has no %q:\n%s", want, restart)
		}
	}
	for _, reload := range []string{"work_mem", "log_min_duration_statement", "effective_cache_size", "#"} {
		if strings.Contains(restart, "\n"+reload) || strings.HasPrefix(restart, reload) {
			t.Errorf("the restart part has %q:\n%s", reload, restart)
		}
	}
}

// TestPostgresNamesAgreeWithTheCRD checks that the CRD (its schema and CEL rules, applied
// offline by internal/manifest) and the renderer accept exactly the same parameter and
// extension names: nothing is admitted that the renderer then refuses, and the reserved
// parameters are refused by both.
func TestPostgresNamesAgreeWithTheCRD(t *testing.T) {
	long := strings.Repeat("a", 63)
	parameters := map[string]bool{ // name -> accepted
		"random_page_cost": true, "work_mem": true, "auto_explain.log_min_duration": true,
		"_private": true, "a._b": true, long: true,
		long + "a": false, "a..b": false, "a.": false, ".a": false, "1abc": false, "a.1b": false, "Work_mem": false, "a-b": false,
		// Reserved: owned by the operator, or reaching outside the database.
		"include": false, "include_dir": false, "include_if_exists": false,
		"listen_addresses": false, "port": false, "data_directory": false, "hba_file": false,
		"ident_file": false, "config_file": false, "external_pid_file": false,
		"dynamic_library_path": false, "krb_server_keyfile": false, "password_encryption": false,
		"max_connections": false, "shared_buffers": false,
		"ssl": false, "ssl_ciphers": false, "ssl_passphrase_command": false,
		"archive_mode": false, "archive_command": false, "archive_library": false,
		"restore_command": false, "archive_cleanup_command": false, "recovery_end_command": false,
		"unix_socket_directories": false, "unix_socket_permissions": false, "unix_socket_group": false,
		"shared_preload_libraries": false, "session_preload_libraries": false, "local_preload_libraries": false,
	}
	extensions := map[string]bool{
		"pg_trgm": true, "btree_gin": true, "_x": true, long: true,
		long + "a": false, "1abc": false, "a-b": false, "PG_TRGM": false, "": false,
	}
	admits := func(database string) error {
		_, err := manifest.Decode([]byte("apiVersion: webstack.dev/v1alpha1\nkind: WebStack\nmetadata: {name: shop}\nspec:\n  app: {image: shop:1}\n  database: " + database + "\n"))
		return err
	}
	for name, want := range parameters {
		t.Run("parameter "+name, func(t *testing.T) {
			crdErr := admits(fmt.Sprintf("{parameters: {%q: \"1\"}}", name))
			ws := loadSpec(t, "defaults")
			ws.Spec.Database.Parameters = map[string]v1alpha1.ParameterValue{name: "1"}
			_, renderErr := PostgresConfig(ws, tuning.For(ws))
			if (crdErr == nil) != want || (renderErr == nil) != want {
				t.Errorf("want accepted %t; the CRD says %v, the renderer %v", want, crdErr, renderErr)
			}
		})
	}
	for name, want := range extensions {
		t.Run("extension "+name, func(t *testing.T) {
			crdErr := admits(fmt.Sprintf("{extensions: [%q]}", name))
			ws := loadSpec(t, "defaults")
			ws.Spec.Database.Extensions = []string{name}
			_, renderErr := PostgresInitSQL(ws, Options{})
			if (crdErr == nil) != want || (renderErr == nil) != want {
				t.Errorf("want accepted %t; the CRD says %v, the renderer %v", want, crdErr, renderErr)
			}
		})
	}
}
