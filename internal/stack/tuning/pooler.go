package tuning

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

const (
	// serverPoolPerCore and serverPoolConstant size the transaction-mode server pool of all
	// pooler pods together from the database's CPU: 2 x cores + 4. A PostgreSQL backend is
	// either on a CPU or waiting for I/O; twice the cores keep every core busy while half
	// the backends wait, the constant covers I/O waits on a small database. More
	// connections than that only queue inside PostgreSQL (lock and snapshot contention)
	// instead of in PgBouncer, where waiting is cheap.
	serverPoolPerCore  = 2
	serverPoolConstant = 4
	// reservePoolDivisor: reserve_pool_size is a quarter of the pool (at least 1), for
	// bursts in transaction mode and uneven spreading of clients in session mode.
	reservePoolDivisor = 4
	// clientHeadroom: max_client_conn per pooler pod is twice every app and task process
	// (each may land on any pooler pod, as when the others restart), at least
	// minMaxClientConn.
	clientHeadroom   = 2
	minMaxClientConn = 100
	// surgePercent is the pooler Deployment's maxSurge: during a rollout, ceil(replicas x
	// 25%) extra pods hold server connections too.
	surgePercent = 25
)

// PoolerResult is PgBouncer's sizing (with database.pooling.mode Transaction or Session).
type PoolerResult struct {
	Inputs Inputs
	// Resources are the container's resources as the pods get them (ContainerResources).
	Resources corev1.ResourceRequirements
	// Mode is Transaction or Session.
	Mode v1alpha1.PoolingMode
	// Replicas is the number of pooler pods; Surge the extra pods of a rollout.
	Replicas, Surge int32
	// PoolSize is default_pool_size, ReservePoolSize reserve_pool_size, per pooler pod.
	PoolSize, ReservePoolSize int32
	// MaxClientConnections is max_client_conn per pooler pod.
	MaxClientConnections int32
	// ClientBudget is every app and task process that may connect (the budget without the
	// pooler).
	ClientBudget int32
	// ServerConnections is every PostgreSQL connection the pooler pods can open, a rollout's
	// extra pods included: (Replicas + Surge) x (PoolSize + ReservePoolSize).
	ServerConnections int32
}

// pooler derives PgBouncer's sizing from the database's CPU (dbMilliCPU) and the client
// processes:
//
//	clientBudget     = app.maxPods x workersPerPod x threadsPerWorker + tasks.pods x concurrency + beat
//	replicas         = pooling.replicas if set, else 2 when app.maxPods >= 2, else 1
//	poolSize         = Transaction: ceil((2 x ceil(database cores) + 4) / replicas)
//	                   Session:     ceil(clientBudget / replicas) (a server connection per client)
//	reservePoolSize  = max(1, ceil(poolSize / 4))
//	maxClientConn    = max(100, 2 x clientBudget) per pod
//	serverConnections = (replicas + ceil(replicas x 25%)) x (poolSize + reservePoolSize)
func (x *explainer) pooler(p *v1alpha1.PoolingSpec, dbMilliCPU int64, app AppResult, tasks *TasksResult) PoolerResult {
	in := x.inputs(Pooler, p.Resources)
	r := PoolerResult{Inputs: in.Inputs, Resources: in.resources, Mode: p.PoolingModeOrDefault()}

	clients, clientExpr := processBudget(app, tasks)
	r.ClientBudget = clamp32(clients)

	switch {
	case p.Replicas != nil && *p.Replicas > 0:
		r.Replicas = *p.Replicas
		x.line("pooler.replicas", itoa(r.Replicas), "database.pooling.replicas = %d (explicit)", r.Replicas)
	case app.MaxPods >= 2:
		r.Replicas = 2
		x.line("pooler.replicas", "2", "app.maxPods %d >= 2: 2 pooler pods (one can restart while the other serves)", app.MaxPods)
	default:
		r.Replicas = 1
		x.line("pooler.replicas", "1", "app.maxPods %d < 2: 1 pooler pod", app.MaxPods)
	}
	replicas := int64(r.Replicas)

	var pool int64
	if r.Mode == v1alpha1.PoolingSession {
		pool = max(1, ceilDiv(clients, replicas))
		x.line("pooler.poolSize", itoa(clamp32(pool)), "Session mode holds a server connection per client: ceil(client budget %d / %d replicas) = %d; client budget: %s",
			clients, replicas, pool, clientExpr)
	} else {
		dbCores := max(1, ceilDiv(dbMilliCPU, 1000))
		total := serverPoolPerCore*dbCores + serverPoolConstant
		pool = ceilDiv(total, replicas)
		x.line("pooler.poolSize", itoa(clamp32(pool)), "ceil((%d x %d database cores + %d) / %d replicas) = ceil(%d / %d) = %d server connections per pooler pod (database cpu %s rounded up)",
			serverPoolPerCore, dbCores, serverPoolConstant, replicas, total, replicas, pool, cores(dbMilliCPU))
	}
	r.PoolSize = clamp32(pool)

	reserve := max(1, ceilDiv(pool, reservePoolDivisor))
	r.ReservePoolSize = clamp32(reserve)
	x.line("pooler.reservePoolSize", itoa(r.ReservePoolSize), "max(1, ceil(%d / %d)) = %d, for clients that waited 1s", pool, reservePoolDivisor, reserve)

	maxClient := max(minMaxClientConn, satMul(clientHeadroom, clients))
	r.MaxClientConnections = clamp32(maxClient)
	x.line("pooler.maxClientConnections", itoa(r.MaxClientConnections), "max(%d, %d x client budget %d) = %d per pooler pod (every client may land on one pod); client budget: %s",
		minMaxClientConn, clientHeadroom, clients, maxClient, clientExpr)

	surge := ceilDiv(satMul(replicas, surgePercent), 100)
	r.Surge = clamp32(surge)
	servers := satMul(satAdd(replicas, surge), satAdd(pool, reserve))
	r.ServerConnections = clamp32(servers)
	return r
}

// processBudget is every app and task process that may open a database connection, with
// its formula: app.maxPods x workers x threads + tasks.pods x concurrency + beat.
func processBudget(app AppResult, tasks *TasksResult) (int64, string) {
	budget := satMul(satMul(int64(app.MaxPods), int64(app.WorkersPerPod)), int64(app.ThreadsPerWorker))
	expr := fmt.Sprintf("app %d pods x %d workers x %d threads", app.MaxPods, app.WorkersPerPod, app.ThreadsPerWorker)
	if tasks != nil {
		budget = satAdd(budget, satMul(int64(tasks.Pods), int64(tasks.Concurrency)))
		budget = satAdd(budget, int64(tasks.Beat))
		expr += fmt.Sprintf(" + tasks %d pods x concurrency %d + beat %d", tasks.Pods, tasks.Concurrency, tasks.Beat)
	}
	return budget, expr
}
