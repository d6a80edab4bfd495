package stack

import (
	"errors"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// DefaultClusterDomain is the DNS domain of most clusters (the manager's --cluster-domain).
const DefaultClusterDomain = "cluster.local"

// Options are everything a plan needs that is not in the WebStack.
type Options struct {
	// ClusterDomain is the cluster's DNS domain, for the names HAProxy and Varnish resolve.
	// Default DefaultClusterDomain.
	ClusterDomain string
	// Static, when set, makes HAProxy and Varnish find their servers at fixed addresses
	// instead of through the cluster's DNS: to run the same configs outside Kubernetes.
	Static *render.StaticDiscovery
	// Render are the file locations of the configs. The zero value is the pods' layout.
	Render render.Options
	// Credentials are the passwords of the enabled components (see Credentials).
	Credentials resources.Credentials
	// AppImage is the image the app and task pods may run now: the one they run until the
	// migration Job of a new spec.app.image has succeeded. Empty means spec.app.image.
	AppImage string
	// WithoutApp leaves the app, task and beat workloads out of the plan: a new stack whose
	// first migration has not succeeded yet has none (its database schema does not exist).
	WithoutApp bool
	// AgentImage is the image of the in-pod agent that applies config changes in place
	// beside Varnish, HAProxy and the cache Redis: the operator's own (the manager's
	// --agent-image). Empty means no agent: every config change rolls the pods.
	AgentImage string
}

// Plan is everything one WebStack needs, derived without I/O: the numbers, the configs,
// the objects to apply, the credentials to create once and the migration Job.
type Plan struct {
	// Tuning is every derived number, with its explanation.
	Tuning tuning.Result
	// Configs are the rendered configs of the enabled components.
	Configs render.Configs
	// Objects are the children applied with server-side apply, in apply order.
	Objects []resources.Object
	// Credentials are the Secrets of generated passwords the enabled components need:
	// created once, never applied.
	Credentials []resources.Credential
	// MigrationJob migrates the database for spec.app.image; nil without app.migration.
	// Created once per image, never applied.
	MigrationJob *batchv1.Job
	// Components are the stack's components in status order, enabled or not, each with its
	// workloads: what status observes.
	Components []Component
}

// Component is one component of the stack as status reports it.
type Component struct {
	// Condition is its condition type, e.g. v1alpha1.ConditionDatabaseReady.
	Condition string
	// DisabledBy is the spec that turns it off ("cache.enabled: false"); empty when enabled.
	DisabledBy string
	// Workloads are its Deployments and StatefulSets, whether or not the plan applies them
	// now (the app's wait for the first migration).
	Workloads []Workload
}

// Workload is a Deployment or StatefulSet of a component.
type Workload struct {
	// Kind is "Deployment" or "StatefulSet".
	Kind string
	// Name is the object's name.
	Name string
	// Component is its component label (resources.ComponentApp, ...): its place in
	// status.components.
	Component string
}

// Build derives the plan of ws. ws must have the CRD's defaults applied (as the API server
// does, or manifest.Validate). Same input, same plan.
//
// An error is a *BuildError that says which step failed (rendering or building objects).
// Even then the plan holds Tuning, Credentials and Components, so that status can still
// show the numbers and the components.
func Build(ws *v1alpha1.WebStack, o Options) (*Plan, error) {
	if ws == nil || ws.Name == "" {
		return nil, errors.New("plan: the WebStack has no name")
	}
	p := &Plan{Tuning: tuning.For(ws), Credentials: resources.CredentialSecrets(ws), Components: components(ws)}

	d := discovery(ws, o)
	r := o.Render
	if o.AgentImage != "" && r.VarnishAdmin == "" {
		// The agent loads new VCL through varnishd's admin CLI.
		r.VarnishAdmin, r.VarnishSecret = render.VarnishAdminAddress, render.VarnishSecretPath
	}
	configs, err := render.Render(ws, p.Tuning, d, r)
	if err != nil {
		return p, &BuildError{Step: StepRender, Err: fmt.Errorf("rendering configs: %w", err)}
	}
	p.Configs = configs

	in := resources.Inputs{
		WebStack:    ws,
		Tuning:      p.Tuning,
		Configs:     configs,
		Credentials: o.Credentials,
		AppImage:    o.AppImage,
		WithoutApp:  o.WithoutApp,
		AgentImage:  o.AgentImage,
		HealthHost:  d.HealthHost(),
	}
	if in.AppImage == "" {
		in.AppImage = ws.Spec.App.Image
	}
	if p.Objects, err = resources.Desired(in); err != nil {
		return p, &BuildError{Step: StepObjects, Err: fmt.Errorf("building children: %w", err)}
	}
	if ws.Spec.App.Migration != nil {
		p.MigrationJob = resources.MigrationJob(in, ws.Spec.App.Image)
	}
	return p, nil
}

// Steps of Build that can fail.
const (
	// StepRender is rendering the configs (a spec value a daemon's config cannot hold).
	StepRender = "render"
	// StepObjects is building the objects (a missing credential).
	StepObjects = "objects"
)

// BuildError is a failed step of Build.
type BuildError struct {
	Step string
	Err  error
}

func (e *BuildError) Error() string { return e.Err.Error() }
func (e *BuildError) Unwrap() error { return e.Err }

// discovery is how HAProxy, Varnish and PgBouncer find their servers: o.Static, else the cluster's
// DNS. HAProxy's resolvers and Varnish's backend lookup do not apply the pod's DNS search
// path, so the names are fully qualified with the cluster's domain.
func discovery(ws *v1alpha1.WebStack, o Options) render.Discovery {
	if o.Static != nil {
		return render.Discovery{Static: o.Static}
	}
	domain := o.ClusterDomain
	if domain == "" {
		domain = DefaultClusterDomain
	}
	fqdn := func(svc string) string { return resources.ServiceHost(ws, svc) + "." + domain }
	return render.Discovery{DNS: &render.DNSDiscovery{
		AppHost:         fqdn(resources.AppHeadlessName(ws)),
		CacheHost:       fqdn(resources.CacheHeadlessName(ws)),
		AppListenerHost: fqdn(resources.LoadBalancerAppName(ws)),
		DatabaseHost:    fqdn(resources.DatabaseName(ws)),
	}}
}

// components lists every component in status order with the workloads of the enabled ones.
func components(ws *v1alpha1.WebStack) []Component {
	s := &ws.Spec
	workload := func(kind, name, component string) Workload {
		return Workload{Kind: kind, Name: name, Component: component}
	}
	deployment := func(name, component string) Workload { return workload("Deployment", name, component) }
	statefulSet := func(name, component string) Workload { return workload("StatefulSet", name, component) }
	component := func(condition, disabledBy string, enabled bool, ws ...Workload) Component {
		if !enabled {
			return Component{Condition: condition, DisabledBy: disabledBy}
		}
		return Component{Condition: condition, Workloads: ws}
	}

	redis := deployment(resources.RedisName(ws), resources.ComponentRedis)
	if s.Redis.Persistence != v1alpha1.PersistenceNone {
		redis = statefulSet(resources.RedisName(ws), resources.ComponentRedis)
	}
	var tasks []Workload
	if s.Tasks != nil {
		tasks = []Workload{
			deployment(resources.TasksName(ws), resources.ComponentTasks),
			statefulSet(resources.BrokerName(ws), resources.ComponentBroker),
		}
		if s.Tasks.Beat {
			tasks = append(tasks, deployment(resources.BeatName(ws), resources.ComponentBeat))
		}
	}
	// The pooler is part of the database as the app sees it: DatabaseReady covers both.
	database := []Workload{statefulSet(resources.DatabaseName(ws), resources.ComponentDatabase)}
	if s.Database.IsPooled() {
		database = append(database, deployment(resources.PoolerName(ws), resources.ComponentPooler))
	}
	return []Component{
		component(v1alpha1.ConditionDatabaseReady, "database.enabled: false", s.Database.IsEnabled(), database...),
		component(v1alpha1.ConditionRedisReady, "redis.enabled: false", s.Redis.IsEnabled(), redis),
		component(v1alpha1.ConditionAppReady, "", true, deployment(resources.AppName(ws), resources.ComponentApp)),
		component(v1alpha1.ConditionTasksReady, "spec.tasks being absent", s.Tasks != nil, tasks...),
		component(v1alpha1.ConditionCacheReady, "cache.enabled: false", s.Cache.IsEnabled(),
			deployment(resources.CacheName(ws), resources.ComponentCache)),
		component(v1alpha1.ConditionLoadBalancerReady, "", true, deployment(resources.LoadBalancerName(ws), resources.ComponentLoadBalancer)),
	}
}
