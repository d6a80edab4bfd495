package stack

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/manifest"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
	"github.com/webstack-dev/webstack-operator/internal/testutil"
)

var testCredentials = resources.Credentials{DatabaseSuperuser: "su", DatabaseApp: "app", Redis: "redis", Broker: "broker"}

// defaulted is testutil.WebStack with the CRD's defaults applied, as the API server admits it.
func defaulted(t *testing.T, opts ...testutil.Option) *v1alpha1.WebStack {
	t.Helper()
	ws := testutil.WebStack("shop", append([]testutil.Option{testutil.InNamespace("shop-ns")}, opts...)...)
	if err := manifest.Validate(ws); err != nil {
		t.Fatalf("the API server would reject the fixture: %v", err)
	}
	return ws
}

func TestDiscovery(t *testing.T) {
	for domain, want := range map[string]render.DNSDiscovery{
		"": {
			AppHost:         "shop-app-headless.shop-ns.svc.cluster.local",
			CacheHost:       "shop-cache-headless.shop-ns.svc.cluster.local",
			AppListenerHost: "shop-loadbalancer-app.shop-ns.svc.cluster.local",
			DatabaseHost:    "shop-database.shop-ns.svc.cluster.local",
		},
		"corp.example": {
			AppHost:         "shop-app-headless.shop-ns.svc.corp.example",
			CacheHost:       "shop-cache-headless.shop-ns.svc.corp.example",
			AppListenerHost: "shop-loadbalancer-app.shop-ns.svc.corp.example",
			DatabaseHost:    "shop-database.shop-ns.svc.corp.example",
		},
	} {
		d := discovery(defaulted(t), Options{ClusterDomain: domain})
		if d.Static != nil || d.DNS == nil {
			t.Fatalf("discovery %+v, want DNS", d)
		}
		if *d.DNS != want {
			t.Errorf("%q: got %+v, want %+v", domain, *d.DNS, want)
		}
	}
	static := &render.StaticDiscovery{AppServers: []string{"127.0.0.1:8000"}}
	if d := discovery(defaulted(t), Options{Static: static}); d.Static != static || d.DNS != nil {
		t.Errorf("with Options.Static: %+v", d)
	}
}

// kinds lists the plan's objects as Kind/name.
func kinds(p *Plan) []string {
	var out []string
	for _, o := range p.Objects {
		out = append(out, o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName())
	}
	return out
}

