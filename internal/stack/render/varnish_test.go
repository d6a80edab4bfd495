package render

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// TestVarnishVCLRules checks how the cache rules of the many-rules spec become VCL: in
// order, in both subroutines, with prefixes quoted as regular expressions.
func TestVarnishVCLRules(t *testing.T) {
	vcl := renderSpec(t, "many-rules", "dns", Options{})[FileVCL]
	recv := between(t, vcl, "sub vcl_recv {", "\n}\n")
	resp := between(t, vcl, "sub vcl_backend_response {", "\n}\n")

	wantInOrder(t, "vcl_recv", recv,
		`if (req.url ~ "^/static/") {`, `unset req.http.Cookie;`,
		`} elsif (req.url ~ "^/api/v[0-9]+/") {`, `return (pass);`,
		`} elsif (req.url ~ "\.(css|js|png|woff2?)(\?.*)?$") {`, `unset req.http.Cookie;`,
		`} elsif (req.url ~ "(?i)^/media/.*\.jpe?g$") {`,
		`} elsif (req.url ~ "^/a\+b\(c\)/\$x\.y") {`,
		`} elsif (req.url ~ "^/admin/") {`, `return (pass);`,
		`} elsif (req.url ~ "^/news/[^/]+/$") {`,
		`} elsif (req.url ~ "^/cart") {`, `return (pass);`, `unset req.http.Cookie;`,
		`} elsif (req.url ~ "^/") {`,
		`if (req.http.Authorization || req.http.Cookie) {`, `return (hash);`)
	wantInOrder(t, "vcl_backend_response", resp,
		`set beresp.grace = 600s;`,
		`if (bereq.url ~ "^/static/") {`, `unset beresp.http.Set-Cookie;`, `set beresp.ttl = 86400s;`,
		`} elsif (bereq.url ~ "^/api/v[0-9]+/") {`,
		`} elsif (bereq.url ~ "\.(css|js|png|woff2?)(\?.*)?$") {`, `unset beresp.http.Set-Cookie;`, `set beresp.ttl = 604800s;`,
		`} elsif (bereq.url ~ "(?i)^/media/.*\.jpe?g$") {`, `set beresp.ttl = 3600s;`,
		`} elsif (bereq.url ~ "^/a\+b\(c\)/\$x\.y") {`, `set beresp.ttl = 1.5s;`,
		`} elsif (bereq.url ~ "^/admin/") {`,
		`} elsif (bereq.url ~ "^/news/[^/]+/$") {`, `set beresp.ttl = 30s;`,
		`} elsif (bereq.url ~ "^/cart") {`, `unset beresp.http.Set-Cookie;`,
		`} elsif (bereq.url ~ "^/") {`, `set beresp.ttl = 0s;`,
		`beresp.http.Cache-Control ~ "(?i)(private|no-store|no-cache)"`)

	// A pass rule never sets a TTL; the rule after it does not inherit one.
	admin := between(t, resp, `(bereq.url ~ "^/admin/") {`, "}")
	if strings.Contains(admin, "beresp.ttl") {
		t.Errorf("the pass rule sets a TTL:\n%s", admin)
	}

	defaults := renderSpec(t, "defaults", "dns", Options{})[FileVCL]
	if strings.Contains(defaults, "Cache rules") || strings.Contains(defaults, "bereq.url ~") {
		t.Error("the default spec has no rules, yet default.vcl matches URLs")
	}
	for _, want := range []string{`set beresp.grace = 3600s;`, `set resp.http.X-Cache = "HIT";`, `set resp.http.X-Cache = "MISS";`} {
		if !strings.Contains(defaults, want) {
			t.Errorf("default.vcl has no %q", want)
		}
	}
}

// TestVarnishVCLBackend checks the backend in both discovery modes.
func TestVarnishVCLBackend(t *testing.T) {
	tests := map[string]struct {
		spec, mode string
		want       []string
	}{
		"dns": {
			spec: "defaults", mode: "dns",
			want: []string{
				`.host = "shop-loadbalancer-app.web.svc.cluster.local";`, `.port = "8081";`,
				`"GET /healthz HTTP/1.1"`, `"Host: shop-app-headless.web.svc.cluster.local"`,
				`.connect_timeout = 5s;`, `.first_byte_timeout = 40s;`, `.between_bytes_timeout = 30s;`,
				"Varnish resolves this hostname only when the VCL is loaded",
			},
		},
		"static with the spec's timeouts and health path": {
			spec: "algorithm-uri", mode: "static",
			want: []string{
				`.host = "127.0.0.1";`, `.port = "8081";`, `"GET /-/ready HTTP/1.1"`, `"Host: localhost"`,
				`.connect_timeout = 1.5s;`, `.first_byte_timeout = 170s;`, `.between_bytes_timeout = 150s;`,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			vcl := renderSpec(t, tc.spec, tc.mode, Options{})[FileVCL]
			for _, w := range tc.want {
				if !strings.Contains(vcl, w) {
					t.Errorf("default.vcl has no %q", w)
				}
			}
		})
	}
}

