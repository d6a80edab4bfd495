package render

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// VarnishPort is Varnish's HTTP listener (unprivileged).
const VarnishPort = 8080

// VarnishVCLPath is where varnishd reads default.vcl by default (the official image's path).
const VarnishVCLPath = "/etc/varnish/default.vcl"

// VarnishAdminAddress is varnishd's admin CLI (-T), on loopback only: the agent beside it
// in the pod loads new VCL through it.
const VarnishAdminAddress = "127.0.0.1:6082"

// VarnishSecretPath is the -S secret file of the admin CLI, on an emptyDir that varnishd
// and the agent share; the pod's init container writes a random one.
const VarnishSecretPath = "/var/run/varnish-admin/secret"

// VarnishHealthPath answers 200 from Varnish itself, without the app: HAProxy's health check
// of the Varnish pods and their probes.
const VarnishHealthPath = "/.varnish/health"

// purgeNetworks may send PURGE and BAN to Varnish: loopback and the private networks
// (pod networks). The controller's network policies narrow this down to the app pods;
// HAProxy refuses PURGE and BAN from clients.
var purgeNetworks = []string{
	`"127.0.0.0"/8`,
	`"::1"`,
	`"10.0.0.0"/8`,
	`"172.16.0.0"/12`,
	`"192.168.0.0"/16`,
	`"fc00::"/7`,
}

// vclRule is one cache rule in VCL terms.
type vclRule struct {
	// Number is the rule's place in spec.cache.rules, from 1.
	Number int
	// Description is the rule as the spec states it, for a comment.
	Description string
	// Regex is the regular expression on the URL, as the contents of a VCL string.
	Regex         string
	Pass          bool
	IgnoreCookies bool
	TTL           string
}

// vclData is default.vcl's template input.
type vclData struct {
	header
	DNS                             bool
	BackendHost                     string
	BackendPort                     int
	Connect, FirstByte, BetweenByte string
	HealthPath, HealthHost          string
	VarnishHealthPath               string
	Grace                           string
	PurgeNetworks                   []string
	Rules                           []vclRule
}

// VarnishVCL renders default.vcl (VCL 4.1): the HAProxy app listener as the backend with a
// health probe, the cache rules in order (first match wins), grace, X-Cache, and PURGE and
// BAN from the private networks only.
func VarnishVCL(ws *v1alpha1.WebStack, d Discovery) (string, error) {
	spec := &ws.Spec
	if !spec.Cache.IsEnabled() {
		return "", errors.New("varnish: the cache is disabled")
	}
	if err := d.validate(true); err != nil {
		return "", err
	}
	if spec.App.HealthCheckPath == "" {
		return "", errors.New("varnish: spec.app.healthCheckPath is not set: apply the CRD defaults first (manifest.Validate)")
	}
	timeouts := &spec.LoadBalancer.Timeouts
	connect, err := positive("spec.loadBalancer.timeouts.connect", timeouts.Connect)
	if err != nil {
		return "", fmt.Errorf("varnish: %w", err)
	}
	server, err := positive("spec.loadBalancer.timeouts.server", timeouts.Server)
	if err != nil {
		return "", fmt.Errorf("varnish: %w", err)
	}
	queue, err := positive("spec.loadBalancer.timeouts.queue", timeouts.Queue)
	if err != nil {
		return "", fmt.Errorf("varnish: %w", err)
	}
	grace, err := duration("spec.cache.grace", spec.Cache.Grace)
	if err != nil {
		return "", fmt.Errorf("varnish: %w", err)
	}
	data := vclData{
		header:  headerOf(ws),
		Connect: vclDuration(connect),
		// A miss may wait in HAProxy's queue before the app starts answering.
		FirstByte:         vclDuration(queue + server),
		BetweenByte:       vclDuration(server),
		HealthPath:        spec.App.HealthCheckPath,
		VarnishHealthPath: VarnishHealthPath,
		Grace:             vclDuration(grace),
		PurgeNetworks:     purgeNetworks,
	}
	if d.DNS != nil {
		data.DNS = true
		data.BackendHost = d.DNS.AppListenerHost
		data.BackendPort = HAProxyAppListenerPort
		data.HealthHost = d.DNS.AppHost
	} else {
		e, _ := parseHostPort("", d.Static.AppListener) // validated
		data.BackendHost = e.Host
		data.BackendPort = e.Port
		data.HealthHost = staticHealthHost
	}
	for i, r := range spec.Cache.Rules {
		rule, err := vclRuleOf(i, r)
		if err != nil {
			return "", fmt.Errorf("varnish: %w", err)
		}
		data.Rules = append(data.Rules, rule)
	}
	return execute(FileVCL, data)
}

