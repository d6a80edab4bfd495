// Package agent is the in-pod helper that runs beside Varnish, HAProxy and the cache Redis:
// it watches the config mounted from the component's ConfigMap and applies each change
// through the daemon's own interface (varnishd's admin CLI, HAProxy's master CLI, Redis'
// CONFIG SET), so that a change the daemon can take in place never restarts it.
package agent