// TestVarnishArgs checks varnishd's arguments against tuning and the spec.
func TestVarnishArgs(t *testing.T) {
	for _, name := range specNames() {
		ws := loadSpec(t, name)
		if !ws.Spec.Cache.IsEnabled() {
			continue
		}
		t.Run(name, func(t *testing.T) {
			res := tuning.For(ws)
			for mode, listen := range map[string]string{"dns": ":8080", "static": "127.0.0.1:6081"} {
				args, err := VarnishArgs(ws, res, discoveryFor(mode), Options{})
				if err != nil {
					t.Fatal(err)
				}
				want := []string{
					"-F", "-a", listen, "-f", "/etc/varnish/default.vcl",
					"-s", fmt.Sprintf("malloc,%dM", res.Cache.StorageMiB),
					"-s", fmt.Sprintf("Transient=malloc,%dM", res.Cache.TransientMiB),
					"-p", fmt.Sprintf("default_ttl=%g", ws.Spec.Cache.DefaultTTL.Seconds()),
					"-p", fmt.Sprintf("default_grace=%g", ws.Spec.Cache.Grace.Seconds()),
				}
				if !slices.Equal(args, want) {
					t.Errorf("%s: args %q, want %q", mode, args, want)
				}
			}
		})
	}
	ws := loadSpec(t, "defaults")
	args, err := VarnishArgs(ws, tuning.For(ws), dnsDiscovery(), Options{VarnishAdmin: VarnishAdminAddress})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(args[:7], " "), "-F -a :8080 -T 127.0.0.1:6082 -S "+VarnishSecretPath; got != want {
		t.Errorf("with the admin CLI: args %q, want them to start with %q", args, want)
	}
	ws = loadSpec(t, "many-rules")
	args, err = VarnishArgs(ws, tuning.For(ws), dnsDiscovery(), Options{VCLPath: "/cfg/default.vcl"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(args, " "); !strings.Contains(got, "-f /cfg/default.vcl") || !strings.Contains(got, "-p default_ttl=90 -p default_grace=600") {
		t.Errorf("many-rules: args %q, want -f /cfg/default.vcl and the spec's defaultTTL 90s and grace 10m", got)
	}
}

// TestVCLCompiles runs `varnishd -C` on every spec's default.vcl, in static mode and in DNS
// mode. Varnish resolves the backend host when it compiles, so in DNS mode (as root) it
// runs in a private mount namespace whose /etc/hosts maps the Service name to loopback.
//
// Specs whose VCL is identical to an earlier one's (most differ only in other components)
// share its result instead of compiling again.
func TestVCLCompiles(t *testing.T) {
	varnishd := daemon(t, "varnishd", "/usr/sbin/varnishd")
	dir := sharedTempDir(t)
	compiled := map[string]string{} // VCL -> the subtest that compiled it
	for _, name := range specNames() {
		ws := loadSpec(t, name)
		if !ws.Spec.Cache.IsEnabled() {
			continue
		}
		for _, mode := range []string{"dns", "static"} {
			t.Run(name+"-"+mode, func(t *testing.T) {
				d := discoveryFor(mode)
				fake := mode == "dns" && canFakeHosts()
				if mode == "dns" && !fake {
					if os.Getenv("CI") == "true" {
						t.Fatal("DNS-mode VCL needs root and unshare to map the Service name in a private /etc/hosts")
					}
					t.Log("not root: compiling the DNS-mode VCL with a backend name that resolves here")
					d.DNS.AppListenerHost = "localhost"
				}
				vcl, err := VarnishVCL(ws, d)
				if err != nil {
					t.Fatal(err)
				}
				if first, ok := compiled[vcl]; ok {
					t.Logf("same default.vcl as %s", first)
					return
				}
				compiled[vcl] = t.Name()
				path := writeFile(t, dir, name+"-"+mode+".vcl", vcl)
				cmd := exec.Command(varnishd, "-C", "-f", path, "-n", filepath.Join(dir, "n-"+name+"-"+mode))
				if fake {
					hosts := writeFile(t, dir, "hosts-"+name, "127.0.0.1 localhost\n::1 localhost\n127.0.0.1 "+d.DNS.AppListenerHost+"\n")
					cmd = exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c",
						`mount --bind "$0" /etc/hosts && exec "$@"`, hosts}, cmd.Args...)...)
				}
				out, err := run(t, 60*time.Second, cmd)
				if err != nil {
					t.Fatalf("varnishd -C: %v\n%s", err, tail(out, 40))
				}
			})
		}
	}
}

