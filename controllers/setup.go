package controllers

import (
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/webstack-dev/webstack-operator/internal/stack"
)

// Options are the reconciler's settings from the manager's flags.
type Options struct {
	// SkipUnchanged skips applies of children that already match (see WebStackReconciler).
	SkipUnchanged bool
	// ClusterDomain is the cluster's DNS domain; empty means cluster.local.
	ClusterDomain string
	// AgentImage is the in-pod agent's image (stack.Options.AgentImage); empty runs no agent.
	AgentImage string
}

// Setup registers the WebStack reconciler with the manager.
func Setup(mgr ctrl.Manager, o Options) error {
	if o.ClusterDomain == "" {
		o.ClusterDomain = stack.DefaultClusterDomain
	}
	r := &WebStackReconciler{
		Client:        mgr.GetClient(),
		APIReader:     mgr.GetAPIReader(),
		Scheme:        mgr.GetScheme(),
		Recorder:      mgr.GetEventRecorder("webstack-operator"),
		SkipUnchanged: o.SkipUnchanged,
		ClusterDomain: o.ClusterDomain,
		AgentImage:    o.AgentImage,
	}
	return r.SetupWithManager(mgr)
}
