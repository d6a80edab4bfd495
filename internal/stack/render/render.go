package render

import (
	"bytes"
	"embed"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// Names of the rendered files, the keys of Files' result.
const (
	FileHAProxy     = "haproxy.cfg"
	FileVCL         = "default.vcl"
	FileVarnishArgs = "varnishd.args"
	FileRedis       = "redis.conf"
	FileBroker      = "broker.conf"
	FilePostgres    = "postgresql.conf"
	FilePgHBA       = "pg_hba.conf"
	FileInitSQL     = "init.sql"
)

// FileNames are every file Files may return, in a fixed order.
var FileNames = []string{FileHAProxy, FileVCL, FileVarnishArgs, FileRedis, FileBroker, FilePostgres, FilePgHBA, FileInitSQL}

// Options are the deployment details that do not come from the spec. The zero value means
// the in-cluster defaults.
type Options struct {
	// VCLPath is where varnishd reads default.vcl (its -f argument). Default VarnishVCLPath.
	VCLPath string
	// RedisDir is the working directory of the cache Redis and the broker (RDB and AOF
	// files), which must exist when Redis starts. Default RedisDataDir.
	RedisDir string
	// AppRole is the app's PostgreSQL role. Default DefaultAppRole.
	AppRole string
	// AppDatabase is the app's PostgreSQL database. Default DefaultAppDatabase.
	AppDatabase string
}

// withDefaults fills the empty fields of o.
func (o Options) withDefaults() Options {
	if o.VCLPath == "" {
		o.VCLPath = VarnishVCLPath
	}
	if o.RedisDir == "" {
		o.RedisDir = RedisDataDir
	}
	if o.AppRole == "" {
		o.AppRole = DefaultAppRole
	}
	if o.AppDatabase == "" {
		o.AppDatabase = DefaultAppDatabase
	}
	return o
}

// Files renders every config file of ws's enabled components, keyed by file name (see
// FileNames): HAProxy always; Varnish with the cache; redis.conf with the cache Redis;
// broker.conf with tasks; the PostgreSQL files with the database. ws must have the CRD's
// defaults applied and t must be tuning.For(ws).
func Files(ws *v1alpha1.WebStack, t tuning.Result, d Discovery, o Options) (map[string]string, error) {
	files := map[string]string{}
	add := func(name string, render func() (string, error)) error {
		s, err := render()
		if err != nil {
			return err
		}
		files[name] = s
		return nil
	}
	if err := add(FileHAProxy, func() (string, error) { return HAProxyConfig(ws, t, d) }); err != nil {
		return nil, err
	}
	if ws.Spec.Cache.IsEnabled() {
		if err := add(FileVCL, func() (string, error) { return VarnishVCL(ws, d) }); err != nil {
			return nil, err
		}
		args, err := VarnishArgs(ws, t, d, o)
		if err != nil {
			return nil, err
		}
		files[FileVarnishArgs] = strings.Join(args, "\n") + "\n"
	}
	if ws.Spec.Redis.IsEnabled() {
		if err := add(FileRedis, func() (string, error) { return RedisConfig(ws, t, o) }); err != nil {
			return nil, err
		}
	}
	if ws.Spec.Tasks != nil {
		if err := add(FileBroker, func() (string, error) { return BrokerConfig(ws, t, o) }); err != nil {
			return nil, err
		}
	}
	if ws.Spec.Database.IsEnabled() {
		if err := add(FilePostgres, func() (string, error) { return PostgresConfig(ws, t) }); err != nil {
			return nil, err
		}
		if err := add(FilePgHBA, func() (string, error) { return PostgresHBA(ws, o) }); err != nil {
			return nil, err
		}
		if err := add(FileInitSQL, func() (string, error) { return PostgresInitSQL(ws, o) }); err != nil {
			return nil, err
		}
	}
	return files, nil
}

//go:embed templates/*.tmpl
var templateFS embed.FS

// templates are the parsed templates, one per file, named after the file.
var templates = template.Must(template.New("").Option("missingkey=error").Funcs(template.FuncMap{
	"inc":  func(i int) int { return i + 1 },
	"join": strings.Join,
}).ParseFS(templateFS, "templates/*.tmpl"))

// execute renders the template of a file with data.
func execute(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name+".tmpl", data); err != nil {
		return "", fmt.Errorf("rendering %s: %w", name, err)
	}
	return b.String(), nil
}

// header is the identity line at the top of every file.
type header struct {
	Namespace, Name string
}

func headerOf(ws *v1alpha1.WebStack) header {
	ns := ws.Namespace
	if ns == "" {
		ns = "default"
	}
	return header{Namespace: ns, Name: ws.Name}
}

// duration is a spec duration that must be set (the CRD defaults it).
func duration(field string, d *metav1.Duration) (time.Duration, error) {
	if d == nil {
		return 0, fmt.Errorf("%s is not set: apply the CRD defaults first (manifest.Validate)", field)
	}
	if d.Duration < 0 {
		return 0, fmt.Errorf("%s is negative (%s)", field, d.Duration)
	}
	return d.Duration, nil
}

// seconds is d in seconds without a unit, e.g. "120" or "1.5", as varnishd parameters take it.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// vclDuration is d as a VCL duration literal, e.g. "120s".
func vclDuration(d time.Duration) string { return seconds(d) + "s" }

// haproxyTime is d in HAProxy's time format: whole seconds as "30s", else milliseconds
// rounded up ("1500ms"), at least 1ms.
func haproxyTime(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	ms := int64(math.Ceil(float64(d) / float64(time.Millisecond)))
	return strconv.FormatInt(max(1, ms), 10) + "ms"
}
