package render

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/manifest"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// Every WebStack the API server admits renders configs the real daemons start with: the
// fuzz test feeds the string fields that reach haproxy.cfg and default.vcl through the CRD's
// defaults and validation (internal/manifest, the same schema and CEL rules) and the
// renderer, and whatever both accept must pass `haproxy -c` and `varnishd -C`. The seeds in
// testdata/fuzz/FuzzRenderStrings run with every `go test`; `go test -fuzz
// FuzzRenderStrings ./internal/stack/render/` looks for more.

// admitted builds a WebStack from the fuzzed strings as the API server would admit it, or
// returns nil if it would refuse it.
func admitted(healthCheckPath, pathPrefix, pathRegex string) *v1alpha1.WebStack {
	rules := []map[string]any{}
	if pathPrefix != "" {
		rules = append(rules, map[string]any{"pathPrefix": pathPrefix, "ttl": "1m"})
	}
	if pathRegex != "" {
		rules = append(rules, map[string]any{"pathRegex": pathRegex, "pass": true, "ignoreCookies": true})
	}
	app := map[string]any{"image": "shop:1"}
	if healthCheckPath != "" {
		app["healthCheckPath"] = healthCheckPath
	}
	doc, err := json.Marshal(map[string]any{
		"apiVersion": "webstack.dev/v1alpha1",
		"kind":       "WebStack",
		"metadata":   map[string]any{"name": "shop", "namespace": "web"},
		"spec":       map[string]any{"app": app, "cache": map[string]any{"rules": rules}},
	})
	if err != nil {
		return nil
	}
	ws, err := manifest.Decode(doc)
	if err != nil {
		return nil
	}
	return ws
}

// checkWithDaemons runs `haproxy -c` and `varnishd -C` on the configs of ws (static
// discovery on loopback: nothing needs to resolve) and returns what they refused.
func checkWithDaemons(t testing.TB, haproxy, varnishd, dir string, ws *v1alpha1.WebStack) error {
	t.Helper()
	d := staticDiscovery()
	cfg, err := HAProxyConfig(ws, tuning.For(ws), d)
	if err != nil {
		return fmt.Errorf("rendering haproxy.cfg: %w", err)
	}
	vcl, err := VarnishVCL(ws, d)
	if err != nil {
		return fmt.Errorf("rendering default.vcl: %w", err)
	}
	n := nextCheck.Add(1)
	cfgPath := writeFile(t, dir, fmt.Sprintf("check-%d.cfg", n), cfg)
	if out, err := run(t, 30*time.Second, exec.Command(haproxy, "-c", "-f", cfgPath)); err != nil || strings.Contains(out, "[ALERT]") {
		return fmt.Errorf("haproxy -c refused haproxy.cfg: %v\n%s\n%s", err, tail(out, 20), cfg)
	}
	vclPath := writeFile(t, dir, fmt.Sprintf("check-%d.vcl", n), vcl)
	if out, err := run(t, 60*time.Second, exec.Command(varnishd, "-C", "-f", vclPath, "-n", filepath.Join(dir, fmt.Sprintf("n-%d", n)))); err != nil {
		return fmt.Errorf("varnishd -C refused default.vcl: %v\n%s", err, tail(out, 20))
	}
	return nil
}

var nextCheck atomic.Int64

func FuzzRenderStrings(f *testing.F) {
	f.Add("/healthz", "/static/", `^/api/`)
	f.Add("/-/ready", "/media/", `^/(en|de)/shop/[a-z0-9_-]+\.html$`)
	f.Add("/health", "/a(b)c/", `(?i)^/blog/\d{4}/`)
	f.Add("/", "/$weird;path/", `[]a-]+|\\$`)
	haproxy := daemon(f, "haproxy", "/usr/sbin/haproxy")
	varnishd := daemon(f, "varnishd", "/usr/sbin/varnishd")
	dir := sharedTempDir(f)
	f.Fuzz(func(t *testing.T, healthCheckPath, pathPrefix, pathRegex string) {
		ws := admitted(healthCheckPath, pathPrefix, pathRegex)
		if ws == nil {
			return // the API server refuses it
		}
		if _, err := Render(ws, tuning.For(ws), staticDiscovery(), Options{}); err != nil {
			// The renderer may refuse what CEL cannot check (a PCRE2 regex), but only
			// with a message that names the field.
			if !strings.Contains(err.Error(), "spec.") {
				t.Fatalf("the renderer refused an admitted WebStack without naming the field: %v", err)
			}
			return
		}
		if err := checkWithDaemons(t, haproxy, varnishd, dir, ws); err != nil {
			t.Fatalf("admitted and rendered, but a daemon refuses it (healthCheckPath %q, pathPrefix %q, pathRegex %q): %v",
				healthCheckPath, pathPrefix, pathRegex, err)
		}
	})
}
