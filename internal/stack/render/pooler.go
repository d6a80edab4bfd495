package render

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// PoolerPort is PgBouncer's listen port in the pooler pods.
const PoolerPort = 6432

// Paths in the pooler container.
const (
	// PoolerConfigPath is where pgbouncer reads pgbouncer.ini (its only argument).
	PoolerConfigPath = "/etc/pgbouncer/config/" + FilePooler
	// PoolerAuthFilePath is the auth file (the auth Secret's key FilePoolerAuth).
	PoolerAuthFilePath = "/etc/pgbouncer/auth/" + FilePoolerAuth
)

// FilePoolerAuth is the name of PgBouncer's auth file (auth_file).
const FilePoolerAuth = "userlist.txt"

// poolerData is pgbouncer.ini's template input.
type poolerData struct {
	header
	Mode                      v1alpha1.PoolingMode
	PoolMode                  string
	AppDatabase               string
	DatabaseHost              string
	DatabasePort              int
	ListenAddr                string
	ListenPort                int
	AuthFile                  string
	PoolSize, ReservePoolSize int32
	MaxServer, MaxClientConn  int32
	QueryWaitTimeout          int32
}

// PoolerConfig renders pgbouncer.ini (with database.pooling mode Transaction or Session):
// one database, the app's, on the database Service (or Static.Database); the pool sizes of
// t.Pooler, scram-sha-256 with the auth file at o.PoolerAuthFile, and the wait for a server
// connection bounded by timeouts.server.
func PoolerConfig(ws *v1alpha1.WebStack, t tuning.Result, d Discovery, o Options) (string, error) {
	if !ws.Spec.Database.IsPooled() {
		return "", errors.New("pooler: the database is disabled or pooling.mode is None")
	}
	p := t.Pooler
	if p == nil || p.PoolSize < 1 || p.MaxClientConnections < 1 {
		return "", errors.New("pooler: tuning.Pooler is nil or empty: pass tuning.For(ws)")
	}
	o = o.withDefaults()
	names, err := postgresNames(ws, o)
	if err != nil {
		return "", err
	}
	data := poolerData{
		header:           headerOf(ws),
		Mode:             p.Mode,
		PoolMode:         strings.ToLower(string(p.Mode)),
		AppDatabase:      names.AppDatabase,
		AuthFile:         o.PoolerAuthFile,
		PoolSize:         p.PoolSize,
		ReservePoolSize:  p.ReservePoolSize,
		MaxServer:        p.PoolSize + p.ReservePoolSize,
		MaxClientConn:    p.MaxClientConnections,
		QueryWaitTimeout: max(1, t.App.ServerTimeoutSeconds),
	}
	switch {
	case d.DNS != nil:
		if !dnsName.MatchString(d.DNS.DatabaseHost) || len(d.DNS.DatabaseHost) > 253 {
			return "", fmt.Errorf("pooler: discovery DNS.DatabaseHost %q is not a DNS name", d.DNS.DatabaseHost)
		}
		data.DatabaseHost, data.DatabasePort = d.DNS.DatabaseHost, PostgresPort
		data.ListenAddr, data.ListenPort = "0.0.0.0", PoolerPort
	case d.Static != nil:
		db, err := parseHostPort("Static.Database", cmpOr(d.Static.Database, "127.0.0.1:"+strconv.Itoa(PostgresPort)))
		if err != nil {
			return "", fmt.Errorf("pooler: %w", err)
		}
		listen, err := parseBind("Static.Pooler", cmpOr(d.Static.Pooler, "127.0.0.1:"+strconv.Itoa(PoolerPort)))
		if err != nil {
			return "", fmt.Errorf("pooler: %w", err)
		}
		data.DatabaseHost, data.DatabasePort = db.Host, db.Port
		data.ListenAddr, data.ListenPort = cmpOr(listen.Host, "0.0.0.0"), listen.Port
	default:
		return "", errors.New("pooler: discovery: set DNS or Static")
	}
	return execute(FilePooler, data)
}

// PoolerAuthFile is PgBouncer's auth file: the app role and its password, each in double
// quotes with quotes doubled. It goes into a Secret, never a ConfigMap or a log.
func PoolerAuthFile(role, password string) string {
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	return q(role) + " " + q(password) + "\n"
}

// cmpOr is s, or def when s is empty.
func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
