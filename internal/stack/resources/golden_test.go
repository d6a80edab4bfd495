package resources

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/webstack-dev/webstack-operator/internal/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// toYAML is objs as a multi-document YAML stream of what would be applied: no status and
// no nulls (creationTimestamp: null).
func toYAML(t testing.TB, objs ...any) string {
	t.Helper()
	var b strings.Builder
	for i, o := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		delete(m, "status")
		compact(m)
		y, err := yaml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.String()
}

// objectsYAML is toYAML of objs.
func objectsYAML(t testing.TB, objs []Object) string {
	t.Helper()
	all := make([]any, len(objs))
	for i, o := range objs {
		all[i] = o
	}
	return toYAML(t, all...)
}

// compact drops nil values, recursively.
func compact(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			compact(e)
			if e == nil {
				delete(x, k)
			}
		}
	case []any:
		for _, e := range x {
			compact(e)
		}
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/stack/resources -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(want, []byte(got)) {
		t.Errorf("%s differs from what the builders make now; inspect with -update and git diff; -want +got:\n%s", path, cmp.Diff(string(want), got))
	}
}

// TestGoldenFullSample is every child of config/samples/webstack_v1alpha1_full.yaml (in
// namespace shop, with testCredentials), then the migration Job of its image and the
// credential Secrets: review a diff of testdata/ as the change it makes to a cluster.
func TestGoldenFullSample(t *testing.T) {
	ws, err := manifest.Load(filepath.Join("..", "..", "..", "config", "samples", "webstack_v1alpha1_full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ws.Namespace = "shop"
	ws.UID = testUID
	in := inputsFor(t, ws)
	objs, err := Desired(in)
	if err != nil {
		t.Fatal(err)
	}
	stream := objectsYAML(t, objs) + "---\n" + toYAML(t, MigrationJob(in, ws.Spec.App.Image),
		CredentialSecret(ws, DatabaseCredentialsName(ws), map[string][]byte{SuperuserPasswordKey: []byte(testCredentials.DatabaseSuperuser), AppPasswordKey: []byte(testCredentials.DatabaseApp)}),
		CredentialSecret(ws, RedisCredentialsName(ws), map[string][]byte{PasswordKey: []byte(testCredentials.Redis)}),
		CredentialSecret(ws, BrokerCredentialsName(ws), map[string][]byte{PasswordKey: []byte(testCredentials.Broker)}),
	)
	golden(t, "full.yaml", stream)
}
