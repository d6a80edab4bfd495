package render

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

// TestRedisConfig checks redis.conf and broker.conf of every spec against tuning.
func TestRedisConfig(t *testing.T) {
	for _, name := range specNames() {
		t.Run(name, func(t *testing.T) {
			ws := loadSpec(t, name)
			res := tuning.For(ws)
			files := renderSpec(t, name, "dns", Options{})
			check := func(file string, r *tuning.RedisResult) {
				conf, ok := files[file]
				if !ok {
					t.Fatalf("no %s", file)
				}
				want := []string{
					fmt.Sprintf("maxmemory %dmb", r.MaxMemoryMiB),
					"maxmemory-policy " + r.MaxMemoryPolicy,
					`dir "/data"`, "port 6379", "bind * -::*",
				}
				switch {
				case r.AppendOnly:
					want = append(want, `save ""`, "appendonly yes", "appendfsync everysec")
				case r.Snapshots:
					want = append(want, "save 3600 1 300 100 60 10000", "appendonly no")
				default:
					want = append(want, `save ""`, "appendonly no")
				}
				got := lines(conf)
				for _, w := range want {
					if !containsLine(got, w) {
						t.Errorf("%s has no line %q", file, w)
					}
				}
			}
			if ws.Spec.Redis.IsEnabled() {
				check(FileRedis, res.Redis)
			} else if _, ok := files[FileRedis]; ok {
				t.Errorf("redis disabled, yet %s is rendered", FileRedis)
			}
			if ws.Spec.Tasks != nil {
				check(FileBroker, res.Broker)
				if !strings.Contains(files[FileBroker], "maxmemory-policy noeviction\n") || !strings.Contains(files[FileBroker], "appendonly yes\n") {
					t.Error("the broker must never evict and must keep an append-only file")
				}
			}
		})
	}
}

// TestRedisPersistenceFromSpec pins the persistence modes to the spec, literally.
func TestRedisPersistenceFromSpec(t *testing.T) {
	tests := map[string][]string{
		"defaults":  {`save ""`, "appendonly no", "maxmemory-policy allkeys-lru"},
		"redis-rdb": {"save 3600 1 300 100 60 10000", "appendonly no", "maxmemory-policy allkeys-lfu"},
		"redis-aof": {`save ""`, "appendonly yes", "appendfsync everysec", "maxmemory-policy volatile-ttl"},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			got := lines(renderSpec(t, name, "dns", Options{})[FileRedis])
			for _, w := range want {
				if !containsLine(got, w) {
					t.Errorf("redis.conf has no line %q", w)
				}
			}
		})
	}
}

func containsLine(lines []string, line string) bool {
	for _, l := range lines {
		if l == line {
			return true
		}
	}
	return false
}

