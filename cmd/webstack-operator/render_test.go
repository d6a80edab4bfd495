package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"testing"

	"sigs.k8s.io/yaml"
)

// renderCmd runs `webstack-operator render ARGS` as the binary would.
func renderCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(append([]string{"render"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

const samples = "../../config/samples"

// writeManifest writes a WebStack manifest with the given spec into a temp dir.
func writeManifest(t *testing.T, spec string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ws.yaml")
	doc := "apiVersion: webstack.dev/v1alpha1\nkind: WebStack\nmetadata: {name: shop, namespace: web}\nspec:\n" + spec
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readDir returns the files of dir by name.
func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	return files
}

func names(files map[string]string) []string {
	var out []string
	for n := range files {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func TestRenderWritesTheConfigsWithDNSNames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "configs")
	code, stdout, stderr := renderCmd("-f", filepath.Join(samples, "webstack_v1alpha1_full.yaml"), "--configs", dir)
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr)
	}
	files := readDir(t, dir)
	want := []string{"broker.conf", "default.vcl", "haproxy.cfg", "init.sql", "pg_hba.conf", "pgbouncer.ini", "postgresql.conf", "redis.conf", "varnishd.args"}
	if got := names(files); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	if !strings.Contains(stdout, "wrote "+filepath.Join(dir, "haproxy.cfg")) {
		t.Errorf("stdout does not list the written files:\n%s", stdout)
	}
	// The sample has no namespace: "default".
	for file, want := range map[string]string{
		"haproxy.cfg":   "server-template app 1-16 shop-full-app-headless.default.svc.cluster.local:8000 ",
		"default.vcl":   `.host = "shop-full-loadbalancer-app.default.svc.cluster.local";`,
		"varnishd.args": "-f\n/etc/varnish/default.vcl\n",
	} {
		if !strings.Contains(files[file], want) {
			t.Errorf("%s has no %q", file, want)
		}
	}
	if !strings.Contains(files["haproxy.cfg"], "server-template varnish 1-2 shop-full-cache-headless.default.svc.cluster.local:8080 ") {
		t.Error("haproxy.cfg does not find Varnish through shop-full-cache-headless.default.svc.cluster.local")
	}
}

func TestRenderClusterDomain(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := renderCmd("-f", writeManifest(t, "  app: {image: shop:1}\n"), "--configs", dir, "--cluster-domain", "k8s.example")
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr)
	}
	if cfg := readDir(t, dir)["haproxy.cfg"]; !strings.Contains(cfg, " shop-app-headless.web.svc.k8s.example:8000 ") {
		t.Errorf("haproxy.cfg does not use the cluster domain:\n%s", cfg)
	}
}

func TestRenderWritesNoFilesForDisabledComponents(t *testing.T) {
	dir := t.TempDir()
	// Left over from an earlier run with the cache and tasks on.
	for _, stale := range []string{"default.vcl", "varnishd.args", "broker.conf"} {
		if err := os.WriteFile(filepath.Join(dir, stale), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := writeManifest(t, "  app: {image: shop:1}\n  cache: {enabled: false}\n  redis: {enabled: false}\n")
	code, stdout, stderr := renderCmd("-f", manifest, "--configs", dir)
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr)
	}
	want := []string{"haproxy.cfg", "init.sql", "pg_hba.conf", "pgbouncer.ini", "postgresql.conf"}
	if got := names(readDir(t, dir)); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	if !strings.Contains(stdout, "removed "+filepath.Join(dir, "default.vcl")) {
		t.Errorf("stdout does not say the stale default.vcl was removed:\n%s", stdout)
	}
}

func TestRenderStaticDiscovery(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := renderCmd("-f", writeManifest(t, "  app: {image: shop:1}\n"), "--configs", dir,
		"--app-servers", "127.0.0.1:8001, 127.0.0.1:8002", "--cache-servers", "127.0.0.1:6081",
		"--app-listener", "127.0.0.1:8081", "--frontend", "127.0.0.1:8080", "--stats", "127.0.0.1:8404",
		"--varnish-listen", "127.0.0.1:6081", "--redis-dir", "/var/tmp/redis")
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr)
	}
	files := readDir(t, dir)
	abs, err := filepath.Abs(filepath.Join(dir, "default.vcl"))
	if err != nil {
		t.Fatal(err)
	}
	for file, wants := range map[string][]string{
		"haproxy.cfg":   {"server app1 127.0.0.1:8001\n", "server app2 127.0.0.1:8002\n", "server varnish1 127.0.0.1:6081\n", "bind 127.0.0.1:8081\n", "bind 127.0.0.1:8080\n", "bind 127.0.0.1:8404\n"},
		"default.vcl":   {`.host = "127.0.0.1";`, `.port = "8081";`},
		"varnishd.args": {"-a\n127.0.0.1:6081\n", "-f\n" + abs + "\n"},
		"redis.conf":    {`dir "/var/tmp/redis"`},
	} {
		for _, w := range wants {
			if !strings.Contains(files[file], w) {
				t.Errorf("%s has no %q", file, w)
			}
		}
	}
	if strings.Contains(files["haproxy.cfg"], "resolvers") {
		t.Error("static discovery, yet haproxy.cfg resolves names")
	}
}

