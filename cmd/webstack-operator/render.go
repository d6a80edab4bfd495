package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/manifest"
	"github.com/webstack-dev/webstack-operator/internal/stack"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

const renderUsage = `Usage: webstack-operator render -f FILE [--configs DIR [static discovery flags]]

Without --configs, prints every Kubernetes object the controller would create for the
WebStack in FILE, as multi-document YAML (Secrets as stringData, with every generated
password shown as GENERATED_PASSWORD; the migration Job too when app.migration is set).

With --configs, writes the config files of the WebStack in FILE (defaults applied, validated as the API
server would) into DIR: haproxy.cfg, default.vcl and varnishd.args (with the cache),
redis.conf (with the cache Redis), broker.conf (with tasks), postgresql.conf, pg_hba.conf and
init.sql (with the database). Files of disabled components are not written, and removed
from DIR if an earlier run left them there. No file holds a password: Redis takes it with
--requirepass, init.sql with psql -v app_password=...

Discovery: by default the configs find servers through in-cluster DNS, with these names
(NAME and NAMESPACE from the manifest, NAMESPACE "default" when unset):
  app pods       NAME-app-headless.NAMESPACE.svc.CLUSTER_DOMAIN        (headless Service)
  Varnish pods   NAME-cache-headless.NAMESPACE.svc.CLUSTER_DOMAIN      (headless Service)
  app listener   NAME-loadbalancer-app.NAMESPACE.svc.CLUSTER_DOMAIN    (Varnish's backend)
--app-servers switches to static discovery, to run the same configs outside Kubernetes:
  webstack-operator render -f shop.yaml --configs out \
    --app-servers 127.0.0.1:8001,127.0.0.1:8002 --cache-servers 127.0.0.1:6081 \
    --app-listener 127.0.0.1:8081 --frontend 127.0.0.1:8080 --stats 127.0.0.1:8404 \
    --varnish-listen 127.0.0.1:6081 --redis-dir /var/tmp/redis
  haproxy -f out/haproxy.cfg
  varnishd $(cat out/varnishd.args)        (with static discovery -f is out/default.vcl)

Flags:
`

// renderOptions are render's command-line flags.
type renderOptions struct {
	file, configs string
	clusterDomain string
	appServers    string
	cacheServers  string
	appListener   string
	frontend      string
	stats         string
	varnishListen string
	redisDir      string
}

// static reports whether a static-discovery flag was given.
func (o *renderOptions) static() bool {
	return o.appServers != "" || o.cacheServers != "" || o.appListener != "" ||
		o.frontend != "" || o.stats != "" || o.varnishListen != ""
}

func parseRenderFlags(args []string, stderr io.Writer) (renderOptions, error) {
	var o renderOptions
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), renderUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.file, "f", "", "the WebStack manifest, YAML or JSON (- reads standard input); required")
	fs.StringVar(&o.configs, "configs", "", "write the config files into this directory (created if missing)")
	fs.StringVar(&o.clusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain, for the DNS discovery names")
	fs.StringVar(&o.appServers, "app-servers", "", "static discovery: comma-separated host:port of the app servers")
	fs.StringVar(&o.cacheServers, "cache-servers", "", "static discovery: comma-separated host:port of the Varnish servers (with the cache)")
	fs.StringVar(&o.appListener, "app-listener", "", "static discovery: host:port of HAProxy's app listener, Varnish's backend (with the cache)")
	fs.StringVar(&o.frontend, "frontend", "", fmt.Sprintf("static discovery: bind address of HAProxy's public frontend (default :%d)", render.HAProxyFrontendPort))
	fs.StringVar(&o.stats, "stats", "", fmt.Sprintf("static discovery: bind address of HAProxy's stats, metrics and health endpoint (default :%d)", render.HAProxyStatsPort))
	fs.StringVar(&o.varnishListen, "varnish-listen", "", fmt.Sprintf("static discovery: varnishd's listen address (default :%d)", render.VarnishPort))
	fs.StringVar(&o.redisDir, "redis-dir", "", fmt.Sprintf("Redis' working directory, which must exist (default %s)", render.RedisDataDir))
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if o.file == "" {
		return o, errors.New("-f FILE is required: the WebStack manifest to render")
	}
	if o.configs == "" && (o.static() || o.redisDir != "") {
		return o, errors.New("static discovery and --redis-dir only apply to config files: add --configs DIR")
	}
	if o.static() && o.appServers == "" {
		return o, errors.New("static discovery needs --app-servers (comma-separated host:port)")
	}
	return o, nil
}