// TestRedisServerRunsTheConfig starts a real redis-server with every spec's redis.conf and
// broker.conf (password on the command line, as the pod does) and checks through CONFIG GET
// what it runs with, that it refuses commands without the password, and where it persists.
func TestRedisServerRunsTheConfig(t *testing.T) {
	server := daemon(t, "redis-server", "/usr/bin/redis-server")
	for _, name := range specNames() {
		ws := loadSpec(t, name)
		res := tuning.For(ws)
		type instance struct {
			file   string
			result *tuning.RedisResult
		}
		var instances []instance
		if ws.Spec.Redis.IsEnabled() {
			instances = append(instances, instance{FileRedis, res.Redis})
		}
		if ws.Spec.Tasks != nil {
			instances = append(instances, instance{FileBroker, res.Broker})
		}
		for _, in := range instances {
			t.Run(name+"-"+in.file, func(t *testing.T) {
				dir := t.TempDir()
				configs, err := Render(ws, res, dnsDiscovery(), Options{RedisDir: dir, BrokerDir: dir})
				if err != nil {
					t.Fatal(err)
				}
				conf := writeFile(t, t.TempDir(), in.file, configs.Files()[in.file])
				const password = "pw-with spaces'\"$"
				port := freePort(t)
				p := start(t, "redis-server", syscall.SIGTERM, exec.Command(server, conf,
					"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--requirepass", password))
				ctx := t.Context()
				client := redis.NewClient(&redis.Options{Addr: loopback(port)})
				defer client.Close()
				// Up once it answers at all: without the password, that answer is NOAUTH.
				waitFor(t, p, 10*time.Second, "redis-server", func() error {
					if err := client.Ping(ctx).Err(); err != nil && !redis.IsAuthError(err) {
						return err
					}
					return nil
				})
				// One connection, so that AUTH holds for the commands after it.
				c := client.Conn()
				defer c.Close()

				if err := c.Get(ctx, "k").Err(); !redis.HasErrorPrefix(err, "NOAUTH") {
					t.Fatalf("GET without AUTH: %v, want NOAUTH", err)
				}
				if err := c.Auth(ctx, "wrong").Err(); err == nil {
					t.Fatal("AUTH with a wrong password succeeded")
				}
				if err := c.Auth(ctx, password).Err(); err != nil {
					t.Fatalf("AUTH: %v", err)
				}
				want := map[string]string{
					"maxmemory":        strconv.FormatInt(in.result.MaxMemoryMiB*1024*1024, 10),
					"maxmemory-policy": in.result.MaxMemoryPolicy,
					"appendonly":       "no",
					"save":             "",
					"dir":              dir,
				}
				if in.result.AppendOnly {
					want["appendonly"], want["appendfsync"] = "yes", "everysec"
				}
				if in.result.Snapshots {
					want["save"] = "3600 1 300 100 60 10000"
				}
				for key, w := range want {
					v, err := c.ConfigGet(ctx, key).Result()
					if err != nil {
						t.Fatalf("CONFIG GET %s: %v", key, err)
					}
					if got, ok := v[key]; len(v) != 1 || !ok || got != w {
						t.Errorf("CONFIG GET %s = %v, want %q", key, v, w)
					}
				}

				// Persistence: the append-only file appears with AOF; SAVE writes the RDB file.
				if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
					t.Fatal(err)
				}
				_, aofErr := os.Stat(filepath.Join(dir, "appendonlydir"))
				if (aofErr == nil) != in.result.AppendOnly {
					t.Errorf("appendonlydir in the data dir: %v, append-only file on: %t", aofErr, in.result.AppendOnly)
				}
				if in.result.Snapshots {
					if err := c.Save(ctx).Err(); err != nil {
						t.Fatal(err)
					}
					if _, err := os.Stat(filepath.Join(dir, "dump.rdb")); err != nil {
						t.Errorf("SAVE wrote no dump.rdb into the data dir: %v", err)
					}
				}
			})
		}
	}
}

// TestRedisInPlace checks the split of redis.conf into what CONFIG SET applies and what
// rolls the pod.
func TestRedisInPlace(t *testing.T) {
	ws := loadSpec(t, "defaults")
	res := tuning.For(ws)
	conf, err := RedisConfig(ws, res, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"maxmemory", fmt.Sprintf("%dmb", res.Redis.MaxMemoryMiB)}, {"maxmemory-policy", res.Redis.MaxMemoryPolicy}}
	if got := RedisSettings(conf); !slices.Equal(got, want) {
		t.Errorf("RedisSettings = %q, want %q", got, want)
	}
	startup := RedisStartupOnly(conf)
	for _, d := range RedisInPlace {
		if strings.Contains(startup, "\n"+d+" ") {
			t.Errorf("RedisStartupOnly keeps %s:\n%s", d, startup)
		}
	}
	for _, keep := range []string{"appendonly no", "save \"\"", "lazyfree-lazy-eviction yes", "port 6379"} {
		if !strings.Contains(startup, keep) {
			t.Errorf("RedisStartupOnly drops %q:\n%s", keep, startup)
		}
	}
}
