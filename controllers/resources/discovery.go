package resources

import (
	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/controllers/render"
)

// ClusterDomain is the cluster's DNS domain. HAProxy's resolvers and Varnish's backend
// lookup do not apply the pod's DNS search path, so the names they resolve are fully
// qualified; clusters with another domain are not supported yet.
const ClusterDomain = "cluster.local"

// Discovery is how HAProxy and Varnish find their servers in the cluster: through the DNS
// of the app's and the cache's headless Services and of the app listener's Service.
func Discovery(ws *v1alpha1.WebStack) render.Discovery {
	return render.Discovery{DNS: &render.DNSDiscovery{
		AppHost:         fqdn(ws, AppHeadlessName(ws)),
		CacheHost:       fqdn(ws, CacheHeadlessName(ws)),
		AppListenerHost: fqdn(ws, LoadBalancerAppName(ws)),
	}}
}

// fqdn is a Service's fully qualified name: <svc>.<ns>.svc.cluster.local.
func fqdn(ws *v1alpha1.WebStack, svc string) string {
	return serviceHost(ws, svc) + "." + ClusterDomain
}
