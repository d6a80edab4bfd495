package stack

import (
	"fmt"
	"strings"

	"github.com/webstack-dev/webstack-operator/internal/resp"
)

// Redis is one redis-server of the stack.
type Redis struct {
	Process  *Process
	Password string
}

// Do runs one command on a new authenticated connection and returns the reply: a string,
// an int64, nil or a []any. A Redis error reply is returned as an error.
func (r *Redis) Do(args ...string) (any, error) {
	c, err := resp.Dial(r.Process.Addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.Do("AUTH", r.Password); err != nil {
		return nil, fmt.Errorf("AUTH: %w", err)
	}
	return c.Do(args...)
}

// Config is CONFIG GET name.
func (r *Redis) Config(name string) (string, error) {
	v, err := r.Do("CONFIG", "GET", name)
	if err != nil {
		return "", err
	}
	pair, _ := v.([]any)
	if len(pair) != 2 {
		return "", fmt.Errorf("CONFIG GET %s: %v", name, v)
	}
	s, _ := pair[1].(string)
	return s, nil
}

// Info is INFO section as key -> value.
func (r *Redis) Info(section string) (map[string]string, error) {
	v, err := r.Do("INFO", section)
	if err != nil {
		return nil, err
	}
	s, _ := v.(string)
	info := map[string]string{}
	for _, line := range strings.Split(s, "\r\n") {
		if k, val, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			info[k] = val
		}
	}
	return info, nil
}
