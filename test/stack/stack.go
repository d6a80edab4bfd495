package stack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/manifest"
	"github.com/webstack-dev/webstack-operator/internal/stack"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// Where Debian (hack/install-deps.sh) installs what the stack runs.
const (
	Python     = "/usr/bin/python3"
	Gunicorn   = "/usr/bin/gunicorn"
	HAProxy    = "/usr/sbin/haproxy"
	Varnishd   = "/usr/sbin/varnishd"
	RedisSrv   = "/usr/bin/redis-server"
	PGBinDir   = "/usr/lib/postgresql/15/bin"
	SampleFile = "config/samples/webstack_v1alpha1_django_shop.yaml"
	AppDir     = "examples/django-shop"
)

// pythonModules are the Debian Python packages the example app needs.
var pythonModules = []string{"django", "gunicorn", "celery", "redis", "django_redis", "psycopg2"}

// Missing lists what the stack needs and this machine lacks; empty when all is there.
func Missing() []string {
	var missing []string
	for _, p := range []string{Python, Gunicorn, HAProxy, Varnishd, RedisSrv, PgBouncer,
		filepath.Join(PGBinDir, "initdb"), filepath.Join(PGBinDir, "postgres"), filepath.Join(PGBinDir, "psql")} {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			missing = append(missing, p)
		}
	}
	if _, err := os.Stat(Python); err == nil {
		for _, m := range pythonModules {
			if exec.Command(Python, "-c", "import "+m).Run() != nil {
				missing = append(missing, "python3 module "+m)
			}
		}
	}
	return missing
}

// Options say what to start.
type Options struct {
	// Root is the repository root; the sample manifest and the app are found from it.
	Root string
	// Manifest is the WebStack to run; default Root/SampleFile.
	Manifest string
	// People, Authors and BooksPerAuthor are what manage.py seed creates.
	People, Authors, BooksPerAuthor int
	// Pooling, when set, replaces the manifest's database.pooling.mode (to compare the
	// pooler with direct connections).
	Pooling v1alpha1.PoolingMode
	// AppReplicas, when above 0, replaces the manifest's app.replicas.
	AppReplicas int32
	// KeepDir keeps the temp dir (configs, logs, data) after Stop.
	KeepDir bool
	// Logf reports progress; nil is silent.
	Logf func(format string, args ...any)
}

// Stack is every process of one WebStack on loopback, started from the configs the operator
// renders for it (static discovery) and the environment it gives the app.
type Stack struct {
	WS *v1alpha1.WebStack
	// Plan is the operator's plan for WS with static discovery on loopback: its tuning, its
	// configs (the cache Redis and the broker each with its own data dir) and the objects
	// whose commands and environment the processes get.
	Plan *stack.Plan
	// Tuning is Plan.Tuning.
	Tuning tuning.Result
	// Credentials are the generated passwords the stack started with.
	Credentials resources.Credentials
	// Dir holds the configs, data and logs/<process>.log.
	Dir string

	// Frontend is HAProxy's public frontend; Stats its stats endpoint; Varnish varnishd's
	// listener; AppListener HAProxy's listener for Varnish's misses; VarnishAdmin
	// varnishd's admin CLI. All host:port.
	Frontend, Stats, Varnish, AppListener, VarnishAdmin string
	// VarnishSecret is varnishd's -S file; HAProxyMaster haproxy's master CLI socket.
	VarnishSecret, HAProxyMaster string
	// Varnishd and HAProxy are the daemons; Agents the in-pod agents beside Varnish,
	// HAProxy and the cache Redis, keyed by daemon ("varnish", "haproxy", "redis").
	Varnishd, HAProxy *Process
	Agents            map[string]*Agent
	// Apps are the gunicorn instances, named app-1, app-2, ...
	Apps []*Process
	// Worker is the Celery worker.
	Worker        *Process
	Cache, Broker *Redis
	Postgres      *Process
	// Poolers are the pgbouncer processes of the pooler's replicas, all at PoolerAddr (none
	// with database.pooling.mode None).
	Poolers    []*Process
	PoolerAddr string

	// static and renderOptions are the plan's options, to build it again.
	static        *render.StaticDiscovery
	renderOptions render.Options

	appDir   string
	logDir   string
	pgDir    string
	pgPort   int
	pgCred   *syscall.Credential
	appEnv   []string
	workEnv  []string
	procs    []*Process
	agentBin string
	keepDir  bool
	logf     func(string, ...any)
	started  time.Time
	Timeline []string
}