// canFakeHosts reports whether this process can bind-mount a file over /etc/hosts in a
// private mount namespace (root with unshare).
var canFakeHosts = sync.OnceValue(func() bool {
	if os.Geteuid() != 0 {
		return false
	}
	return exec.Command("unshare", "--mount", "--propagation", "private", "true").Run() == nil
})

// TestCacheBehaviour runs HAProxy and Varnish on loopback, in static mode, in front of two
// test app servers, with the cache-rules spec and serverMaxConnections of 2.
func TestCacheBehaviour(t *testing.T) {
	varnishd := daemon(t, "varnishd", "/usr/sbin/varnishd")
	daemon(t, "haproxy", "/usr/sbin/haproxy")
	apps := []*testApp{startTestApp(t, "/healthz"), startTestApp(t, "/healthz")}
	count := func(path string) int { return apps[0].count(path) + apps[1].count(path) }

	ws := loadSpec(t, "cache-rules")
	res := tuning.For(ws)
	const serverMaxConn = 2
	res.LoadBalancer.ServerMaxConnections = serverMaxConn
	frontend, listener, stats, varnish := loopback(freePort(t)), loopback(freePort(t)), loopback(freePort(t)), loopback(freePort(t))
	dir := sharedTempDir(t)
	configs, err := Render(ws, res, Discovery{Static: &StaticDiscovery{
		AppServers:   []string{apps[0].addr, apps[1].addr},
		CacheServers: []string{varnish},
		AppListener:  listener,
		Frontend:     frontend,
		Stats:        stats,
		Varnish:      varnish,
	}}, Options{VCLPath: filepath.Join(dir, FileVCL), RedisDir: dir,
		VarnishAdmin: loopback(freePort(t)), VarnishSecret: filepath.Join(dir, "secret")})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, FileVCL, configs.VCL)
	writeFile(t, dir, "secret", "test secret\n")
	args := append(slices.Clone(configs.VarnishArgs), "-n", filepath.Join(dir, "varnish"))
	v := start(t, "varnishd", syscall.SIGTERM, exec.Command(varnishd, args...))
	startHAProxy(t, configs.HAProxy, stats)

	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	t.Cleanup(client.CloseIdleConnections)
	waitFor(t, v, 30*time.Second, "the whole path clients -> HAProxy -> Varnish -> HAProxy -> app", func() error {
		return expectStatus(client, "GET", "http://"+frontend+"/ready", nil, 200)
	})

	// get sends a GET through the public frontend and returns X-Cache.
	get := func(t *testing.T, path string, header http.Header) *http.Response {
		t.Helper()
		resp, err := do(client, "GET", "http://"+frontend+path, header)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: status %d", path, resp.StatusCode)
		}
		return resp
	}
	xcache := func(t *testing.T, path string, header http.Header, want ...string) {
		t.Helper()
		for i, w := range want {
			if got := get(t, path, header).Header.Get("X-Cache"); got != w {
				t.Errorf("GET %s #%d: X-Cache %q, want %q", path, i+1, got, w)
			}
		}
	}
	cookie := http.Header{"Cookie": {"session=abc"}}

	t.Run("second GET of a cacheable URL is a HIT", func(t *testing.T) {
		xcache(t, "/page/1", nil, "MISS", "HIT", "HIT")
		if n := count("/page/1"); n != 1 {
			t.Errorf("the app got %d requests for /page/1, want 1", n)
		}
	})
	t.Run("a pass rule is never a HIT", func(t *testing.T) {
		xcache(t, "/api/items", nil, "MISS", "MISS", "MISS")
		if n := count("/api/items"); n != 3 {
			t.Errorf("the app got %d requests for /api/items, want 3", n)
		}
	})
	t.Run("an ignoreCookies path is cached despite cookies", func(t *testing.T) {
		for i, want := range []string{"MISS", "HIT"} {
			resp := get(t, "/static/app.css", cookie)
			if got := resp.Header.Get("X-Cache"); got != want {
				t.Errorf("GET #%d: X-Cache %q, want %q", i+1, got, want)
			}
			if sc := resp.Header.Get("Set-Cookie"); sc != "" {
				t.Errorf("GET #%d: Set-Cookie %q reached the client", i+1, sc)
			}
		}
		if n := count("/static/app.css"); n != 1 {
			t.Errorf("the app got %d requests, want 1", n)
		}
	})
	t.Run("requests with cookies elsewhere are not cached", func(t *testing.T) {
		xcache(t, "/page/2", cookie, "MISS", "MISS")
	})
	t.Run("responses with Set-Cookie or Cache-Control private are not cached", func(t *testing.T) {
		xcache(t, "/set-cookie/x", nil, "MISS", "MISS")
		xcache(t, "/private/x", nil, "MISS", "MISS")
		if n := count("/set-cookie/x") + count("/private/x"); n != 4 {
			t.Errorf("the app got %d requests, want 4", n)
		}
	})
	t.Run("PURGE is refused at the public frontend and works at Varnish from loopback", func(t *testing.T) {
		host := http.Header{"Host": {frontend}} // the object's hash includes the Host
		if err := expectStatus(client, "PURGE", "http://"+frontend+"/page/1", nil, 403); err != nil {
			t.Error(err)
		}
		if err := expectStatus(client, "purge", "http://"+frontend+"/page/1", nil, 403); err != nil {
			t.Error(err)
		}
		xcache(t, "/page/1", nil, "HIT")
		if err := expectStatus(client, "PURGE", "http://"+varnish+"/page/1", host, 200); err != nil {
			t.Error(err)
		}
		xcache(t, "/page/1", nil, "MISS", "HIT")
	})
	t.Run("BAN is refused at the public frontend and works at Varnish from loopback", func(t *testing.T) {
		xcache(t, "/page/3", nil, "MISS", "HIT")
		if err := expectStatus(client, "BAN", "http://"+frontend+"/", http.Header{"X-Ban-Url": {"^/page/"}}, 403); err != nil {
			t.Error(err)
		}
		if err := expectStatus(client, "BAN", "http://"+varnish+"/", nil, 400); err != nil {
			t.Error(err)
		}
		if err := expectStatus(client, "BAN", "http://"+varnish+"/", http.Header{"X-Ban-Url": {"^/page/"}}, 200); err != nil {
			t.Error(err)
		}
		xcache(t, "/page/3", nil, "MISS")
		xcache(t, "/static/app.css", nil, "HIT") // another URL stays
	})
	t.Run("HAProxy queues past serverMaxConnections per app server", func(t *testing.T) {
		const n = 24
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- expectStatus(client, "GET", fmt.Sprintf("http://%s/slow/%d", frontend, i), nil, 200)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		peaks := []int{apps[0].peak(), apps[1].peak()}
		if slices.Max(peaks) > serverMaxConn {
			t.Errorf("in-flight requests per app server peaked at %v, want at most %d", peaks, serverMaxConn)
		}
		// 24 slow requests against 2 x 2 slots: the limit was reached, so the rest queued.
		if slices.Max(peaks) < serverMaxConn {
			t.Errorf("in-flight requests per app server peaked at %v: the test never reached the limit of %d", peaks, serverMaxConn)
		}
	})
}

