package resources

import (
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

func TestMigrationJob(t *testing.T) {
	ws := webStack(t, withMigration("python", "manage.py", "migrate", "--noinput"), withTasks(1),
		withEnv(corev1.EnvVar{Name: "DJANGO_SETTINGS_MODULE", Value: "shop.settings"}))
	in := inputsFor(t, ws)
	in.AppImage = "registry.example.com/shop:1.4"
	j := MigrationJob(in, "registry.example.com/shop:1.5")
	if j.Name != MigrationJobName(ws, "registry.example.com/shop:1.5") || j.Namespace != "shop-ns" || j.Kind != "Job" || j.APIVersion != "batch/v1" {
		t.Errorf("metadata %v %v", j.TypeMeta, j.ObjectMeta)
	}
	if len(j.OwnerReferences) != 1 || j.OwnerReferences[0].UID != testUID {
		t.Errorf("owner references %v", j.OwnerReferences)
	}
	if *j.Spec.BackoffLimit != 2 || *j.Spec.TTLSecondsAfterFinished != 3600 {
		t.Errorf("backoffLimit %d ttl %d", *j.Spec.BackoffLimit, *j.Spec.TTLSecondsAfterFinished)
	}
	p := j.Spec.Template
	if p.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %s", p.Spec.RestartPolicy)
	}
	if !maps.Equal(p.Labels, Labels(ws, ComponentMigration)) {
		t.Errorf("pod labels %v, want component migration (the database admits it)", p.Labels)
	}
	c := container(t, p)
	if c.Image != "registry.example.com/shop:1.5" {
		t.Errorf("image %q: the migration runs the new image", c.Image)
	}
	if !slices.Equal(c.Command, ws.Spec.App.Migration.Command) {
		t.Errorf("command %q", c.Command)
	}
	if v, _ := env(t, c, "DJANGO_SETTINGS_MODULE"); v != "shop.settings" {
		t.Error("the migration lacks the app's variables")
	}
	if len(c.EnvFrom) == 0 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "shop-connection" {
		t.Errorf("envFrom %+v, want the connection Secret", c.EnvFrom)
	}
	if !c.Resources.Limits.Memory().Equal(*tuningAppMemory(t, ws)) {
		t.Errorf("resources %v, want the app's", c.Resources)
	}
}

func tuningAppMemory(t *testing.T, ws *v1alpha1.WebStack) *resource.Quantity {
	t.Helper()
	r := tuning.ContainerResources(tuning.App, ws.Spec.App.Resources)
	return r.Limits.Memory()
}
