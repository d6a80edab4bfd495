package resources

import (
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// longestName is a WebStack name of the 40 characters the API allows at most.
var longestName = "a" + strings.Repeat("b", 38) + "c"

func TestNamesFitForTheLongestWebStackName(t *testing.T) {
	if len(longestName) != 40 {
		t.Fatal("longestName is not 40 characters")
	}
	ws := webStack(t, withName(longestName), withTasks(2), withBeat(), withAutoscaling(2, 4),
		withPersistence(v1alpha1.PersistenceAOF), withMigration("manage.py", "migrate"))
	in := inputsFor(t, ws)
	objs, err := Desired(in)
	if err != nil {
		t.Fatal(err)
	}
	job := MigrationJob(in, "registry.example.com/shop:1.5")
	var all []Object
	all = append(all, objs...)
	all = append(all, job)
	for _, n := range []string{DatabaseCredentialsName(ws), RedisCredentialsName(ws), BrokerCredentialsName(ws)} {
		all = append(all, CredentialSecret(ws, n, nil))
	}
	for _, o := range all {
		// Every name must be a DNS label: Services and StatefulSets' pods need it, and a name
		// ends up as a label value (job-name, statefulset.kubernetes.io/pod-name).
		if errs := validation.IsDNS1123Label(o.GetName()); len(errs) > 0 {
			t.Errorf("%s: %v", key(o), errs)
		}
		for k, v := range o.GetLabels() {
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				t.Errorf("%s label %s: %v", key(o), k, errs)
			}
		}
		if s, ok := o.(*appsv1.StatefulSet); ok {
			// The controller-revision-hash label is <name>-<up to 10 characters>.
			if n := len(s.Name) + 11; n > validation.LabelValueMaxLength {
				t.Errorf("%s: its revision label would have %d characters", key(o), n)
			}
		}
	}
	for _, c := range Claims(ws) {
		if errs := validation.IsDNS1123Subdomain(c.Name); len(errs) > 0 || len(c.Name) > 63 {
			t.Errorf("claim %s: %v", c.Name, errs)
		}
	}
	dns := dnsDiscovery(ws).DNS
	for name, host := range map[string]string{"app": dns.AppHost, "cache": dns.CacheHost, "listener": dns.AppListenerHost} {
		if errs := validation.IsDNS1123Subdomain(host); len(errs) > 0 {
			t.Errorf("%s host %s: %v", name, host, errs)
		}
	}
}

func TestMigrationJobName(t *testing.T) {
	ws := webStack(t, withMigration("python", "manage.py", "migrate"))
	base := MigrationJobName(ws, "registry.example.com/shop:1.5")
	if !regexp.MustCompile(`^shop-migrate-[0-9a-f]{10}$`).MatchString(base) {
		t.Fatalf("name %q is not shop-migrate-<10 hex>", base)
	}
	cases := map[string]struct {
		ws    *v1alpha1.WebStack
		image string
		same  bool
	}{
		"same image and command":       {ws: webStack(t, withMigration("python", "manage.py", "migrate")), image: "registry.example.com/shop:1.5", same: true},
		"another image":                {ws: ws, image: "registry.example.com/shop:1.6"},
		"another command":              {ws: webStack(t, withMigration("python", "manage.py", "migrate", "--noinput")), image: "registry.example.com/shop:1.5"},
		"arguments joined differently": {ws: webStack(t, withMigration("python", "manage.py migrate")), image: "registry.example.com/shop:1.5"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := MigrationJobName(tc.ws, tc.image); (got == base) != tc.same {
				t.Errorf("%q vs %q: same = %t, want %t", got, base, got == base, tc.same)
			}
		})
	}
}
