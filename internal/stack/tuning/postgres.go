package tuning

import (
	"fmt"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

const (
	// reservedConnections are the connections on top of the app and task processes:
	// PostgreSQL's 3 superuser_reserved_connections, the migration Job, and admin and
	// monitoring sessions.
	reservedConnections = 10
	// maxDatabaseConnections is the most max_connections the operator configures: the
	// maximum database.maxConnections accepts. A larger derived budget is capped, with a
	// warning.
	maxDatabaseConnections = 100000
	// Bounds of work_mem and maintenance_work_mem, in MiB.
	minWorkMemMiB            = 4
	maxMaintenanceWorkMemMiB = 2048
)

// BelowBudget reports whether max_connections is below the connection budget (an explicit
// database.maxConnections below it, or a budget above the 100000 cap), so that some app or
// task processes may fail to connect. Result.Warnings then says why; the controller reports
// it as Degraded with reason ConnectionBudgetExceeded. False for a nil (disabled) database.
func (d *DatabaseResult) BelowBudget() bool {
	return d != nil && d.MaxConnections < d.ConnectionBudget
}

// database derives PostgreSQL's sizing (only called when the database is enabled), and
// the pooler's with database.pooling, with m = the database container's memory in MiB:
//
//	connectionBudget   = with a pooler: the pooler's serverConnections + 10 reserved
//	                     (independent of the number of app pods);
//	                     without: app.maxPods x workersPerPod x threadsPerWorker
//	                     + tasks.pods x concurrency + (1 with beat) + 10 reserved
//	maxConnections     = database.maxConnections if > 0 (a warning when below the budget),
//	                     else the budget, at most 100000 (a warning when capped)
//	sharedBuffers      = m / 4
//	effectiveCacheSize = 3m / 4
//	maintenanceWorkMem = min(m / 16, 2048Mi)
//	workMem            = max(4Mi, (m - sharedBuffers) / (maxConnections x 3))
func (x *explainer) database(d *v1alpha1.DatabaseSpec, app AppResult, tasks *TasksResult) (DatabaseResult, *PoolerResult) {
	in := x.inputs(Database, d.Resources)
	r := DatabaseResult{Inputs: in.Inputs, Resources: in.resources}

	var pooler *PoolerResult
	var budget int64
	var budgetExpr string
	// The pooler's lines follow the database's, as status.tuning orders them.
	px := &explainer{}
	defer func() {
		x.lines = append(x.lines, px.lines...)
		x.warnings = append(x.warnings, px.warnings...)
	}()
	if d.IsPooled() {
		p := px.pooler(&d.Pooling, in.MilliCPU, app, tasks)
		pooler = &p
		budget = int64(p.ServerConnections)
		budgetExpr = fmt.Sprintf("pooler (%d replicas + %d rollout surge) x (pool %d + reserve %d)",
			p.Replicas, p.Surge, p.PoolSize, p.ReservePoolSize)
	} else {
		budget, budgetExpr = processBudget(app, tasks)
	}
	budget = satAdd(budget, reservedConnections)
	budgetExpr += fmt.Sprintf(" + %d reserved", reservedConnections)
	r.ConnectionBudget = clamp32(budget)
	budgetLine := fmt.Sprintf("%s = %d (reserved: 3 superuser, the migration Job, admin and monitoring sessions)", budgetExpr, budget)
	tooMany := "lower app.workers, app.threads or the number of app pods, or pool connections (database.pooling.mode Transaction)"
	if pooler != nil {
		tooMany = "lower database.pooling.replicas or database.resources cpu"
	}

	switch {
	case d.MaxConnections > 0:
		r.MaxConnections = d.MaxConnections
		x.line("database.maxConnections", itoa(r.MaxConnections), "database.maxConnections = %d (explicit); connection budget: %s",
			d.MaxConnections, budgetLine)
		if int64(d.MaxConnections) < budget {
			fix := fmt.Sprintf("raise it to at least %d, or remove it to derive it", budget)
			if budget > maxDatabaseConnections {
				fix = tooMany
			}
			x.warn("database.maxConnections %d is below the connection budget %d (%s): some app or task processes may fail to connect; %s",
				d.MaxConnections, budget, budgetExpr, fix)
		}
	case budget > maxDatabaseConnections:
		r.MaxConnections = maxDatabaseConnections
		x.line("database.maxConnections", itoa(r.MaxConnections), "%s = %d, capped at %d (the most database.maxConnections accepts)",
			budgetExpr, budget, maxDatabaseConnections)
		x.warn("the connection budget %d (%s) exceeds %d, the most the operator configures: %s",
			budget, budgetExpr, maxDatabaseConnections, tooMany)
	default:
		r.MaxConnections = int32(budget)
		x.line("database.maxConnections", itoa(r.MaxConnections), "%s", budgetLine)
	}

	m := in.MemoryMiB
	r.SharedBuffersMiB = m / 4
	x.line("database.sharedBuffers", mi(r.SharedBuffersMiB), "%s / 4 = %s; %s", mi(m), mi(r.SharedBuffersMiB), in.memoryNote())

	r.EffectiveCacheSizeMiB = 3 * m / 4 // m < 2^44: no overflow
	x.line("database.effectiveCacheSize", mi(r.EffectiveCacheSizeMiB), "3 x %s / 4 = %s", mi(m), mi(r.EffectiveCacheSizeMiB))

	perConn := (m - r.SharedBuffersMiB) / (int64(r.MaxConnections) * 3) // MaxConnections >= 1
	r.WorkMemMiB = max(minWorkMemMiB, perConn)
	x.line("database.workMem", mi(r.WorkMemMiB), "max(%s, (%s - %s) / (%d connections x 3)) = max(%s, %s) = %s",
		mi(minWorkMemMiB), mi(m), mi(r.SharedBuffersMiB), r.MaxConnections, mi(minWorkMemMiB), mi(perConn), mi(r.WorkMemMiB))

	r.MaintenanceWorkMemMiB = min(m/16, maxMaintenanceWorkMemMiB)
	x.line("database.maintenanceWorkMem", mi(r.MaintenanceWorkMemMiB), "min(%s / 16, %s) = min(%s, %s) = %s",
		mi(m), mi(maxMaintenanceWorkMemMiB), mi(m/16), mi(maxMaintenanceWorkMemMiB), mi(r.MaintenanceWorkMemMiB))
	return r, pooler
}
