package render

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// PostgresPort is PostgreSQL's port.
const PostgresPort = 5432

// PostgresSuperuser is the superuser of the official image (POSTGRES_USER's default). It
// connects only through the local socket inside the pod.
const PostgresSuperuser = "postgres"

// Default names of the app's role and database (Options.AppRole, Options.AppDatabase).
const (
	DefaultAppRole     = "app"
	DefaultAppDatabase = "app"
)

// InitSQLPasswordVariable is the psql variable init.sql reads the app role's password from:
// `psql -v app_password="$APP_PASSWORD" -f init.sql`.
const InitSQLPasswordVariable = "app_password"

// postgresReserved are the parameters spec.database.parameters may not set, because the
// operator owns them or because they would read or run files or weaken the server's
// security; postgresReservedPrefixes and postgresReservedSuffixes name whole families. The
// CRD refuses the same keys (api/v1alpha1, DatabaseSpec.Parameters), so a WebStack the API
// server admits never fails here.
var (
	postgresReserved = []string{
		"include", "include_dir", "include_if_exists",
		"listen_addresses", "port", "data_directory", "hba_file", "ident_file", "config_file",
		"external_pid_file", "dynamic_library_path", "krb_server_keyfile", "password_encryption",
		"max_connections", "shared_buffers",
	}
	postgresReservedPrefixes = []string{"ssl", "archive_", "unix_socket_"}
	postgresReservedSuffixes = []string{"_command", "_preload_libraries"}
)

// postgresParameterReserved reports whether spec.database.parameters may not set name.
func postgresParameterReserved(name string) bool {
	return slices.Contains(postgresReserved, name) ||
		slices.ContainsFunc(postgresReservedPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) ||
		slices.ContainsFunc(postgresReservedSuffixes, func(s string) bool { return strings.HasSuffix(name, s) })
}

// postgresParameter is a PostgreSQL parameter name, custom ones with dotted parts: the
// CRD's pattern, at most 63 characters.
var postgresParameter = regexp.MustCompile(`^[a-z_][a-z0-9_]*([.][a-z_][a-z0-9_]*)*$`)

// sqlName is a role, database or extension name that needs no quoting (the CRD's pattern
// of database.extensions, at most 63 characters).
var sqlName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// parameter is one line of postgresql.conf.
type parameter struct{ Name, Value string }

// postgresData is postgresql.conf's template input.
type postgresData struct {
	header
	Port                 int
	MaxConnections       int32
	SharedBuffers        string
	EffectiveCacheSize   string
	WorkMem              string
	MaintenanceWorkMem   string
	Parameters           []parameter
	AppRole, AppDatabase string
	Superuser            string
	PasswordVariable     string
	Extensions           []string
}

// PostgresConfig renders postgresql.conf: connections and memory from tuning, SSD and WAL
// defaults, scram-sha-256 passwords, and spec.database.parameters last (they win).
func PostgresConfig(ws *v1alpha1.WebStack, t tuning.Result) (string, error) {
	if !ws.Spec.Database.IsEnabled() {
		return "", errors.New("postgres: the database is disabled")
	}
	db := t.Database
	if db == nil {
		return "", errors.New("postgres: tuning.Database is nil: pass tuning.For(ws)")
	}
	if db.MaxConnections < 1 || db.SharedBuffersMiB < 1 || db.EffectiveCacheSizeMiB < 1 || db.WorkMemMiB < 1 || db.MaintenanceWorkMemMiB < 1 {
		return "", errors.New("postgres: tuning.Database has a zero connection count or memory size: pass tuning.For(ws)")
	}
	data := postgresData{
		header:             headerOf(ws),
		Port:               PostgresPort,
		MaxConnections:     db.MaxConnections,
		SharedBuffers:      mb(db.SharedBuffersMiB),
		EffectiveCacheSize: mb(db.EffectiveCacheSizeMiB),
		WorkMem:            mb(db.WorkMemMiB),
		MaintenanceWorkMem: mb(db.MaintenanceWorkMemMiB),
	}
	names := make([]string, 0, len(ws.Spec.Database.Parameters))
	for name := range ws.Spec.Database.Parameters {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		field := "spec.database.parameters." + name
		if !postgresParameter.MatchString(name) || len(name) > 63 {
			return "", fmt.Errorf("postgres: %s is not a PostgreSQL parameter name", field)
		}
		if postgresParameterReserved(name) {
			return "", fmt.Errorf("postgres: %s cannot be set: the operator owns it or it reaches outside the database (see kubectl explain webstack.spec.database.parameters)", field)
		}
		value, err := postgresQuote(string(ws.Spec.Database.Parameters[name]))
		if err != nil {
			return "", fmt.Errorf("postgres: %s: %w", field, err)
		}
		data.Parameters = append(data.Parameters, parameter{Name: name, Value: value})
	}
	return execute(FilePostgres, data)
}

