package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	webstackv1alpha1 "github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/controllers"
	"github.com/webstack-dev/webstack-operator/internal/stack"
)

// memoryLimitRatio is the share of its container's memory limit that the manager keeps the
// Go runtime's memory under. The rest is for what the runtime does not count: the
// executable's pages (about 40 MiB) and the kernel's own accounting.
const memoryLimitRatio = 0.75

// setMemoryLimit sets the Go runtime's soft memory limit to memoryLimitRatio of the limit
// that provider reports (memlimit.FromCgroup: its container's). The informer cache of 1000
// WebStacks is some 170 MiB of live heap: near that limit the garbage collector works harder
// instead of letting the heap double (GOGC=100) into an OOM kill. GOMEMLIMIT in the
// environment wins. It logs the limit it set, or why it set none; the manager runs either way.
func setMemoryLimit(log logr.Logger, provider memlimit.Provider) {
	_, _ = memlimit.Set(memlimit.WithRatio(memoryLimitRatio), memlimit.WithProvider(provider),
		memlimit.WithLogger(slog.New(logr.ToSlogHandler(log))))
}

// managerOptions are the manager's command-line flags.
type managerOptions struct {
	metricsAddr string
	probeAddr   string
	leaderElect bool
	// skipUnchanged skips applies of children that already match (off only for benchmarks).
	skipUnchanged bool
	clusterDomain string
	workers       int
	pprofAddr     string
	// agentImage is the in-pod agent's image (stack.Options.AgentImage): the chart passes
	// the operator's own image and tag.
	agentImage string
	// watchNamespaces limits the operator to these namespaces; none: every namespace.
	watchNamespaces []string
	zap             zap.Options
}

func parseManagerFlags(args []string, stderr io.Writer) (managerOptions, error) {
	var o managerOptions
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address the metrics endpoint binds to; 0 disables it")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address the health and readiness probes bind to; 0 disables them")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader so that only one replica of the manager reconciles at a time")
	fs.BoolVar(&o.skipUnchanged, "skip-unchanged", true, "skip server-side applies of children whose live object already matches; false only to measure the cost of not skipping")
	fs.StringVar(&o.clusterDomain, "cluster-domain", stack.DefaultClusterDomain, "the cluster's DNS domain, for the Service names HAProxy and Varnish resolve")
	fs.IntVar(&o.workers, "max-concurrent-reconciles", 4, "WebStacks reconciled at once (one WebStack is never reconciled twice at the same time)")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "0", "address of the pprof endpoint; 0 disables it")
	fs.StringVar(&o.agentImage, "agent-image", "", "image of the in-pod agent beside Varnish, HAProxy and the cache Redis that applies config changes without restarting them: the operator's own image and tag (the chart's default); empty runs no agent, and every config change rolls the pods")
	watch := fs.String("watch-namespaces", "", "comma-separated namespaces the operator watches and manages WebStacks in; empty: every namespace (needs the cluster-wide role; with a list, namespaced Roles are enough)")
	o.zap.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, ns := range strings.Split(*watch, ",") {
		if ns = strings.TrimSpace(ns); ns == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return o, fmt.Errorf("--watch-namespaces: %q is not a namespace name: %s", ns, strings.Join(errs, "; "))
		}
		o.watchNamespaces = append(o.watchNamespaces, ns)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if strings.ContainsAny(o.agentImage, " \t\r\n") {
		return o, fmt.Errorf("--agent-image %q is not an image reference", o.agentImage)
	}
	if o.workers < 1 {
		return o, fmt.Errorf("--max-concurrent-reconciles must be at least 1, got %d", o.workers)
	}
	return o, nil
}

// newScheme registers the built-in types and the WebStack API.
func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(webstackv1alpha1.AddToScheme(s))
	return s
}

func runManager(args []string, stderr io.Writer) error {
	o, err := parseManagerFlags(args, stderr)
	if err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.zap), zap.WriteTo(stderr)))
	setMemoryLimit(ctrl.Log.WithName("setup"), memlimit.FromCgroup)

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 newScheme(),
		Metrics:                metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress: o.probeAddr,
		LeaderElection:         o.leaderElect,
		LeaderElectionID:       "webstack-operator.webstack.dev",
		PprofBindAddress:       o.pprofAddr,
		Controller:             config.Controller{MaxConcurrentReconciles: o.workers},
		Cache:                  controllers.CacheOptions(o.watchNamespaces...),
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	if err := controllers.Setup(mgr, controllers.Options{SkipUnchanged: o.skipUnchanged, ClusterDomain: o.clusterDomain, AgentImage: o.agentImage}); err != nil {
		return fmt.Errorf("setting up the WebStack controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding readiness check: %w", err)
	}
	ctrl.Log.WithName("setup").Info("starting manager", "metrics", o.metricsAddr, "probes", o.probeAddr, "leaderElect", o.leaderElect, "watchNamespaces", o.watchNamespaces, "agentImage", o.agentImage)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("running manager: %w", err)
	}
	return nil
}