// Start starts the stack: PostgreSQL (initdb, the rendered postgresql.conf, pg_hba.conf and
// init.sql), the cache Redis and the broker (rendered configs), the app's migration command,
// collectstatic and the seed, app.replicas gunicorn instances and one Celery worker with the
// operator's arguments, Varnish and HAProxy (rendered, static discovery pointing at the
// processes above). On error everything started so far is stopped.
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	if o.Manifest == "" {
		o.Manifest = filepath.Join(o.Root, SampleFile)
	}
	s = &Stack{appDir: filepath.Join(o.Root, AppDir), keepDir: o.KeepDir, logf: o.Logf, started: time.Now()}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	if s.appDir, err = filepath.Abs(s.appDir); err != nil {
		return nil, err
	}
	if m := Missing(); len(m) > 0 {
		return nil, fmt.Errorf("%s: %w", strings.Join(m, ", "), errMissing)
	}
	if s.WS, err = manifest.Load(o.Manifest); err != nil {
		return nil, err
	}
	ws := s.WS
	if o.Pooling != "" {
		ws.Spec.Database.Pooling.Mode = o.Pooling
	}
	if o.AppReplicas > 0 {
		ws.Spec.App.Replicas = &o.AppReplicas
	}
	if !ws.Spec.Cache.IsEnabled() || !ws.Spec.Redis.IsEnabled() || !ws.Spec.Database.IsEnabled() || ws.Spec.Tasks == nil || ws.Spec.App.Migration == nil {
		return nil, fmt.Errorf("%s: the stack needs the cache, the cache Redis, the database, tasks and app.migration", o.Manifest)
	}

	if s.Dir, err = os.MkdirTemp("", "webstack-stack-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Stop()
			s = nil
		}
	}()
	// Readable by the users varnishd and postgres switch to.
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return s, err
	}
	s.logDir = filepath.Join(s.Dir, "logs")
	if err := os.Mkdir(s.logDir, 0o755); err != nil {
		return s, err
	}

	replicas := int(ws.Spec.App.AppReplicas())
	ports, err := freePorts(9 + replicas)
	if err != nil {
		return s, err
	}
	s.Frontend, s.Stats, s.Varnish, s.AppListener = loopback(ports[0]), loopback(ports[1]), loopback(ports[2]), loopback(ports[3])
	redisPort, brokerPort := ports[4], ports[5]
	s.pgPort = ports[6]
	s.VarnishAdmin = loopback(ports[7])
	s.PoolerAddr = loopback(ports[8+replicas])
	var appAddrs []string
	for i := range replicas {
		appAddrs = append(appAddrs, loopback(ports[8+i]))
	}

	creds := resources.Credentials{DatabaseSuperuser: password(), DatabaseApp: password(), Redis: password(), Broker: password()}
	s.Credentials = creds
	if err := s.build(appAddrs, creds); err != nil {
		return s, err
	}
	conn, err := planned[*corev1.Secret](s.Plan, resources.ConnectionSecretName(ws))
	if err != nil {
		return s, err
	}
	app, err := planned[*appsv1.Deployment](s.Plan, resources.AppName(ws))
	if err != nil {
		return s, err
	}
	worker, err := planned[*appsv1.Deployment](s.Plan, resources.TasksName(ws))
	if err != nil {
		return s, err
	}

	s.mark("postgres")
	if err := s.startPostgres(ctx, creds); err != nil {
		return s, err
	}
	if err := s.startPoolers(ctx, creds); err != nil {
		return s, err
	}
	s.mark("redis")
	if s.Cache, err = s.startRedis(ctx, "redis", render.FileRedis, redisPort, creds.Redis); err != nil {
		return s, err
	}
	if s.Broker, err = s.startRedis(ctx, "broker", render.FileBroker, brokerPort, creds.Broker); err != nil {
		return s, err
	}

	// The connection Secret as the operator writes it, with each Service's host:port
	// replaced by the loopback address of the process that stands in for it.
	dbAddr := loopback(s.pgPort)
	if ws.Spec.Database.IsPooled() {
		dbAddr = s.PoolerAddr
	}
	local := map[string]string{
		resources.DatabaseURLKey:       dbAddr,
		resources.DatabaseDirectURLKey: loopback(s.pgPort),
		resources.RedisURLKey:          s.Cache.Process.Addr,
		resources.RedisCacheURLKey:     s.Cache.Process.Addr,
		resources.BrokerURLKey:         s.Broker.Process.Addr,
	}
	var connEnv []string
	for key, addr := range local {
		raw, ok := conn.Data[key]
		if !ok {
			return s, fmt.Errorf("the connection secret has no %s", key)
		}
		u, err := url.Parse(string(raw))
		if err != nil {
			return s, fmt.Errorf("%s from the operator: %w", key, err)
		}
		u.Host = addr
		connEnv = append(connEnv, key+"="+u.String())
	}
	secretKey := password()
	base := []string{
		"PATH=/usr/bin:/bin:/usr/sbin:/sbin",
		"HOME=" + s.Dir,
		"LANG=C.UTF-8",
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONUNBUFFERED=1",
		"DJANGO_SECRET_KEY=" + secretKey,
		"STATIC_ROOT=" + filepath.Join(s.Dir, "static"),
	}
	// What the sample sets for a cluster, pointed at loopback.
	overrides := []string{
		"DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost",
		"SHOP_PUBLIC_HOSTS=" + s.Frontend,
		"SHOP_VARNISH_URLS=http://" + s.Varnish,
	}
	s.appEnv = concat(base, envOf(app.Spec.Template.Spec.Containers[0].Env), connEnv, overrides)
	s.workEnv = concat(base, envOf(worker.Spec.Template.Spec.Containers[0].Env), connEnv, overrides)

	s.mark("migrate")
	if _, err := s.migrate(ctx); err != nil {
		return s, fmt.Errorf("the migration command: %w", err)
	}
	// What the image does at build time.
	if _, err := s.Manage(ctx, "collectstatic", "--noinput", "-v", "0"); err != nil {
		return s, err
	}
	s.mark("seed")
	if out, err := s.Manage(ctx, "seed", "--clear", "--people", strconv.Itoa(o.People), "--authors", strconv.Itoa(o.Authors),
		"--books-per-author", strconv.Itoa(o.BooksPerAuthor)); err != nil {
		return s, err
	} else {
		s.logf("%s", strings.TrimSpace(out))
	}

	s.mark("app and worker")
	for i, addr := range appAddrs {
		p, err := s.startApp(i+1, addr)
		if err != nil {
			return s, err
		}
		s.Apps = append(s.Apps, p)
	}
	if s.Worker, err = s.startWorker(); err != nil {
		return s, err
	}
	s.mark("varnish and haproxy")
	if err := s.buildAgent(ctx, o.Root); err != nil {
		return s, err
	}
	if err := s.startVarnish(ctx); err != nil {
		return s, err
	}
	if err := s.startHAProxy(ctx); err != nil {
		return s, err
	}
	s.mark("agents")
	if err := s.startAgents(ctx); err != nil {
		return s, err
	}
	for _, p := range s.Apps {
		if err := waitFor(ctx, p, 60*time.Second, p.Name+"'s health path", func() error {
			return httpOK("http://" + p.Addr + ws.Spec.App.HealthCheckPath)
		}); err != nil {
			return s, err
		}
	}
	if err := waitFor(ctx, s.Worker, 60*time.Second, "the Celery worker", func() error {
		if strings.Contains(s.Worker.Log(), " ready.") {
			return nil
		}
		return errors.New("no \"ready.\" in its log yet")
	}); err != nil {
		return s, err
	}
	if err := waitFor(ctx, nil, 30*time.Second, "the whole path HAProxy -> Varnish -> HAProxy -> app", func() error {
		return httpOK("http://" + s.Frontend + ws.Spec.App.HealthCheckPath)
	}); err != nil {
		return s, err
	}
	s.mark("ready")
	return s, nil
}