// PostgresHBA renders pg_hba.conf: the superuser through the pod's local socket only, and
// the app role to its database over the network with scram-sha-256 only.
func PostgresHBA(ws *v1alpha1.WebStack, o Options) (string, error) {
	if !ws.Spec.Database.IsEnabled() {
		return "", errors.New("postgres: the database is disabled")
	}
	data, err := postgresNames(ws, o)
	if err != nil {
		return "", err
	}
	return execute(FilePgHBA, data)
}

// PostgresInitSQL renders init.sql, run by the superuser with psql: it creates the app role
// (password from the psql variable app_password, never from the file) and the app
// database, and every extension of spec.database.extensions in it. It can run again: an
// existing role gets the password again, existing databases and extensions stay.
func PostgresInitSQL(ws *v1alpha1.WebStack, o Options) (string, error) {
	if !ws.Spec.Database.IsEnabled() {
		return "", errors.New("postgres: the database is disabled")
	}
	data, err := postgresNames(ws, o)
	if err != nil {
		return "", err
	}
	for i, ext := range ws.Spec.Database.Extensions {
		if !sqlName.MatchString(ext) {
			return "", fmt.Errorf("postgres: spec.database.extensions[%d] %q is not an extension name (lowercase letters, digits and '_')", i, ext)
		}
		if !slices.Contains(data.Extensions, ext) {
			data.Extensions = append(data.Extensions, ext)
		}
	}
	return execute(FileInitSQL, data)
}

// postgresNames is the template input with the role and database names.
func postgresNames(ws *v1alpha1.WebStack, o Options) (postgresData, error) {
	o = o.withDefaults()
	for _, n := range []struct{ field, name string }{{"AppRole", o.AppRole}, {"AppDatabase", o.AppDatabase}} {
		if !sqlName.MatchString(n.name) || n.name == PostgresSuperuser {
			return postgresData{}, fmt.Errorf("postgres: Options.%s %q must be lowercase letters, digits and '_', starting with a letter or '_', and not %q", n.field, n.name, PostgresSuperuser)
		}
	}
	return postgresData{
		header:           headerOf(ws),
		AppRole:          o.AppRole,
		AppDatabase:      o.AppDatabase,
		Superuser:        PostgresSuperuser,
		PasswordVariable: InitSQLPasswordVariable,
	}, nil
}

// mb is a size in MiB as postgresql.conf writes it ("MB" is 1024 kB there).
func mb(mib int64) string { return strconv.FormatInt(mib, 10) + "MB" }

// postgresQuote quotes a postgresql.conf value: single quotes, with quotes doubled and
// backslashes escaped (the file's lexer reads backslash escapes inside quotes).
func postgresQuote(v string) (string, error) {
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return "", errors.New("the value must not contain control characters")
		}
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(v) + "'", nil
}

// postgresRestart are PostgreSQL 15's parameters of pg_settings.context postmaster (from
// `postgres --describe-config`): a new value takes a restart. Every other parameter is
// reloaded by pg_reload_conf().
var postgresRestart = []string{
	"archive_mode", "autovacuum_freeze_max_age", "autovacuum_max_workers", "autovacuum_multixact_freeze_max_age",
	"bonjour", "bonjour_name", "cluster_name", "data_directory", "data_sync_retry", "dynamic_shared_memory_type",
	"event_source", "external_pid_file", "hba_file", "hot_standby", "huge_page_size", "huge_pages", "ident_file",
	"jit_provider", "listen_addresses", "logging_collector", "max_connections", "max_files_per_process",
	"max_locks_per_transaction", "max_logical_replication_workers", "max_pred_locks_per_transaction",
	"max_prepared_transactions", "max_replication_slots", "max_wal_senders", "max_worker_processes",
	"min_dynamic_shared_memory", "old_snapshot_threshold", "port", "recovery_target", "recovery_target_action",
	"recovery_target_inclusive", "recovery_target_lsn", "recovery_target_name", "recovery_target_time",
	"recovery_target_timeline", "recovery_target_xid", "shared_buffers", "shared_memory_type",
	"shared_preload_libraries", "superuser_reserved_connections", "track_activity_query_size",
	"track_commit_timestamp", "unix_socket_directories", "unix_socket_group", "unix_socket_permissions",
	"wal_buffers", "wal_decode_buffer_size", "wal_level", "wal_log_hints",
}

// PostgresNeedsRestart reports whether a new value of parameter name takes a restart: a
// postmaster parameter, or an extension's (a dotted name, whose context is unknown until its
// library loads: a restart is the safe side).
func PostgresNeedsRestart(name string) bool {
	name = strings.ToLower(name)
	return slices.Contains(postgresRestart, name) || strings.Contains(name, ".")
}

// PostgresRestartOnly is the part of postgresql.conf that takes a restart: its comment-free
// lines that set a parameter PostgresNeedsRestart. The hash on the pod template covers it;
// the agent reloads the rest.
func PostgresRestartOnly(conf string) string {
	var b strings.Builder
	for _, line := range strings.Split(conf, "\n") {
		name, _, ok := strings.Cut(strings.TrimSpace(line), "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.HasPrefix(name, "#") || !PostgresNeedsRestart(name) {
			continue
		}
		b.WriteString(strings.TrimSpace(line))
		b.WriteByte('\n')
	}
	return b.String()
}
