// Package render turns a WebStack spec (defaults applied) and its tuning.Result into the
// configuration files of the daemons: haproxy.cfg, default.vcl and the varnishd arguments,
// redis.conf for the cache and the broker, postgresql.conf, pg_hba.conf and init.sql. It is
// pure: same input, same output; no client, no I/O, no clock, and no secrets in any file.
package render
