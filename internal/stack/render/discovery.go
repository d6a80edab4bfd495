package render

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
)

// Discovery says how HAProxy and Varnish find the servers behind them. Exactly one of DNS
// and Static is set. Render never derives object names: the caller passes them.
type Discovery struct {
	// DNS finds servers through in-cluster DNS; the controller uses it.
	DNS *DNSDiscovery
	// Static lists fixed addresses, to run the same configs outside Kubernetes.
	Static *StaticDiscovery
}

// DNSDiscovery names the Services that HAProxy and Varnish resolve. Ports are implied:
// spec.app.port for the app pods, VarnishPort for Varnish, HAProxyAppListenerPort for
// HAProxy's app listener.
type DNSDiscovery struct {
	// AppHost is the app's headless Service FQDN; HAProxy fills server-template slots from
	// its A records. Also the Host header of health checks.
	AppHost string
	// CacheHost is Varnish's headless Service FQDN, for HAProxy's cache backend.
	CacheHost string
	// AppListenerHost is the (ClusterIP) Service of HAProxy's app listener, Varnish's
	// backend. Varnish resolves it once, when the VCL is loaded.
	AppListenerHost string
	// DatabaseHost is PostgreSQL's ClusterIP Service FQDN, PgBouncer's server (required with
	// pooling).
	DatabaseHost string
}

// StaticDiscovery lists host:port addresses. The listen addresses are where the daemons
// bind; empty means every interface on the exported port (":8080"), which collides when
// HAProxy and Varnish share a host, so set them when running everything on one machine.
type StaticDiscovery struct {
	// AppServers are the app servers, at least one.
	AppServers []string
	// CacheServers are the Varnish servers HAProxy hashes URLs over; required with the cache.
	CacheServers []string
	// AppListener is where HAProxy's app listener binds and where Varnish sends its misses;
	// required with the cache.
	AppListener string
	// Frontend is the bind address of HAProxy's public frontend.
	Frontend string
	// Stats is the bind address of HAProxy's stats, metrics and health endpoint.
	Stats string
	// Varnish is varnishd's listen address (-a).
	Varnish string
	// Database is PostgreSQL's host:port, PgBouncer's server. Default 127.0.0.1:5432.
	Database string
	// Pooler is PgBouncer's listen address. Default 127.0.0.1:6432.
	Pooler string
}

// staticHealthHost is the Host header of health checks in static mode.
const staticHealthHost = "localhost"

// HealthHost is the Host header of every health check of the app (HAProxy's, Varnish's and
// the pod probes): the app's headless Service name in DNS mode, else localhost.
func (d Discovery) HealthHost() string {
	if d.DNS != nil {
		return d.DNS.AppHost
	}
	return staticHealthHost
}

// endpoint is one host and port.
type endpoint struct {
	Host string
	Port int
}

// HAProxy is the address as HAProxy writes it: IPv6 in brackets.
func (e endpoint) HAProxy() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// validate checks d for a stack with or without the cache.
func (d Discovery) validate(cache bool) error {
	switch {
	case d.DNS != nil && d.Static != nil:
		return errors.New("discovery: set either DNS or Static, not both")
	case d.DNS != nil:
		return d.DNS.validate(cache)
	case d.Static != nil:
		return d.Static.validate(cache)
	default:
		return errors.New("discovery: set DNS or Static")
	}
}

// dnsName is a DNS name made of lowercase labels.
var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func (d *DNSDiscovery) validate(cache bool) error {
	check := func(field, v string) error {
		if !dnsName.MatchString(v) || len(v) > 253 {
			return fmt.Errorf("discovery: DNS.%s %q is not a DNS name", field, v)
		}
		return nil
	}
	if err := check("AppHost", d.AppHost); err != nil {
		return err
	}
	if !cache {
		return nil
	}
	if err := check("CacheHost", d.CacheHost); err != nil {
		return err
	}
	return check("AppListenerHost", d.AppListenerHost)
}

func (s *StaticDiscovery) validate(cache bool) error {
	if len(s.AppServers) == 0 {
		return errors.New("discovery: Static.AppServers needs at least one host:port")
	}
	for _, a := range s.AppServers {
		if _, err := parseHostPort("Static.AppServers", a); err != nil {
			return err
		}
	}
	if cache {
		if len(s.CacheServers) == 0 {
			return errors.New("discovery: Static.CacheServers needs at least one host:port when the cache is enabled")
		}
		for _, a := range s.CacheServers {
			if _, err := parseHostPort("Static.CacheServers", a); err != nil {
				return err
			}
		}
		if s.AppListener == "" {
			return errors.New("discovery: Static.AppListener (host:port) is required when the cache is enabled")
		}
		if _, err := parseHostPort("Static.AppListener", s.AppListener); err != nil {
			return err
		}
	}
	for _, b := range []struct{ field, addr string }{{"Static.Frontend", s.Frontend}, {"Static.Stats", s.Stats}, {"Static.Varnish", s.Varnish}} {
		if b.addr == "" {
			continue
		}
		if _, err := parseBind(b.field, b.addr); err != nil {
			return err
		}
	}
	return nil
}

// hostChars are the characters allowed in a static host: names and IP literals, nothing
// that could break out of a config line or a VCL string.
var hostChars = regexp.MustCompile(`^[A-Za-z0-9.:_-]+$`)

// parseHostPort parses a host:port with a non-empty host.
func parseHostPort(field, s string) (endpoint, error) {
	e, err := parseBind(field, s)
	if err != nil {
		return e, err
	}
	if e.Host == "" {
		return e, fmt.Errorf("discovery: %s %q has no host; write host:port, e.g. 127.0.0.1:8001", field, s)
	}
	return e, nil
}

// parseBind parses [host]:port; an empty host means every interface.
func parseBind(field, s string) (endpoint, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return endpoint{}, fmt.Errorf("discovery: %s %q is not host:port: %w", field, s, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return endpoint{}, fmt.Errorf("discovery: %s %q: port must be a number from 1 to 65535", field, s)
	}
	if host != "" && !hostChars.MatchString(host) {
		return endpoint{}, fmt.Errorf("discovery: %s %q: the host may only contain letters, digits, '.', ':', '_' and '-'", field, s)
	}
	return endpoint{Host: host, Port: p}, nil
}

// bindOr is the static bind address a, or every interface on port when a is empty.
func bindOr(a string, port int) endpoint {
	if a == "" {
		return endpoint{Port: port}
	}
	e, _ := parseBind("", a) // validated before
	return e
}

// bind is e as a listen address: ":8080" for every interface, else host:port (IPv6 in
// brackets), as both HAProxy's bind and varnishd's -a take it.
func (e endpoint) bind() string {
	if e.Host == "" {
		return ":" + strconv.Itoa(e.Port)
	}
	return e.HAProxy()
}