// mark records how long the start took up to a step.
func (s *Stack) mark(step string) {
	line := fmt.Sprintf("%6.1fs %s", time.Since(s.started).Seconds(), step)
	s.Timeline = append(s.Timeline, line)
	s.logf("stack: %s", line)
}

// build builds the operator's plan with static discovery pointing at the loopback
// processes, and writes the configs into Dir (the cache Redis and the broker each get a data
// dir of their own).
func (s *Stack) build(appAddrs []string, creds resources.Credentials) error {
	s.static = &render.StaticDiscovery{
		AppServers:   appAddrs,
		CacheServers: []string{s.Varnish},
		AppListener:  s.AppListener,
		Frontend:     s.Frontend,
		Stats:        s.Stats,
		Varnish:      s.Varnish,
		Database:     loopback(s.pgPort),
		Pooler:       s.PoolerAddr,
	}
	s.VarnishSecret = filepath.Join(s.Dir, "varnish-secret")
	s.HAProxyMaster = filepath.Join(s.Dir, "haproxy-master.sock")
	s.renderOptions = render.Options{
		VCLPath:        filepath.Join(s.Dir, render.FileVCL),
		VarnishAdmin:   s.VarnishAdmin,
		VarnishSecret:  s.VarnishSecret,
		RedisDir:       filepath.Join(s.Dir, "redis"),
		BrokerDir:      filepath.Join(s.Dir, "broker"),
		PoolerAuthFile: filepath.Join(s.Dir, poolerDir, render.FilePoolerAuth),
	}
	plan, err := stack.Build(s.WS, stack.Options{Static: s.static, Render: s.renderOptions, Credentials: creds})
	if err != nil {
		return fmt.Errorf("building the plan: %w", err)
	}
	s.Plan, s.Tuning = plan, plan.Tuning
	if err := s.writeConfigs(); err != nil {
		return err
	}
	for _, d := range []string{"redis", "broker"} {
		if err := os.Mkdir(filepath.Join(s.Dir, d), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// startPostgres prepares the data directory as the database pod's init container does (the
// plan's prepare.sh: initdb, then init.sql with the passwords from the environment) and runs
// postgres with the rendered postgresql.conf and pg_hba.conf, listening on loopback.
func (s *Stack) startPostgres(ctx context.Context, creds resources.Credentials) error {
	s.pgDir = filepath.Join(s.Dir, "pg")
	if err := os.Mkdir(s.pgDir, 0o700); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.pgCred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(s.pgDir, uid, gid); err != nil {
			return err
		}
	}
	return s.runPostgres(ctx, creds)
}

// runPostgres writes the plan's database files, runs prepare.sh with creds, then starts the
// server.
func (s *Stack) runPostgres(ctx context.Context, creds resources.Credentials) error {
	cm, err := planned[*corev1.ConfigMap](s.Plan, resources.DatabaseConfigName(s.WS))
	if err != nil {
		return err
	}
	for f, content := range cm.Data {
		if err := os.WriteFile(filepath.Join(s.pgDir, f), []byte(content), 0o644); err != nil {
			return err
		}
	}
	data := filepath.Join(s.pgDir, "data")
	// PATH as in the database image: the server's programs first.
	prepare := s.asPostgres(exec.Command("/bin/sh", filepath.Join(s.pgDir, resources.PrepareScriptKey)),
		"PATH="+PGBinDir+":/usr/bin:/bin", "PGDATA="+data, "WEBSTACK_CONFIG_DIR="+s.pgDir,
		"APP_PASSWORD="+creds.DatabaseApp, "POSTGRES_PASSWORD="+creds.DatabaseSuperuser)
	if out, errOut, err := runCommand(ctx, 3*time.Minute, prepare); err != nil {
		return fmt.Errorf("prepare.sh: %w\n%s%s", err, out, errOut)
	}
	p, err := startProcess(s.logDir, "postgres", syscall.SIGINT, s.pgCommand("postgres", "-D", data,
		"-c", "config_file="+filepath.Join(s.pgDir, render.FilePostgres),
		"-c", "hba_file="+filepath.Join(s.pgDir, render.FilePgHBA),
		"-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(s.pgPort), "-k", s.pgDir))
	if err != nil {
		return err
	}
	p.Addr = loopback(s.pgPort)
	s.procs = append(s.procs, p)
	s.Postgres = p
	return waitFor(ctx, p, 30*time.Second, "postgres", func() error {
		_, err := s.psql(ctx, "postgres", "SELECT 1")
		return err
	})
}

// RestartPostgres stops PostgreSQL and starts it as a new database pod starts after the
// operator made new passwords: the plan rebuilt with creds, prepare.sh, the server; then
// the poolers restart with the new auth file, as their pods roll on the new password.
func (s *Stack) RestartPostgres(ctx context.Context, creds resources.Credentials) error {
	s.Postgres.Stop(30 * time.Second)
	s.procs = slices.DeleteFunc(s.procs, func(p *Process) bool { return p == s.Postgres })
	plan, err := stack.Build(s.WS, stack.Options{Static: s.static, Render: s.renderOptions, Credentials: creds})
	if err != nil {
		return err
	}
	s.Plan = plan
	if err := s.runPostgres(ctx, creds); err != nil {
		return err
	}
	return s.restartPoolers(ctx, creds)
}

// AppLogin connects to the app's database over TCP as the app role with password, as a
// new app process does, and returns the role it logged in as.
func (s *Stack) AppLogin(ctx context.Context, password string) (string, error) {
	cmd := s.pgCommand("psql", "-X", "-w", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", strconv.Itoa(s.pgPort),
		"-U", render.DefaultAppRole, "-d", render.DefaultAppDatabase, "-c", "SELECT current_user")
	cmd.Env = append(cmd.Env, "PGPASSWORD="+password)
	out, errOut, err := runCommand(ctx, time.Minute, cmd)
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(errOut))
	}
	return strings.TrimSpace(out), nil
}

// pgCommand runs a PostgreSQL program as the cluster's user.
func (s *Stack) pgCommand(name string, args ...string) *exec.Cmd {
	return s.asPostgres(exec.Command(filepath.Join(PGBinDir, name), args...), "PATH=/usr/bin:/bin")
}

// asPostgres runs cmd as the cluster's user in its directory, with env.
func (s *Stack) asPostgres(cmd *exec.Cmd, env ...string) *exec.Cmd {
	cmd.Dir = s.pgDir
	cmd.Env = append([]string{"LC_ALL=C", "PGCONNECT_TIMEOUT=5"}, env...)
	if s.pgCred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.pgCred}
	}
	return cmd
}

