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
	data.HealthHost = d.HealthHost()
	if d.DNS != nil {
		data.DNS = true
		data.BackendHost = d.DNS.AppListenerHost
		data.BackendPort = HAProxyAppListenerPort
	} else {
		e, _ := parseHostPort("", d.Static.AppListener) // validated
		data.BackendHost = e.Host
		data.BackendPort = e.Port
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
		if err := checkPCRE(r.PathRegex); err != nil {
			return rule, fmt.Errorf("%s.pathRegex %s", field, err)
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
// the admin CLI with its secret file (with o.VarnishAdmin), the VCL, malloc storage and bounded Transient storage from tuning, and default_ttl and
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
	args := []string{"-F", "-a", listen.bind()}
	if o.VarnishAdmin != "" {
		args = append(args, "-T", o.VarnishAdmin, "-S", o.VarnishSecret)
	}
	return append(args,
		"-f", o.VCLPath,
		"-s", "malloc,"+strconv.FormatInt(t.Cache.StorageMiB, 10)+"M",
		"-s", "Transient=malloc,"+strconv.FormatInt(t.Cache.TransientMiB, 10)+"M",
		"-p", "default_ttl="+seconds(ttl),
		"-p", "default_grace="+seconds(grace),
	), nil
}

// Limits of the PCRE2 subset checkPCRE accepts, well inside what PCRE2 compiles: its
// nesting limit (250) and its compiled-size limit (64 KiB with the default link size).
const (
	pcreMaxDepth  = 32
	pcreMaxRepeat = 1000
	pcreMaxWeight = 30000
)

// checkPCRE returns an error unless re is in the PCRE2 subset the operator knows Varnish
// compiles: literals, '.', '^', '$', '|', groups ( ), (?:, lookahead (?= and (?!, inline
// flags (?i) (?-i) (?i: ..., character classes with ranges in order, the escapes \d \D \s
// \S \w \W \b \B \A \z \Z \n \r \t and any escaped ASCII punctuation, and the quantifiers *
// + ? {n} {n,} {n,m} (n <= m <= 1000), each optionally lazy (?) or possessive (+), after
// something that can repeat. A literal '{' must be escaped. Everything else (back
// references, lookbehind, named groups, verbs, POSIX classes, \p, \x, ...) is refused,
// with the position and the reason, so that a WebStack the operator renders never carries
// a VCL that Varnish cannot compile.
func checkPCRE(re string) error {
	type group struct {
		repeatable bool // a quantifier may follow the group
		weight     int  // estimated compiled size of its contents
	}
	stack := []group{{}}
	// last is the estimated size of the item a quantifier would repeat; 0 when nothing
	// repeatable precedes (start, '(', '|', an anchor, a quantifier).
	last, lastIsGroup := 0, false
	fail := func(i int, format string, args ...any) error {
		return fmt.Errorf("at offset %d: %s", i, fmt.Sprintf(format, args...))
	}
	add := func(w int, isGroup bool) {
		stack[len(stack)-1].weight += w
		last, lastIsGroup = w, isGroup
	}
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch c {
		case '\\':
			if i+1 >= len(re) {
				return fail(i, "a trailing backslash escapes nothing: escape it as \\\\ or remove it")
			}
			i++
			e := re[i]
			switch {
			case strings.IndexByte("dDsSwWnrt", e) >= 0:
				add(3, false)
			case strings.IndexByte("bBAzZ", e) >= 0:
				add(2, false)
				last = 0 // an assertion does not repeat
			case isASCIIPunct(e):
				add(3, false)
			default:
				return fail(i-1, "the escape \\%c is not supported: escape only punctuation, or use \\d \\D \\s \\S \\w \\W \\b \\B \\A \\z \\Z \\n \\r \\t", e)
			}
		case '[':
			end, err := checkPCREClass(re, i)
			if err != nil {
				return err
			}
			i = end
			add(40, false)
		case '(':
			if len(stack) > pcreMaxDepth {
				return fail(i, "groups nest deeper than %d", pcreMaxDepth)
			}
			g := group{repeatable: true}
			switch {
			case strings.HasPrefix(re[i:], "(?:"):
				i += 2
			case strings.HasPrefix(re[i:], "(?=") || strings.HasPrefix(re[i:], "(?!"):
				i += 2
				g.repeatable = false
			case strings.HasPrefix(re[i:], "(?"):
				j := i + 2
				for j < len(re) && strings.IndexByte("ims-", re[j]) >= 0 {
					j++
				}
				if j == i+2 || j >= len(re) || (re[j] != ')' && re[j] != ':') || strings.Count(re[i+2:j], "-") > 1 || re[j-1] == '-' {
					return fail(i, "only (?:, (?=, (?! and inline flags such as (?i) or (?i: open a group with (?; lookbehind, named groups and comments are not supported")
				}
				if re[j] == ')' { // (?i): flags for the rest of the group, nothing to repeat
					i = j
					last = 0
					continue
				}
				i = j
			case strings.HasPrefix(re[i:], "(*"):
				return fail(i, "(* starts a PCRE2 verb, which is not supported: escape the * as \\*")
			}
			stack = append(stack, g)
			last = 0
		case ')':
			if len(stack) == 1 {
				return fail(i, "unmatched ): escape it as \\) or add the ( it closes")
			}
			g := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			add(g.weight+6, true)
			if !g.repeatable {
				last = 0
			}
		case '|':
			stack[len(stack)-1].weight += 3
			last = 0
		case '^', '$':
			add(1, false)
			last = 0
		case '*', '+', '?', '{':
			lo, hi, n := 0, 1, 1 // n: length of the quantifier
			if c == '{' {
				var ok bool
				lo, hi, n, ok = parseRepeat(re[i:])
				if !ok {
					return fail(i, "a literal { must be escaped as \\{ (a quantifier is {n}, {n,} or {n,m})")
				}
				if lo > hi {
					return fail(i, "{%d,%d}: the numbers are out of order", lo, hi)
				}
				if hi > pcreMaxRepeat {
					return fail(i, "a counted repeat may be at most %d", pcreMaxRepeat)
				}
			}
			if last == 0 {
				return fail(i, "the quantifier %s follows nothing that can repeat: escape it as \\%c", re[i:i+n], c)
			}
			if lastIsGroup && hi > 1 { // PCRE2 copies a group once per counted repeat
				stack[len(stack)-1].weight += last * (hi - 1)
			}
			i += n - 1
			if i+1 < len(re) && (re[i+1] == '?' || re[i+1] == '+') {
				i++ // lazy or possessive
			}
			last = 0
		default:
			add(2, false)
		}
		if stack[0].weight > pcreMaxWeight || stack[len(stack)-1].weight > pcreMaxWeight {
			return fail(i, "the expression is too large for Varnish once compiled: use fewer or smaller counted repeats of groups")
		}
	}
	if len(stack) > 1 {
		return fmt.Errorf("%d unclosed (: close every group with )", len(stack)-1)
	}
	return nil
}