func TestRenderHelp(t *testing.T) {
	code, _, stderr := renderCmd("-h")
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, want := range []string{"--configs", "-app-servers", "-cache-servers", "-app-listener", "NAME-app-headless.NAMESPACE.svc.CLUSTER_DOMAIN"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("help has no %q:\n%s", want, stderr)
		}
	}
}

func TestRenderRejectsBadInput(t *testing.T) {
	good := writeManifest(t, "  app: {image: shop:1}\n")
	tests := map[string]struct {
		args []string
		want string
	}{
		"static flags without --configs": {args: []string{"-f", good, "--app-servers", "127.0.0.1:8001"}, want: "add --configs DIR"},
		"no -f":                          {args: []string{"--configs", "x"}, want: "-f FILE is required"},
		"missing file":                   {args: []string{"-f", "/nonexistent/ws.yaml", "--configs", "x"}, want: "/nonexistent/ws.yaml"},
		"invalid manifest":               {args: []string{"-f", writeManifest(t, "  app: {image: shop:1, port: 0}\n"), "--configs", "x"}, want: "spec.app.port"},
		"static without app":             {args: []string{"-f", good, "--configs", "x", "--cache-servers", "127.0.0.1:6081"}, want: "--app-servers"},
		"static without cache":           {args: []string{"-f", good, "--configs", "x", "--app-servers", "127.0.0.1:8001"}, want: "--cache-servers and --app-listener"},
		"bad address": {
			args: []string{"-f", good, "--configs", "x", "--app-servers", "127.0.0.1", "--cache-servers", "127.0.0.1:6081", "--app-listener", "127.0.0.1:8081"},
			want: "127.0.0.1",
		},
		"unknown flag":   {args: []string{"-f", good, "--configs", "x", "--nope"}, want: "nope"},
		"extra argument": {args: []string{"-f", good, "--configs", "x", "extra"}, want: "unexpected arguments"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := renderCmd(tc.args...)
			if code == 0 {
				t.Fatal("exit code 0")
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr has no %q:\n%s", tc.want, stderr)
			}
		})
	}
}

// Without --configs, render prints every child object the controller would create, with the
// generated passwords replaced by a visible placeholder.
func TestRenderPrintsObjects(t *testing.T) {
	code, stdout, stderr := runCmd("render", "-f", "../../config/samples/webstack_v1alpha1_full.yaml")
	if code != 0 {
		t.Fatalf("exit code %d, stderr %q", code, stderr)
	}
	kinds := map[string]int{}
	for _, doc := range strings.Split(stdout, "\n---\n") {
		var obj struct {
			Kind       string            `json:"kind"`
			StringData map[string]string `json:"stringData"`
			Data       map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal([]byte(strings.TrimPrefix(doc, "---\n")), &obj); err != nil {
			t.Fatalf("document is not YAML: %v\n%s", err, doc)
		}
		kinds[obj.Kind]++
		if obj.Kind == "Secret" {
			if len(obj.Data) != 0 || len(obj.StringData) == 0 {
				t.Errorf("a Secret should show its values as stringData: %s", doc)
			}
		}
	}
	// The full sample: autoscaled app, tasks with beat, cache, RDB redis, database with the
	// pooler, migration.
	want := map[string]int{
		"Deployment": 6, "StatefulSet": 3, "Service": 9, "ConfigMap": 6, "Secret": 5,
		"HorizontalPodAutoscaler": 1, "PodDisruptionBudget": 5, "NetworkPolicy": 8, "Job": 1,
	}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s objects, want %d (all kinds: %v)", kinds[k], k, n, kinds)
		}
	}
	if !strings.Contains(stdout, "postgres://app:GENERATED_PASSWORD@shop-full-pooler.default.svc:5432/app") ||
		!strings.Contains(stdout, "postgres://app:GENERATED_PASSWORD@shop-full-database.default.svc:5432/app") {
		t.Errorf("DATABASE_URL does not show the placeholder password")
	}
}
