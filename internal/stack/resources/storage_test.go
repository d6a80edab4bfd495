package resources

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

func TestClaims(t *testing.T) {
	cases := map[string]struct {
		opts []option
		want map[string]string
	}{
		"the database": {opts: []option{withDatabaseSize("20Gi")}, want: map[string]string{"data-shop-database-0": "20Gi"}},
		"tasks and RDB": {
			opts: []option{withDatabaseSize("20Gi"), withTasks(1), withPersistence(v1alpha1.PersistenceRDB), func(ws *v1alpha1.WebStack) {
				q := resource.MustParse("3Gi")
				ws.Spec.Redis.Storage.Size = &q
			}},
			want: map[string]string{"data-shop-database-0": "20Gi", "data-shop-broker-0": "1Gi", "data-shop-redis-0": "3Gi"},
		},
		"redis without persistence has no claim": {opts: []option{withoutDatabase()}, want: map[string]string{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := map[string]string{}
			for _, c := range Claims(webStack(t, tc.opts...)) {
				got[c.Name] = c.Size.String()
			}
			if len(got) != len(tc.want) {
				t.Fatalf("claims %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("claims %v, want %v", got, tc.want)
				}
			}
		})
	}
	// Without the CRD defaults: the documented sizes.
	raw := &v1alpha1.WebStack{Spec: v1alpha1.WebStackSpec{Tasks: &v1alpha1.TasksSpec{}}}
	raw.Name = "raw"
	got := map[string]string{}
	for _, c := range Claims(raw) {
		got[c.Name] = c.Size.String()
	}
	if got["data-raw-database-0"] != "10Gi" || got["data-raw-broker-0"] != "1Gi" || len(got) != 2 {
		t.Errorf("claims without defaults %v, want the database 10Gi and the broker 1Gi", got)
	}

	ws := webStack(t)
	if DatabaseClaimName(ws) != "data-shop-database-0" || DatabaseClaimName(ws) != DatabaseClaimName(ws) {
		t.Errorf("database claim %s", DatabaseClaimName(ws))
	}
}
