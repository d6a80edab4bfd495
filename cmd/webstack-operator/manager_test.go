package main

import (
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr/funcr"
)

func TestManagerFlags(t *testing.T) {
	o, err := parseManagerFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.metricsAddr != ":8080" || o.probeAddr != ":8081" || o.leaderElect || !o.skipUnchanged ||
		o.workers != 4 || o.pprofAddr != "0" || o.clusterDomain != "cluster.local" || o.watchNamespaces != nil || o.agentImage != "" {
		t.Errorf("defaults: %+v", o)
	}
	o, err = parseManagerFlags([]string{"--metrics-bind-address=0", "--leader-elect", "--max-concurrent-reconciles=8", "--skip-unchanged=false", "--cluster-domain=corp.example",
		"--watch-namespaces=shop, blog,", "--agent-image=ghcr.io/webstack-dev/webstack-operator:0.2.0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.metricsAddr != "0" || !o.leaderElect || o.workers != 8 || o.skipUnchanged || o.clusterDomain != "corp.example" ||
		!slices.Equal(o.watchNamespaces, []string{"shop", "blog"}) || o.agentImage != "ghcr.io/webstack-dev/webstack-operator:0.2.0" {
		t.Errorf("parsed: %+v", o)
	}
	for name, args := range map[string][]string{
		"no workers":    {"--max-concurrent-reconciles=0"},
		"bad namespace": {"--watch-namespaces=shop,Not_A_Namespace"},
		"unknown flag":  {"--nope"},
		"argument":      {"extra"},
		"agent image":   {"--agent-image=not an image"},
	} {
		if _, err := parseManagerFlags(args, io.Discard); err == nil {
			t.Errorf("%s: %v accepted", name, args)
		} else if name == "no workers" && !strings.Contains(err.Error(), "--max-concurrent-reconciles") ||
			name == "bad namespace" && !strings.Contains(err.Error(), `--watch-namespaces: "Not_A_Namespace"`) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	const before = 123 << 20
	cases := map[string]struct {
		gomemlimit string
		want       int64
		log        string
	}{
		"75% of the container's limit": {want: 300 << 20, log: `"GOMEMLIMIT"=314572800`},
		"GOMEMLIMIT wins":              {gomemlimit: "200MiB", want: before, log: `"GOMEMLIMIT"="200MiB"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", tc.gomemlimit)
			debug.SetMemoryLimit(before)
			var logs strings.Builder
			log := funcr.New(func(prefix, args string) { logs.WriteString(args + "\n") }, funcr.Options{})
			setMemoryLimit(log, memlimit.Limit(400<<20))
			if got := debug.SetMemoryLimit(-1); got != tc.want {
				t.Errorf("soft memory limit %d, want %d", got, tc.want)
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Errorf("logs %q, want them to contain %s", logs.String(), tc.log)
			}
		})
	}
}
