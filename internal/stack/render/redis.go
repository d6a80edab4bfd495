package render

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// RedisPort is the port of the cache Redis and of the broker.
const RedisPort = 6379

// RedisDataDir is Redis' working directory, the data volume's mount point (the official
// image's /data). It must exist when Redis starts.
const RedisDataDir = "/data"

// RedisConfigPath is where the container mounts redis.conf (or broker.conf).
const RedisConfigPath = "/etc/redis/redis.conf"

// redisSnapshots are the RDB save points with persistence RDB (Redis 7's defaults).
const redisSnapshots = "3600 1 300 100 60 10000"

// brokerPolicy is the only eviction policy a task broker may have.
const brokerPolicy = "noeviction"

// redisData is redis.conf's template input.
type redisData struct {
	header
	File        string
	Role        string
	Description string
	Port        int
	Dir         string
	MaxMemory   int64
	Policy      string
	AppendOnly  bool
	Snapshots   string
	ConfigPath  string
}

// RedisConfig renders redis.conf for the cache Redis: maxmemory and its eviction policy
// from tuning, persistence None, RDB or AOF. The password is not in the file: Redis starts
// with `redis-server /etc/redis/redis.conf --requirepass "$REDIS_PASSWORD"`.
func RedisConfig(ws *v1alpha1.WebStack, t tuning.Result, o Options) (string, error) {
	if !ws.Spec.Redis.IsEnabled() {
		return "", errors.New("redis: the cache Redis is disabled")
	}
	if t.Redis == nil {
		return "", errors.New("redis: tuning.Redis is nil: pass tuning.For(ws)")
	}
	return redisConfig(ws, "cache", "the app's cache; it evicts keys when full", *t.Redis, o)
}

// BrokerConfig renders broker.conf for the task broker: always an append-only file and
// noeviction, so that no queued task is ever lost to memory pressure or a restart.
func BrokerConfig(ws *v1alpha1.WebStack, t tuning.Result, o Options) (string, error) {
	if ws.Spec.Tasks == nil {
		return "", errors.New("broker: spec.tasks is not set")
	}
	if t.Broker == nil {
		return "", errors.New("broker: tuning.Broker is nil: pass tuning.For(ws)")
	}
	if !t.Broker.AppendOnly || t.Broker.MaxMemoryPolicy != brokerPolicy {
		return "", fmt.Errorf("broker: tuning.Broker must have the append-only file on and policy %s, has appendOnly=%t policy %q", brokerPolicy, t.Broker.AppendOnly, t.Broker.MaxMemoryPolicy)
	}
	return redisConfig(ws, "broker", "the task queue; it never evicts and keeps an append-only file", *t.Broker, o)
}

func redisConfig(ws *v1alpha1.WebStack, role, description string, r tuning.RedisResult, o Options) (string, error) {
	o = o.withDefaults()
	if r.MaxMemoryMiB < 1 {
		return "", fmt.Errorf("%s: maxmemory of %d MiB: pass tuning.For(ws)", role, r.MaxMemoryMiB)
	}
	if r.MaxMemoryPolicy == "" || strings.ContainsAny(r.MaxMemoryPolicy, " \t\r\n\"") {
		return "", fmt.Errorf("%s: invalid maxmemory-policy %q", role, r.MaxMemoryPolicy)
	}
	dir := o.RedisDir
	if role == "broker" {
		dir = o.BrokerDir
	}
	if dir == "" || strings.ContainsAny(dir, "\x00\r\n") {
		return "", fmt.Errorf("%s: invalid directory %q", role, dir)
	}
	if r.AppendOnly && r.Snapshots {
		return "", fmt.Errorf("%s: both the append-only file and snapshots are on", role)
	}
	data := redisData{
		header:      headerOf(ws),
		File:        FileRedis,
		Role:        role,
		Description: description,
		Port:        RedisPort,
		Dir:         redisQuote(dir),
		MaxMemory:   r.MaxMemoryMiB,
		Policy:      r.MaxMemoryPolicy,
		AppendOnly:  r.AppendOnly,
		ConfigPath:  RedisConfigPath,
	}
	if r.Snapshots {
		data.Snapshots = redisSnapshots
	}
	if role == "broker" {
		data.File = FileBroker
	}
	return execute(FileRedis, data)
}

// redisQuote quotes s as a redis.conf argument: double quotes, with backslashes and double
// quotes escaped.
func redisQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// RedisInPlace are the redis.conf directives a running Redis takes with CONFIG SET, which
// the in-pod agent applies; every other line is startup-only: a change of one restarts Redis.
var RedisInPlace = []string{"maxmemory", "maxmemory-policy"}

// RedisSettings are the in-place directives of conf (RedisInPlace) with their values, in
// RedisInPlace order; a directive conf does not set is left out.
func RedisSettings(conf string) [][2]string {
	var out [][2]string
	for _, d := range RedisInPlace {
		for _, line := range strings.Split(conf, "\n") {
			if f := strings.Fields(line); len(f) == 2 && strings.EqualFold(f[0], d) {
				out = append(out, [2]string{d, f[1]})
			}
		}
	}
	return out
}

// RedisStartupOnly is conf without the lines of its in-place directives: what the hash on
// the pod template covers.
func RedisStartupOnly(conf string) string {
	lines := strings.Split(conf, "\n")
	out := lines[:0:0]
	for _, line := range lines {
		if f := strings.Fields(line); len(f) > 0 && slices.ContainsFunc(RedisInPlace, func(d string) bool { return strings.EqualFold(f[0], d) }) {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