func runRender(args []string, stdout, stderr io.Writer) error {
	o, err := parseRenderFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	ws, err := manifest.Load(o.file)
	if err != nil {
		return err
	}
	if ws.Namespace == "" {
		ws.Namespace = "default"
	}
	if o.configs == "" {
		return printObjects(ws, o.clusterDomain, stdout)
	}
	opts := stack.Options{
		ClusterDomain: o.clusterDomain,
		Render:        render.Options{RedisDir: o.redisDir, BrokerDir: o.redisDir},
		Credentials:   placeholderCredentials,
	}
	if o.static() && ws.Spec.Cache.IsEnabled() && (o.cacheServers == "" || o.appListener == "") {
		return errors.New("static discovery with the cache enabled needs --cache-servers and --app-listener as well as --app-servers")
	}
	if o.static() {
		opts.Static = &render.StaticDiscovery{
			AppServers:   splitList(o.appServers),
			CacheServers: splitList(o.cacheServers),
			AppListener:  o.appListener,
			Frontend:     o.frontend,
			Stats:        o.stats,
			Varnish:      o.varnishListen,
		}
		// Outside Kubernetes varnishd reads the VCL where it was written.
		vcl, err := filepath.Abs(filepath.Join(o.configs, render.FileVCL))
		if err != nil {
			return err
		}
		opts.Render.VCLPath = vcl
	}
	plan, err := stack.Build(ws, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", o.file, err)
	}
	return writeConfigs(o.configs, plan.Configs.Files(), stdout)
}

// generatedPassword stands in for every password the operator generates with crypto/rand.
const generatedPassword = "GENERATED_PASSWORD"

// placeholderCredentials are generatedPassword for every password.
var placeholderCredentials = resources.Credentials{
	DatabaseSuperuser: generatedPassword, DatabaseApp: generatedPassword, Redis: generatedPassword, Broker: generatedPassword,
}

// printObjects writes every child the controller would create for ws as YAML documents:
// the desired children, the credential Secrets and, with app.migration, the migration Job.
func printObjects(ws *v1alpha1.WebStack, clusterDomain string, stdout io.Writer) error {
	plan, err := stack.Build(ws, stack.Options{ClusterDomain: clusterDomain, Credentials: placeholderCredentials})
	if err != nil {
		return err
	}
	objs := plan.Objects
	for _, c := range plan.Credentials {
		data := map[string][]byte{}
		for _, k := range c.Keys {
			data[k] = []byte(generatedPassword)
		}
		objs = append(objs, resources.CredentialSecret(ws, c.Name, data))
	}
	if plan.MigrationJob != nil {
		objs = append(objs, plan.MigrationJob)
	}
	for _, obj := range objs {
		if sec, ok := obj.(*corev1.Secret); ok {
			obj = readableSecret(sec)
		}
		out, err := yaml.Marshal(obj)
		if err != nil {
			return fmt.Errorf("printing %s: %w", obj.GetName(), err)
		}
		if _, err := fmt.Fprintf(stdout, "---\n%s", out); err != nil {
			return err
		}
	}
	return nil
}

// readableSecret shows a Secret's values as stringData, so the placeholders read plainly.
func readableSecret(s *corev1.Secret) *corev1.Secret {
	c := s.DeepCopy()
	if c.StringData == nil && len(c.Data) > 0 {
		c.StringData = map[string]string{}
	}
	for k, v := range c.Data {
		c.StringData[k] = string(v)
	}
	c.Data = nil
	return c
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// writeConfigs writes files into dir and removes the files of disabled components left by
// an earlier run, reporting each on stdout.
func writeConfigs(dir string, files map[string]string, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, name := range render.FileNames {
		path := filepath.Join(dir, name)
		content, ok := files[name]
		if !ok {
			err := os.Remove(path)
			if err == nil {
				fmt.Fprintf(stdout, "removed %s (its component is disabled)\n", path)
			} else if !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("removing %s: %w", path, err)
			}
			continue
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		fmt.Fprintf(stdout, "wrote %s\n", path)
	}
	return nil
}