// checkPCREClass checks the character class that starts at re[start] ('[') and returns the
// index of its closing ']'.
func checkPCREClass(re string, start int) (int, error) {
	i := start + 1
	if i < len(re) && re[i] == '^' {
		i++
	}
	first := true
	prev := -1 // the previous single character of the class, for a range; -1 after a class escape
	for ; i < len(re); i++ {
		c := re[i]
		single := -1
		switch {
		case c == ']' && !first:
			return i, nil
		case c == '[' && i+1 < len(re) && strings.IndexByte(":.=", re[i+1]) >= 0:
			return 0, fmt.Errorf("at offset %d: POSIX classes such as [:alpha:] are not supported: use a range such as a-z, or escape the [ as \\[", i)
		case c == '\\':
			if i+1 >= len(re) {
				return 0, fmt.Errorf("at offset %d: a trailing backslash escapes nothing, and the class from offset %d is not closed", i, start)
			}
			i++
			e := re[i]
			if ch, ok := escapedChar(e); ok {
				single = ch
			} else if strings.IndexByte("dDsSwW", e) < 0 {
				return 0, fmt.Errorf("at offset %d: the escape \\%c is not supported in a class: escape only punctuation, or use \\d \\D \\s \\S \\w \\W \\n \\r \\t", i-1, e)
			}
		case c == '-' && !first && i+1 < len(re) && re[i+1] != ']':
			// A range prev-next.
			if prev < 0 {
				return 0, fmt.Errorf("at offset %d: a range in a class must go from one character to another: escape the - as \\-", i)
			}
			i++
			hi := int(re[i])
			if re[i] == '\\' {
				if i+1 >= len(re) {
					return 0, fmt.Errorf("at offset %d: a trailing backslash escapes nothing, and the class from offset %d is not closed", i, start)
				}
				i++
				ch, ok := escapedChar(re[i])
				if !ok {
					return 0, fmt.Errorf("at offset %d: a range in a class must end in a character, not \\%c", i-1, re[i])
				}
				hi = ch
			} else if re[i] == '[' && i+1 < len(re) && strings.IndexByte(":.=", re[i+1]) >= 0 {
				return 0, fmt.Errorf("at offset %d: POSIX classes such as [:alpha:] are not supported", i)
			}
			if hi < prev {
				return 0, fmt.Errorf("at offset %d: the range %c-%c is out of order", i, rune(prev), rune(hi))
			}
			prev, first = -1, false
			continue
		default:
			single = int(c)
		}
		prev, first = single, false
	}
	return 0, fmt.Errorf("at offset %d: the class [ is not closed: add ] or escape the [ as \\[", start)
}

// escapedChar is the one character an escape in a class stands for (\n, \r, \t, or
// escaped punctuation), and false for any other escape.
func escapedChar(e byte) (int, bool) {
	switch {
	case e == 'n':
		return '\n', true
	case e == 'r':
		return '\r', true
	case e == 't':
		return '\t', true
	case isASCIIPunct(e):
		return int(e), true
	}
	return 0, false
}

// parseRepeat reads a counted quantifier {n}, {n,} or {n,m} at the start of s: its bounds
// (hi is lo+1 for {n,}), its length, and whether s starts with one.
func parseRepeat(s string) (lo, hi, n int, ok bool) {
	end := strings.IndexByte(s, '}')
	if end < 2 {
		return 0, 0, 0, false
	}
	loS, hiS, comma := strings.Cut(s[1:end], ",")
	atoi := func(d string) (int, bool) {
		if d == "" || len(d) > 5 || strings.Trim(d, "0123456789") != "" {
			return 0, false
		}
		v, err := strconv.Atoi(d)
		return v, err == nil
	}
	lo, ok = atoi(loS)
	if !ok {
		return 0, 0, 0, false
	}
	switch {
	case !comma:
		hi = lo
	case hiS == "":
		hi = lo + 1
	default:
		if hi, ok = atoi(hiS); !ok {
			return 0, 0, 0, false
		}
	}
	return lo, hi, end + 1, true
}

// isASCIIPunct reports whether c is printable ASCII other than a letter, a digit or a space.
func isASCIIPunct(c byte) bool {
	return c > ' ' && c < 0x7f && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') && !('0' <= c && c <= '9')
}
