package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webstack-dev/webstack-operator/internal/stack/render"
)

// Redis applies the in-place directives of redis.conf (render.RedisInPlace: maxmemory and
// maxmemory-policy) to the running Redis with CONFIG SET. The other directives are
// startup-only: their hash is on the pod template, so a change of one rolls the pod.
type Redis struct {
	// Addr is Redis' address (its own pod: 127.0.0.1:6379); Password its requirepass.
	Addr, Password string
}

// Apply implements Applier.
func (r Redis) Apply(ctx context.Context, content []byte, _ string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password, MaxRetries: -1})
	defer c.Close()
	var refused []string
	for _, kv := range render.RedisSettings(string(content)) {
		err := c.ConfigSet(ctx, kv[0], kv[1]).Err()
		var rerr redis.Error
		switch {
		case err == nil:
		case errors.As(err, &rerr) && !strings.HasPrefix(rerr.Error(), "NOAUTH") && !strings.HasPrefix(rerr.Error(), "WRONGPASS"):
			refused = append(refused, fmt.Sprintf("CONFIG SET %s %s: %v", kv[0], kv[1], err))
		default:
			return fmt.Errorf("CONFIG SET %s: %w", kv[0], err)
		}
	}
	if len(refused) > 0 {
		return &RefusedError{Message: strings.Join(refused, "; ")}
	}
	return nil
}