// between returns the part of s after start up to end.
func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatalf("no %q in:\n%s", start, s)
	}
	s = s[i+len(start):]
	if j := strings.Index(s, end); j >= 0 {
		return s[:j]
	}
	return s
}

// wantInOrder fails unless s contains each of want, in that order.
func wantInOrder(t *testing.T, what, s string, want ...string) {
	t.Helper()
	rest := s
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("%s: no %q after the previous expectations in:\n%s", what, w, s)
		}
		rest = rest[i+len(w):]
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// TestPathRegexCheck checks the PCRE2 subset check against the real varnishd: every regex
// it accepts compiles, and the classic mistakes it refuses are ones Varnish refuses too
// (so the check is what keeps them from reaching a running Varnish).
func TestPathRegexCheck(t *testing.T) {
	tests := map[string]struct {
		re string
		// want is part of the error, "" when accepted.
		want string
		// pcreRefuses marks a refused regex that varnishd -C refuses too.
		pcreRefuses bool
	}{
		"prefix":                  {re: `^/api/`},
		"alternation and class":   {re: `^/(en|de)/shop/[a-z0-9_-]+\.html$`},
		"case-insensitive":        {re: `(?i)^/blog/\d{4}/`},
		"flags group":             {re: `^/(?i:static|media)/`},
		"lookahead":               {re: `^/(?!admin/).*`},
		"lazy and possessive":     {re: `^/a.*?b++c?+$`},
		"bracket first in class":  {re: `[]a-]+`},
		"escaped backslash":       {re: `\\$`},
		"counted repeats":         {re: `^/x{2}y{1,}z{0,1000}$`},
		"literal close brace":     {re: `^/a}b`},
		"escaped punctuation":     {re: `\/\.\*\+\?\(\)\[\]\{\}\|\^\$\-`},
		"unbalanced (":            {re: `^/(api|v2/`, want: "1 unclosed (", pcreRefuses: true},
		"unbalanced )":            {re: `^/api)/`, want: "unmatched )", pcreRefuses: true},
		"trailing backslash":      {re: `^/api\`, want: "trailing backslash", pcreRefuses: true},
		"class not closed":        {re: `^/[a-z`, want: "class [ is not closed", pcreRefuses: true},
		"range out of order":      {re: `^/[z-a]/`, want: "out of order", pcreRefuses: true},
		"range from a class":      {re: `[\d-z]`, want: "range in a class", pcreRefuses: true},
		"nothing to repeat":       {re: `*.css$`, want: "follows nothing", pcreRefuses: true},
		"repeat after (":          {re: `(+a)`, want: "follows nothing", pcreRefuses: true},
		"double quantifier":       {re: `a**`, want: "follows nothing", pcreRefuses: true},
		"counts out of order":     {re: `^/a{3,2}`, want: "out of order", pcreRefuses: true},
		"unknown POSIX class":     {re: `[[:foo:]]`, want: "POSIX classes", pcreRefuses: true},
		"variable lookbehind":     {re: `(?<=a+)b`, want: "lookbehind", pcreRefuses: true},
		"unknown verb":            {re: `(*FOO)a`, want: "verb", pcreRefuses: true},
		"missing back reference":  {re: `(a)\2`, want: `escape \2`, pcreRefuses: true},
		"unknown escape":          {re: `\ka`, want: `escape \k`, pcreRefuses: true},
		"nested too deep":         {re: strings.Repeat("(", 300) + strings.Repeat(")", 300), want: "nest deeper", pcreRefuses: true},
		"too large once compiled": {re: `(([a-z][0-9]){1000}){1000}`, want: "too large", pcreRefuses: true},
		"literal {":               {re: `^/a{b`, want: "literal { must be escaped"},
		"extended mode":           {re: `(?x)(#)`, want: "inline flags"},
	}
	varnishd := daemon(t, "varnishd", "/usr/sbin/varnishd")
	dir := sharedTempDir(t)
	// compile runs varnishd -C on a VCL with one pass rule per regex, unchecked: rendered
	// with placeholders that are then replaced, as Varnish would get them without the check.
	compile := func(t *testing.T, name string, regexes ...string) error {
		t.Helper()
		ws := loadSpec(t, "defaults")
		ws.Spec.Cache.Rules = nil
		for i := range regexes {
			ws.Spec.Cache.Rules = append(ws.Spec.Cache.Rules, v1alpha1.CacheRule{PathRegex: fmt.Sprintf("^/placeholder-%d-$", i), Pass: true})
		}
		vcl, err := VarnishVCL(ws, staticDiscovery())
		if err != nil {
			t.Fatal(err)
		}
		for i, re := range regexes {
			vcl = strings.ReplaceAll(vcl, fmt.Sprintf("^/placeholder-%d-$", i), re)
		}
		path := writeFile(t, dir, name+".vcl", vcl)
		out, err := run(t, 60*time.Second, exec.Command(varnishd, "-C", "-f", path, "-n", filepath.Join(dir, "n-"+name)))
		if err != nil {
			return fmt.Errorf("%v\n%s", err, tail(out, 10))
		}
		return nil
	}
	var accepted []string
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := checkPCRE(tc.re)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("%q refused: %v", tc.re, err)
			case tc.want == "":
				accepted = append(accepted, tc.re)
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("%q: error %v, want one containing %q", tc.re, err, tc.want)
			}
		})
	}
	t.Run("varnishd compiles every accepted regex", func(t *testing.T) {
		if err := compile(t, "accepted", accepted...); err != nil {
			t.Fatalf("varnishd -C: %v", err)
		}
	})
	t.Run("varnishd refuses the classic mistakes too", func(t *testing.T) {
		i := 0
		for name, tc := range tests {
			if !tc.pcreRefuses {
				continue
			}
			i++
			if err := compile(t, fmt.Sprintf("refused-%d", i), tc.re); err == nil {
				t.Errorf("%s: varnishd compiles %q: the check refuses more than it needs to", name, tc.re)
			}
		}
	})
}