func TestBuild(t *testing.T) {
	cases := map[string]struct {
		opts       []testutil.Option
		options    Options
		want       []string // objects that must be in the plan
		absent     []string // objects that must not be
		job        bool
		components map[string][]string // condition -> workloads (Kind/name); nil = disabled
	}{
		"defaults": {
			want: []string{"Deployment/shop-app", "Deployment/shop-cache", "Deployment/shop-loadbalancer", "StatefulSet/shop-database",
				"Deployment/shop-pooler", "Secret/shop-pooler-auth", "Deployment/shop-redis", "Secret/shop-connection"},
			absent: []string{"Deployment/shop-tasks", "Job/" + "shop-migrate"},
			components: map[string][]string{
				v1alpha1.ConditionDatabaseReady:     {"StatefulSet/shop-database", "Deployment/shop-pooler"},
				v1alpha1.ConditionRedisReady:        {"Deployment/shop-redis"},
				v1alpha1.ConditionAppReady:          {"Deployment/shop-app"},
				v1alpha1.ConditionTasksReady:        nil,
				v1alpha1.ConditionCacheReady:        {"Deployment/shop-cache"},
				v1alpha1.ConditionLoadBalancerReady: {"Deployment/shop-loadbalancer"},
			},
		},
		"without the app before the first migration": {
			opts:    []testutil.Option{testutil.WithTasks(1), testutil.WithBeat(), testutil.WithAutoscaling(2, 4), testutil.WithMigration("python", "manage.py", "migrate")},
			options: Options{WithoutApp: true},
			want:    []string{"StatefulSet/shop-broker", "Service/shop-app-headless", "PodDisruptionBudget/shop-app"},
			absent:  []string{"Deployment/shop-app", "Deployment/shop-tasks", "Deployment/shop-beat", "HorizontalPodAutoscaler/shop-app"},
			job:     true,
			components: map[string][]string{
				v1alpha1.ConditionAppReady:   {"Deployment/shop-app"},
				v1alpha1.ConditionTasksReady: {"Deployment/shop-tasks", "StatefulSet/shop-broker", "Deployment/shop-beat"},
			},
		},
		"pooling None: no pooler": {
			opts:   []testutil.Option{testutil.WithPooling(v1alpha1.PoolingNone)},
			want:   []string{"StatefulSet/shop-database"},
			absent: []string{"Deployment/shop-pooler", "Secret/shop-pooler-auth", "Service/shop-pooler"},
			components: map[string][]string{
				v1alpha1.ConditionDatabaseReady: {"StatefulSet/shop-database"},
			},
		},
		"everything off but the app and HAProxy": {
			opts:   []testutil.Option{testutil.WithoutCache(), testutil.WithoutRedis(), testutil.WithoutDatabase()},
			want:   []string{"Deployment/shop-app", "Deployment/shop-loadbalancer"},
			absent: []string{"Deployment/shop-cache", "StatefulSet/shop-database", "Deployment/shop-redis"},
			components: map[string][]string{
				v1alpha1.ConditionDatabaseReady: nil,
				v1alpha1.ConditionRedisReady:    nil,
				v1alpha1.ConditionCacheReady:    nil,
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ws := defaulted(t, tc.opts...)
			o := tc.options
			o.Credentials = testCredentials
			p, err := Build(ws, o)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(kinds(p), " ")
			for _, k := range tc.want {
				if !strings.Contains(got+" ", k+" ") {
					t.Errorf("the plan has no %s: %s", k, got)
				}
			}
			for _, k := range tc.absent {
				if strings.Contains(got+" ", k+" ") {
					t.Errorf("the plan has %s: %s", k, got)
				}
			}
			if (p.MigrationJob != nil) != tc.job {
				t.Errorf("migration Job %v, want one: %t", p.MigrationJob != nil, tc.job)
			}
			if p.MigrationJob != nil && p.MigrationJob.Spec.Template.Spec.Containers[0].Image != ws.Spec.App.Image {
				t.Errorf("the migration Job runs %s, want spec.app.image", p.MigrationJob.Spec.Template.Spec.Containers[0].Image)
			}
			byCondition := map[string]Component{}
			for _, c := range p.Components {
				byCondition[c.Condition] = c
			}
			if len(p.Components) != len(v1alpha1.ComponentConditions) {
				t.Errorf("%d components, want one per component condition", len(p.Components))
			}
			for cond, want := range tc.components {
				c := byCondition[cond]
				if want == nil {
					if c.DisabledBy == "" || len(c.Workloads) > 0 {
						t.Errorf("%s: %+v, want disabled", cond, c)
					}
					continue
				}
				var names []string
				for _, w := range c.Workloads {
					names = append(names, w.Kind+"/"+w.Name)
				}
				if !reflect.DeepEqual(names, want) || c.DisabledBy != "" {
					t.Errorf("%s workloads %v (disabled by %q), want %v", cond, names, c.DisabledBy, want)
				}
			}
		})
	}
}

