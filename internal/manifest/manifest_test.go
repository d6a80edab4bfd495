package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/test/crd"
)

func TestSamplesAreAdmittedWithDefaults(t *testing.T) {
	files, err := filepath.Glob("../../config/samples/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("want the samples in config/samples, got %v (%v)", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ws, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			// Defaults every sample gets, whether it sets them or not.
			if ws.Spec.App.Port == 0 || ws.Spec.App.Threads == 0 || ws.Spec.App.HealthCheckPath == "" || ws.Spec.App.MemoryPerWorker == nil {
				t.Errorf("app defaults missing: %+v", ws.Spec.App)
			}
			lb := ws.Spec.LoadBalancer
			if lb.Image == "" || lb.Replicas == 0 || lb.Algorithm == "" || lb.MaxConnections == 0 || lb.Timeouts.Queue == nil || lb.Service.Type == "" || lb.Service.Port == 0 {
				t.Errorf("loadBalancer defaults missing: %+v", lb)
			}
			if ws.Spec.Database.Version == "" || ws.Spec.Database.DeletionPolicy == "" || ws.Spec.Database.Storage.Size == nil {
				t.Errorf("database defaults missing: %+v", ws.Spec.Database)
			}
			if ws.Spec.Redis.Persistence == "" || ws.Spec.Redis.DefaultTTL == nil || ws.Spec.Cache.DefaultTTL == nil || ws.Spec.Cache.Grace == nil {
				t.Errorf("redis/cache defaults missing: %+v %+v", ws.Spec.Redis, ws.Spec.Cache)
			}
		})
	}
}

func TestMinimalSampleDefaults(t *testing.T) {
	ws, err := Load("../../config/samples/webstack_v1alpha1_minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := ws.Spec
	checks := map[string]struct{ got, want any }{
		"app.port":                     {s.App.Port, int32(8000)},
		"app.threads":                  {s.App.Threads, int32(1)},
		"app.memoryPerWorker":          {s.App.MemoryPerWorker.String(), "128Mi"},
		"app.healthCheckPath":          {s.App.HealthCheckPath, "/healthz"},
		"app.replicas (operator)":      {s.App.AppReplicas(), int32(2)},
		"loadBalancer.replicas":        {s.LoadBalancer.Replicas, int32(2)},
		"loadBalancer.algorithm":       {s.LoadBalancer.Algorithm, v1alpha1.AlgorithmLeastConn},
		"loadBalancer.maxConnections":  {s.LoadBalancer.MaxConnections, int32(4096)},
		"loadBalancer.timeouts.queue":  {s.LoadBalancer.Timeouts.Queue.Duration.String(), "10s"},
		"loadBalancer.service.port":    {s.LoadBalancer.Service.Port, int32(80)},
		"cache.enabled":                {s.Cache.IsEnabled(), true},
		"cache.replicas":               {s.Cache.Replicas, int32(2)},
		"cache.defaultTTL":             {s.Cache.DefaultTTL.Duration.String(), "2m0s"},
		"cache.grace":                  {s.Cache.Grace.Duration.String(), "1h0m0s"},
		"redis.persistence":            {s.Redis.Persistence, v1alpha1.PersistenceNone},
		"redis.defaultTTL":             {s.Redis.DefaultTTL.Duration.String(), "5m0s"},
		"database.version":             {s.Database.Version, v1alpha1.PostgresVersion("16")},
		"database.storage.size":        {s.Database.Storage.Size.String(), "10Gi"},
		"database.deletionPolicy":      {s.Database.DeletionPolicy, v1alpha1.DeletionRetain},
		"database.image (operator)":    {s.Database.PostgresImage(), "postgres:16.6"},
		"tasks (absent without tasks)": {s.Tasks == nil, true},
	}
	for name, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
}

// The same cases run against a real API server in the envtest suite of test/crd.
func TestInvalidManifestsAreRejected(t *testing.T) {
	cases, err := crd.Load("invalid")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 30 {
		t.Fatalf("want at least 30 invalid manifests, have %d", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			_, err := Decode(c.New)
			if err == nil {
				t.Fatalf("accepted; want an error containing %q", c.Expect)
			}
			if !strings.Contains(err.Error(), c.Expect) {
				t.Fatalf("error %q does not contain %q", err, c.Expect)
			}
		})
	}
}

func TestTransitions(t *testing.T) {
	for _, dir := range []string{"transitions", "transitions-allowed"} {
		cases, err := crd.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			t.Run(dir+"/"+c.Name, func(t *testing.T) {
				old, err := Decode(c.Old)
				if err != nil {
					t.Fatalf("stored object: %v", err)
				}
				updated, err := Decode(c.New)
				if err != nil {
					t.Fatalf("update as a create: %v", err)
				}
				err = ValidateUpdate(old, updated)
				switch {
				case c.Expect == "" && err != nil:
					t.Fatalf("update rejected: %v", err)
				case c.Expect != "" && err == nil:
					t.Fatalf("update accepted; want an error containing %q", c.Expect)
				case c.Expect != "" && !strings.Contains(err.Error(), c.Expect):
					t.Fatalf("error %q does not contain %q", err, c.Expect)
				}
			})
		}
	}
}

func TestDecodeErrorsNameTheProblem(t *testing.T) {
	cases := map[string]struct {
		input, want string
	}{
		"not yaml":        {"{{{", "not valid YAML or JSON"},
		"no webstack":     {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "no WebStack"},
		"wrong version":   {"apiVersion: webstack.dev/v1\nkind: WebStack\nmetadata: {name: x}\nspec: {app: {image: x}}\n", `apiVersion "webstack.dev/v1" is not served`},
		"unknown field":   {"apiVersion: webstack.dev/v1alpha1\nkind: WebStack\nmetadata: {name: x}\nspec: {app: {image: x, imagee: y}}\n", `unknown field "spec.app.imagee"`},
		"missing name":    {"apiVersion: webstack.dev/v1alpha1\nkind: WebStack\nmetadata: {}\nspec: {app: {image: x}}\n", "metadata.name: Required value"},
		"second document": {"apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\napiVersion: webstack.dev/v1alpha1\nkind: WebStack\nmetadata: {name: x}\nspec: {app: {image: x, port: 0}}\n", "spec.app.port"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(c.input))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestValidateAppliesDefaultsInPlace(t *testing.T) {
	ws := &v1alpha1.WebStack{}
	ws.Name = "shop"
	ws.Spec.App.Image = "registry.example.com/shop:1.4"
	if err := Validate(ws); err != nil {
		t.Fatal(err)
	}
	if ws.Spec.App.Port != 8000 || ws.Spec.LoadBalancer.Replicas != 2 || ws.Spec.Database.Version != "16" {
		t.Fatalf("defaults not applied: %+v", ws.Spec)
	}
	ws.Spec.App.Port = 0 // the zero value is omitted and defaulted again, as over the wire
	ws.Spec.App.Threads = 100
	if err := Validate(ws); err == nil || !strings.Contains(err.Error(), "spec.app.threads") {
		t.Fatalf("want a spec.app.threads error, got %v", err)
	}
}

// The README shows the full sample; it must be the file the tests admit, not a stale copy.
func TestReadmeShowsTheFullSample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile("../../config/samples/webstack_v1alpha1_full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+string(sample)+"```") {
		t.Fatal("README.md does not show config/samples/webstack_v1alpha1_full.yaml verbatim: paste the current file into its <details> block")
	}
}
