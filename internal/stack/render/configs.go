package render

import (
	"strings"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// Names of the rendered files: the keys of the ConfigMaps and the names `render --configs`
// writes.
const (
	FileHAProxy     = "haproxy.cfg"
	FileVCL         = "default.vcl"
	FileVarnishArgs = "varnishd.args"
	FileRedis       = "redis.conf"
	FileBroker      = "broker.conf"
	FilePostgres    = "postgresql.conf"
	FilePgHBA       = "pg_hba.conf"
	FileInitSQL     = "init.sql"
	FilePooler      = "pgbouncer.ini"
)

// FileNames are every file Configs.Files may hold, in a fixed order.
var FileNames = []string{FileHAProxy, FileVCL, FileVarnishArgs, FileRedis, FileBroker, FilePostgres, FilePgHBA, FileInitSQL, FilePooler}

// Configs are the rendered configs of one WebStack, a field per file. The fields of a
// disabled component are empty.
type Configs struct {
	// HAProxy is haproxy.cfg.
	HAProxy string
	// VCL is Varnish's default.vcl (with the cache).
	VCL string
	// VarnishArgs are varnishd's arguments (with the cache), one per element.
	VarnishArgs []string
	// Redis is the cache Redis' redis.conf (with the cache Redis).
	Redis string
	// Broker is the broker's broker.conf (with tasks).
	Broker string
	// Postgres, PgHBA and InitSQL are postgresql.conf, pg_hba.conf and init.sql (with the
	// database).
	Postgres, PgHBA, InitSQL string
	// Pooler is PgBouncer's pgbouncer.ini (with the database and pooling).
	Pooler string
}

// Files are the configs as files, keyed by file name (see FileNames): only those of the
// enabled components. varnishd.args holds one argument per line.
func (c Configs) Files() map[string]string {
	files := map[string]string{}
	add := func(name, content string) {
		if content != "" {
			files[name] = content
		}
	}
	add(FileHAProxy, c.HAProxy)
	add(FileVCL, c.VCL)
	if len(c.VarnishArgs) > 0 {
		files[FileVarnishArgs] = strings.Join(c.VarnishArgs, "\n") + "\n"
	}
	add(FileRedis, c.Redis)
	add(FileBroker, c.Broker)
	add(FilePostgres, c.Postgres)
	add(FilePgHBA, c.PgHBA)
	add(FileInitSQL, c.InitSQL)
	add(FilePooler, c.Pooler)
	return files
}

// Options are the deployment details that do not come from the spec. The zero value means
// the in-cluster defaults.
type Options struct {
	// VCLPath is where varnishd reads default.vcl (its -f argument). Default VarnishVCLPath.
	VCLPath string
	// VarnishAdmin is varnishd's admin CLI address (-T), for the agent that loads new VCL
	// through it (VarnishAdminAddress in the pods). Empty leaves -T and -S out: varnishd's
	// own CLI on a random local port, for nobody.
	VarnishAdmin string
	// VarnishSecret is the admin CLI's secret file (-S) with VarnishAdmin. Default
	// VarnishSecretPath.
	VarnishSecret string
	// RedisDir is the working directory of the cache Redis (RDB and AOF files), which must
	// exist when Redis starts. Default RedisDataDir.
	RedisDir string
	// BrokerDir is the broker's working directory (its append-only file). Default
	// RedisDataDir: in the cluster each runs in its own pod.
	BrokerDir string
	// AppRole is the app's PostgreSQL role. Default DefaultAppRole.
	AppRole string
	// AppDatabase is the app's PostgreSQL database. Default DefaultAppDatabase.
	AppDatabase string
	// PoolerAuthFile is PgBouncer's auth_file. Default PoolerAuthFilePath.
	PoolerAuthFile string
}

// withDefaults fills the empty fields of o.
func (o Options) withDefaults() Options {
	if o.VCLPath == "" {
		o.VCLPath = VarnishVCLPath
	}
	if o.VarnishSecret == "" {
		o.VarnishSecret = VarnishSecretPath
	}
	if o.RedisDir == "" {
		o.RedisDir = RedisDataDir
	}
	if o.BrokerDir == "" {
		o.BrokerDir = RedisDataDir
	}
	if o.AppRole == "" {
		o.AppRole = DefaultAppRole
	}
	if o.AppDatabase == "" {
		o.AppDatabase = DefaultAppDatabase
	}
	if o.PoolerAuthFile == "" {
		o.PoolerAuthFile = PoolerAuthFilePath
	}
	return o
}

// Render renders every config of ws's enabled components: HAProxy always; Varnish with the
// cache; redis.conf with the cache Redis; broker.conf with tasks; the PostgreSQL files with
// the database; pgbouncer.ini with the database and pooling. ws must have the CRD's defaults applied and t must be tuning.For(ws).
func Render(ws *v1alpha1.WebStack, t tuning.Result, d Discovery, o Options) (Configs, error) {
	var c Configs
	var err error
	if c.HAProxy, err = HAProxyConfig(ws, t, d); err != nil {
		return Configs{}, err
	}
	if ws.Spec.Cache.IsEnabled() {
		if c.VCL, err = VarnishVCL(ws, d); err != nil {
			return Configs{}, err
		}
		if c.VarnishArgs, err = VarnishArgs(ws, t, d, o); err != nil {
			return Configs{}, err
		}
	}
	if ws.Spec.Redis.IsEnabled() {
		if c.Redis, err = RedisConfig(ws, t, o); err != nil {
			return Configs{}, err
		}
	}
	if ws.Spec.Tasks != nil {
		if c.Broker, err = BrokerConfig(ws, t, o); err != nil {
			return Configs{}, err
		}
	}
	if ws.Spec.Database.IsEnabled() {
		if c.Postgres, err = PostgresConfig(ws, t); err != nil {
			return Configs{}, err
		}
		if c.PgHBA, err = PostgresHBA(ws, o); err != nil {
			return Configs{}, err
		}
		if c.InitSQL, err = PostgresInitSQL(ws, o); err != nil {
			return Configs{}, err
		}
	}
	if ws.Spec.Database.IsPooled() {
		if c.Pooler, err = PoolerConfig(ws, t, d, o); err != nil {
			return Configs{}, err
		}
	}
	return c, nil
}
