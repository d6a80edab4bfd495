package main

import (
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	crconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/webstack-dev/webstack-operator/controllers"
)

// variantCommand makes the harness binary run a manager instead: the same reconciler,
// cache options and defaults as cmd/webstack-operator's manager, plus the knobs that
// manager does not have yet, to measure what they would change ("what-if" runs). The
// benchmark's own numbers always come from the real binary.
const variantCommand = "what-if-manager"

func runVariant(args []string) int {
	fs := flag.NewFlagSet(variantCommand, flag.ContinueOnError)
	metricsAddr := fs.String("metrics-bind-address", "0", "as the manager's flag")
	probeAddr := fs.String("health-probe-bind-address", "0", "as the manager's flag")
	skipUnchanged := fs.Bool("skip-unchanged", true, "as the manager's flag")
	workers := fs.Int("max-concurrent-reconciles", 1, "WebStacks reconciled at once (controller-runtime's default is 1)")
	qps := fs.Float64("kube-api-qps", 0, "client QPS; 0 keeps controller-runtime's default (-1: no client-side limit)")
	burst := fs.Int("kube-api-burst", 0, "client burst, with --kube-api-qps")
	pprofAddr := fs.String("pprof-bind-address", "", "serve net/http/pprof here")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	// The request and client-side rate-limiter latencies, which the real manager does not
	// register: they show where a reconcile's time goes.
	metrics.RegisterRESTClientMetrics(metrics.MetricRequestLatency, metrics.MetricRateLimiterLatency)

	cfg, err := ctrl.GetConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if *qps != 0 {
		cfg.QPS, cfg.Burst = float32(*qps), *burst
	}
	ctrl.Log.WithName("what-if").Info("client limits", "qps", cfg.QPS, "burst", cfg.Burst, "maxConcurrentReconciles", *workers)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 newScheme(),
		Metrics:                metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress: *probeAddr,
		PprofBindAddress:       *pprofAddr,
		Cache:                  controllers.CacheOptions(),
		Controller:             crconfig.Controller{MaxConcurrentReconciles: *workers},
	})
	if err == nil {
		err = controllers.Setup(mgr, controllers.Options{SkipUnchanged: *skipUnchanged})
	}
	if err == nil {
		err = mgr.AddHealthzCheck("healthz", healthz.Ping)
	}
	if err == nil {
		err = mgr.Start(ctrl.SetupSignalHandler())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
