package main

import (
	"io"
	"strings"
	"testing"
)

func TestManagerFlags(t *testing.T) {
	o, err := parseManagerFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.metricsAddr != ":8080" || o.probeAddr != ":8081" || o.leaderElect || !o.skipUnchanged ||
		o.workers != 4 || o.pprofAddr != "0" || o.clusterDomain != "cluster.local" {
		t.Errorf("defaults: %+v", o)
	}
	o, err = parseManagerFlags([]string{"--metrics-bind-address=0", "--leader-elect", "--max-concurrent-reconciles=8", "--skip-unchanged=false", "--cluster-domain=corp.example"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.metricsAddr != "0" || !o.leaderElect || o.workers != 8 || o.skipUnchanged || o.clusterDomain != "corp.example" {
		t.Errorf("parsed: %+v", o)
	}
	for name, args := range map[string][]string{
		"no workers":   {"--max-concurrent-reconciles=0"},
		"unknown flag": {"--nope"},
		"argument":     {"extra"},
	} {
		if _, err := parseManagerFlags(args, io.Discard); err == nil {
			t.Errorf("%s: %v accepted", name, args)
		} else if name == "no workers" && !strings.Contains(err.Error(), "--max-concurrent-reconciles") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