// TestBuildHoldsTheAppAtItsImage: AppImage is what the app and task pods run while a new
// image migrates.
func TestBuildHoldsTheAppAtItsImage(t *testing.T) {
	ws := defaulted(t, testutil.WithTasks(1), testutil.WithMigration("python", "manage.py", "migrate"), testutil.WithImage("shop:2"))
	p, err := Build(ws, Options{Credentials: testCredentials, AppImage: "shop:1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range p.Objects {
		d, ok := o.(*appsv1.Deployment)
		if !ok || (d.Name != "shop-app" && d.Name != "shop-tasks") {
			continue
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "shop:1" {
			t.Errorf("%s runs %s, want shop:1", d.Name, img)
		}
	}
	if img := p.MigrationJob.Spec.Template.Spec.Containers[0].Image; img != "shop:2" {
		t.Errorf("the migration Job runs %s, want shop:2", img)
	}
}

// TestBuildReadsTuning: the objects carry tuning's numbers, computed once.
func TestBuildReadsTuning(t *testing.T) {
	ws := defaulted(t, testutil.WithAutoscaling(2, 10))
	ws.Spec.App.Autoscaling.TargetCPUUtilizationPercentage = 0
	p, err := Build(ws, Options{Credentials: testCredentials})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range p.Objects {
		switch o := o.(type) {
		case *autoscalingv2.HorizontalPodAutoscaler:
			if got := *o.Spec.Metrics[0].Resource.Target.AverageUtilization; got != p.Tuning.App.TargetCPUUtilizationPercentage || got != 70 {
				t.Errorf("HPA target %d, tuning %d, want 70", got, p.Tuning.App.TargetCPUUtilizationPercentage)
			}
		case *appsv1.Deployment:
			if o.Name != "shop-app" {
				continue
			}
			c := o.Spec.Template.Spec.Containers[0]
			if !reflect.DeepEqual(c.Resources, p.Tuning.App.Resources) {
				t.Errorf("app resources %v, tuning %v", c.Resources, p.Tuning.App.Resources)
			}
			if c.LivenessProbe.TimeoutSeconds != p.Tuning.App.ServerTimeoutSeconds {
				t.Errorf("liveness timeout %d, tuning's server timeout %d", c.LivenessProbe.TimeoutSeconds, p.Tuning.App.ServerTimeoutSeconds)
			}
		}
	}
}

// TestBuildErrors: a failed step says which, and the plan still holds the numbers and the
// components for status.
func TestBuildErrors(t *testing.T) {
	if _, err := Build(&v1alpha1.WebStack{}, Options{}); err == nil || !strings.Contains(err.Error(), "no name") {
		t.Errorf("a WebStack without a name: %v", err)
	}
	ws := defaulted(t)
	p, err := Build(ws, Options{})
	var be *BuildError
	if !errors.As(err, &be) || be.Step != StepObjects || !strings.Contains(err.Error(), "password is empty") {
		t.Fatalf("no credentials: %v, want a BuildError of step %s", err, StepObjects)
	}
	if p == nil || p.Tuning.App.WorkersPerPod == 0 || len(p.Components) == 0 || len(p.Credentials) == 0 {
		t.Errorf("the failed plan lost its tuning, components or credentials: %+v", p)
	}
	bad := defaulted(t)
	bad.Spec.LoadBalancer.Timeouts.Server = nil
	if _, err := Build(bad, Options{Credentials: testCredentials}); !errors.As(err, &be) || be.Step != StepRender {
		t.Errorf("an unrenderable spec: %v, want a BuildError of step %s", err, StepRender)
	}
}

// TestBuildIsDeterministic: same input, same plan.
func TestBuildIsDeterministic(t *testing.T) {
	ws := defaulted(t, testutil.WithTasks(2), testutil.WithBeat(), testutil.WithMigration("python", "manage.py", "migrate"))
	a, err := Build(ws, Options{Credentials: testCredentials})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(ws.DeepCopy(), Options{Credentials: testCredentials})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("two builds of the same input differ")
	}
}

// TestBuildWithTheAgent: an agent image gives varnishd its admin CLI and every in-place
// component its agent; without one, neither (every change rolls, as before the agent).
func TestBuildWithTheAgent(t *testing.T) {
	ws := defaulted(t)
	cases := map[string]struct {
		image     string
		adminCLI  bool
		agentPods int
	}{
		"with an agent image": {image: "ghcr.io/webstack-dev/webstack-operator:1.0", adminCLI: true, agentPods: 4},
		"without":             {},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := Build(ws, Options{Credentials: testCredentials, AgentImage: tc.image})
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(p.Configs.VarnishArgs, "-T"); got != tc.adminCLI {
				t.Errorf("varnishd args %q: admin CLI %t, want %t", p.Configs.VarnishArgs, got, tc.adminCLI)
			}
			agents := 0
			for _, o := range p.Objects {
				var spec *corev1.PodSpec
				switch w := o.(type) {
				case *appsv1.Deployment:
					spec = &w.Spec.Template.Spec
				case *appsv1.StatefulSet:
					spec = &w.Spec.Template.Spec
				default:
					continue
				}
				for _, c := range spec.Containers {
					if c.Name == resources.AgentContainerName {
						agents++
						if c.Image != tc.image {
							t.Errorf("%s: agent image %q, want %q", o.GetName(), c.Image, tc.image)
						}
					}
				}
			}
			if agents != tc.agentPods {
				t.Errorf("%d workloads with an agent, want %d (Varnish, HAProxy, the cache Redis, PostgreSQL)", agents, tc.agentPods)
			}
		})
	}
}