// vclUnsafe are characters that cannot appear in a VCL string or a comment line.
var vclUnsafe = regexp.MustCompile(`["\x00-\x1f\x7f]`)

// vclRuleOf translates spec.cache.rules[i].
func vclRuleOf(i int, r v1alpha1.CacheRule) (vclRule, error) {
	field := fmt.Sprintf("spec.cache.rules[%d]", i)
	rule := vclRule{Number: i + 1, Pass: r.Pass, IgnoreCookies: r.IgnoreCookies}
	var desc []string
	switch {
	case r.PathPrefix != "" && r.PathRegex != "":
		return rule, fmt.Errorf("%s: set exactly one of pathPrefix and pathRegex", field)
	case r.PathPrefix != "":
		if vclUnsafe.MatchString(r.PathPrefix) {
			return rule, fmt.Errorf("%s.pathPrefix must not contain double quotes or control characters", field)
		}
		rule.Regex = "^" + regexp.QuoteMeta(r.PathPrefix)
		desc = append(desc, "pathPrefix "+r.PathPrefix)
	case r.PathRegex != "":
		if vclUnsafe.MatchString(r.PathRegex) {
			return rule, fmt.Errorf("%s.pathRegex must not contain double quotes or control characters", field)
		}
		rule.Regex = r.PathRegex
		desc = append(desc, "pathRegex "+r.PathRegex)
	default:
		return rule, fmt.Errorf("%s: set pathPrefix or pathRegex", field)
	}
	switch {
	case r.Pass && r.TTL != nil:
		return rule, fmt.Errorf("%s: set exactly one of ttl and pass: true", field)
	case r.Pass:
		desc = append(desc, "pass")
	case r.TTL != nil:
		ttl, err := duration(field+".ttl", r.TTL)
		if err != nil {
			return rule, err
		}
		rule.TTL = vclDuration(ttl)
		desc = append(desc, "ttl "+r.TTL.Duration.String())
	default:
		return rule, fmt.Errorf("%s: set ttl or pass: true", field)
	}
	if r.IgnoreCookies {
		desc = append(desc, "ignoreCookies")
	}
	rule.Description = strings.Join(desc, ", ")
	return rule, nil
}

// VarnishArgs are varnishd's arguments, one per element: foreground, the listen address,
// the admin CLI on loopback with its secret file, the VCL, malloc storage and bounded Transient storage from tuning, and default_ttl and
// default_grace from the spec.
func VarnishArgs(ws *v1alpha1.WebStack, t tuning.Result, d Discovery, o Options) ([]string, error) {
	spec := &ws.Spec
	if !spec.Cache.IsEnabled() {
		return nil, errors.New("varnish: the cache is disabled")
	}
	if t.Cache == nil || t.Cache.StorageMiB < 1 || t.Cache.TransientMiB < 1 {
		return nil, errors.New("varnish: tuning.Cache has no storage sizes: pass tuning.For(ws)")
	}
	if err := d.validate(true); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	ttl, err := duration("spec.cache.defaultTTL", spec.Cache.DefaultTTL)
	if err != nil {
		return nil, fmt.Errorf("varnish: %w", err)
	}
	grace, err := duration("spec.cache.grace", spec.Cache.Grace)
	if err != nil {
		return nil, fmt.Errorf("varnish: %w", err)
	}
	listen := endpoint{Port: VarnishPort}
	if d.Static != nil {
		listen = bindOr(d.Static.Varnish, VarnishPort)
	}
	return []string{
		"-F",
		"-a", listen.bind(),
		"-T", o.VarnishAdmin,
		"-S", o.VarnishSecret,
		"-f", o.VCLPath,
		"-s", "malloc," + strconv.FormatInt(t.Cache.StorageMiB, 10) + "M",
		"-s", "Transient=malloc," + strconv.FormatInt(t.Cache.TransientMiB, 10) + "M",
		"-p", "default_ttl=" + seconds(ttl),
		"-p", "default_grace=" + seconds(grace),
	}, nil
}
