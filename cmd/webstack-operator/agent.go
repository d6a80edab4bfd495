package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/webstack-dev/webstack-operator/internal/agent"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
)

const agentUsage = `Usage:
  webstack-operator agent varnish --config FILE --admin ADDR --secret FILE [common flags]
  webstack-operator agent haproxy --config FILE --master-socket PATH [common flags]
  webstack-operator agent redis   --config FILE --addr ADDR [common flags]  (password from $REDIS_PASSWORD)
  webstack-operator agent postgres --config FILE --socket DIR [--port N] [common flags]
  webstack-operator agent secret FILE      write a new varnishd -S secret unless FILE exists

The agent runs beside the daemon in its pod, watches the mounted config and applies every
change in place; a config the daemon refuses is reported (log, --status-file, GET /status on
--listen) while the daemon keeps its last good config.
`

// runAgent runs `agent KIND [flags]` until SIGTERM or SIGINT.
func runAgent(args []string, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, agentUsage)
		return errors.New("agent: name the daemon: varnish, haproxy, redis, postgres or secret")
	}
	kind, rest := args[0], args[1:]
	if kind == "secret" {
		if len(rest) != 1 {
			return errors.New("agent secret: want one FILE")
		}
		return agent.WriteSecret(rest[0])
	}
	fs := flag.NewFlagSet("agent "+kind, flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := agent.Options{Component: kind}
	fs.StringVar(&o.File, "config", "", "the mounted config file to watch")
	fs.DurationVar(&o.Interval, "interval", 2*time.Second, "how often the config file is read")
	fs.StringVar(&o.StatusFile, "status-file", "", "file the agent rewrites with its status (JSON) after every apply or refusal")
	fs.StringVar(&o.Listen, "listen", "", "address of GET /status and GET /healthz; empty disables them")
	admin := fs.String("admin", "127.0.0.1:6082", "varnish: varnishd's -T address")
	secret := fs.String("secret", "", "varnish: varnishd's -S secret file")
	master := fs.String("master-socket", "", "haproxy: the master CLI socket (haproxy -W -S PATH)")
	addr := fs.String("addr", "127.0.0.1:6379", "redis: Redis' address")
	socket := fs.String("socket", "/var/run/postgresql", "postgres: the directory of the server's Unix socket (the superuser connects through it)")
	port := fs.Int("port", 5432, "postgres: the server's port (part of the socket's name)")
	fs.Usage = func() { fmt.Fprint(stderr, agentUsage); fs.PrintDefaults() }
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if o.File == "" {
		return errors.New("--config is required")
	}
	var a agent.Applier
	switch kind {
	case "varnish":
		if *secret == "" {
			return errors.New("--secret is required")
		}
		a = agent.Varnish{Admin: *admin, Secret: *secret}
	case "haproxy":
		if *master == "" {
			return errors.New("--master-socket is required")
		}
		a = agent.HAProxy{MasterSocket: *master}
	case "redis":
		a = agent.Redis{Addr: *addr, Password: os.Getenv("REDIS_PASSWORD")}
	case "postgres":
		a = agent.Postgres{Conn: fmt.Sprintf("host=%s port=%d user=%s dbname=postgres connect_timeout=5", *socket, *port, render.PostgresSuperuser)}
	default:
		return fmt.Errorf("agent: unknown daemon %q (varnish, haproxy, redis, postgres or secret)", kind)
	}
	o.Log = slog.New(slog.NewJSONHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return agent.Run(ctx, o, a)
}
