package resources

import (
	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
)

// DefaultClusterDomain is the DNS domain of most clusters (the manager's --cluster-domain).
const DefaultClusterDomain = "cluster.local"

// Discovery is how HAProxy and Varnish find their servers in the cluster: through the DNS
// of the app's and the cache's headless Services and of the app listener's Service. HAProxy's
// resolvers and Varnish's backend lookup do not apply the pod's DNS search path, so the names
// are fully qualified with the cluster's domain.
func Discovery(ws *v1alpha1.WebStack, clusterDomain string) render.Discovery {
	fqdn := func(svc string) string { return serviceHost(ws, svc) + "." + clusterDomain }
	return render.Discovery{DNS: &render.DNSDiscovery{
		AppHost:         fqdn(AppHeadlessName(ws)),
		CacheHost:       fqdn(CacheHeadlessName(ws)),
		AppListenerHost: fqdn(LoadBalancerAppName(ws)),
	}}
}