// SQL runs SQL as the superuser on the app's database and returns psql's unaligned,
// tuples-only output.
func (s *Stack) SQL(ctx context.Context, sql string) (string, error) {
	return s.psql(ctx, render.DefaultAppDatabase, sql)
}

func (s *Stack) psql(ctx context.Context, db, sql string) (string, error) {
	out, _, err := runCommand(ctx, time.Minute, s.pgCommand("psql", "-X", "-w", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", s.pgDir, "-p", strconv.Itoa(s.pgPort), "-U", render.PostgresSuperuser, "-d", db, "-c", sql))
	return strings.TrimSpace(out), err
}

// startRedis runs redis-server with a rendered config, the password on the command line as
// the pod passes it, on loopback.
func (s *Stack) startRedis(ctx context.Context, name, file string, port int, pw string) (*Redis, error) {
	p, err := startProcess(s.logDir, name, syscall.SIGTERM, exec.Command(RedisSrv, filepath.Join(s.Dir, file),
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--requirepass", pw))
	if err != nil {
		return nil, err
	}
	p.Addr = loopback(port)
	s.procs = append(s.procs, p)
	r := &Redis{Client: redis.NewClient(&redis.Options{Addr: p.Addr, Password: pw}), Process: p}
	return r, waitFor(ctx, p, 20*time.Second, name, func() error {
		return r.Ping(ctx).Err()
	})
}

// command maps the sample's program names to Debian's: Debian has python3 (no python) and
// no celery script.
func command(argv []string) []string {
	if len(argv) == 0 {
		return argv
	}
	switch argv[0] {
	case "python", "python3":
		return append([]string{Python}, argv[1:]...)
	case "gunicorn":
		return append([]string{Gunicorn}, argv[1:]...)
	case "celery":
		return append([]string{Python, "-m", "celery"}, argv[1:]...)
	}
	return argv
}

// run runs one of the app's commands (with the worker environment) to completion.
func (s *Stack) run(ctx context.Context, timeout time.Duration, argv []string) (string, error) {
	argv = command(argv)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.appDir
	cmd.Env = s.workEnv
	out, _, err := runCommand(ctx, timeout, cmd)
	return out, err
}

// Manage runs manage.py with args, as a migration Job or a kubectl exec would, and returns
// AppEnv is the value of the app's environment variable name, as the operator's plan sets
// it for the app container (with the stack's loopback overrides), "" when unset.
func (s *Stack) AppEnv(name string) string {
	for _, kv := range s.appEnv {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

// its standard output.
func (s *Stack) Manage(ctx context.Context, args ...string) (string, error) {
	return s.run(ctx, 5*time.Minute, append([]string{"python", "manage.py"}, args...))
}

// startApp runs app.command and app.args with the app's environment (GUNICORN_CMD_ARGS from
// the operator) and --bind to its loopback address, which overrides the bind address of
// GUNICORN_CMD_ARGS.
func (s *Stack) startApp(n int, addr string) (*Process, error) {
	a := s.WS.Spec.App
	argv := command(concat(a.Command, a.Args, []string{"--bind", addr}))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.appDir
	name := fmt.Sprintf("app-%d", n)
	cmd.Env = append(append([]string(nil), s.appEnv...), "SHOP_INSTANCE="+name)
	p, err := startProcess(s.logDir, name, syscall.SIGTERM, cmd)
	if err != nil {
		return nil, err
	}
	p.Addr = addr
	s.procs = append(s.procs, p)
	return p, nil
}

// startWorker runs tasks.command with the arguments of the operator's worker Deployment
// (--concurrency from tuning, --queues).
func (s *Stack) startWorker() (*Process, error) {
	d, err := planned[*appsv1.Deployment](s.Plan, resources.TasksName(s.WS))
	if err != nil {
		return nil, err
	}
	c := d.Spec.Template.Spec.Containers[0]
	argv := command(concat(c.Command, c.Args))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.appDir
	cmd.Env = s.workEnv
	p, err := startProcess(s.logDir, "celery-worker", syscall.SIGTERM, cmd)
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, p)
	return p, nil
}

// startVarnish writes the admin CLI's secret as the pod's init container does (agent
// secret) and runs varnishd with the rendered arguments and VCL.
func (s *Stack) startVarnish(ctx context.Context) error {
	if _, _, err := runCommand(ctx, time.Minute, exec.Command(s.agentBin, "agent", "secret", s.VarnishSecret)); err != nil {
		return err
	}
	args := append(slices.Clone(s.Plan.Configs.VarnishArgs), "-n", filepath.Join(s.Dir, "varnish"))
	p, err := startProcess(s.logDir, "varnishd", syscall.SIGTERM, exec.Command(Varnishd, args...))
	if err != nil {
		return err
	}
	p.Addr = s.Varnish
	s.procs = append(s.procs, p)
	s.Varnishd = p
	return waitFor(ctx, p, 60*time.Second, "varnishd", func() error {
		return httpOK("http://" + s.Varnish + render.VarnishHealthPath)
	})
}

// startHAProxy runs haproxy as its pod does: master-worker in the foreground with the
// master CLI socket for the agent, and the rendered haproxy.cfg.
func (s *Stack) startHAProxy(ctx context.Context) error {
	p, err := startProcess(s.logDir, "haproxy", syscall.SIGTERM, exec.Command(HAProxy, "-W", "-db", "-S", s.HAProxyMaster,
		"-f", filepath.Join(s.Dir, render.FileHAProxy)))
	if err != nil {
		return err
	}
	p.Addr = s.Frontend
	s.procs = append(s.procs, p)
	s.HAProxy = p
	return waitFor(ctx, p, 20*time.Second, "haproxy", func() error {
		return httpOK("http://" + s.Stats + render.HAProxyHealthPath)
	})
}

// Stop stops every process, last started first, and removes the temp dir unless KeepDir.
func (s *Stack) Stop() {
	for _, r := range []*Redis{s.Cache, s.Broker} {
		if r != nil {
			r.Close()
		}
	}
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].Stop(10 * time.Second)
	}
	s.procs = nil
	if s.Dir != "" && !s.keepDir {
		os.RemoveAll(s.Dir)
	}
}

// Logs are the last lines of every process' log, for a failed test.
func (s *Stack) Logs(n int) string {
	var b strings.Builder
	for _, p := range s.procs {
		fmt.Fprintf(&b, "==> %s (%s)\n%s\n", p.Name, p.log, p.Tail(n))
	}
	return b.String()
}

// password is 32 random bytes, URL-safe base64, as the operator generates them.
func password() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// envOf is name=value of each variable with a literal value (valueFrom has no meaning here).
func envOf(vars []corev1.EnvVar) []string {
	var env []string
	for _, v := range vars {
		if v.ValueFrom == nil {
			env = append(env, v.Name+"="+v.Value)
		}
	}
	return env
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// planned is the object of the plan named name, of type T.
func planned[T resources.Object](p *stack.Plan, name string) (T, error) {
	for _, o := range p.Objects {
		if t, ok := o.(T); ok && o.GetName() == name {
			return t, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("the plan has no %T %s", zero, name)
}
