package stack

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Redis is one redis-server of the stack.
type Redis struct {
	Process  *Process
	Password string
}

// Do runs one command on a new authenticated connection and returns the reply: a string,
// an int64, nil or a []any. A Redis error reply is returned as an error.
func (r *Redis) Do(args ...string) (any, error) {
	conn, err := net.DialTimeout("tcp", r.Process.Addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	c := &resp{conn: conn, r: bufio.NewReader(conn)}
	if _, err := c.do("AUTH", r.Password); err != nil {
		return nil, fmt.Errorf("AUTH: %w", err)
	}
	return c.do(args...)
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

// resp is a minimal RESP2 client.
type resp struct {
	conn net.Conn
	r    *bufio.Reader
}

func (c *resp) do(args ...string) (any, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.conn.Write([]byte(b.String())); err != nil {
		return nil, err
	}
	return c.read()
}

func (c *resp) read() (any, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty RESP reply")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, errors.New(line[1:])
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = c.read(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected RESP reply %q", line)
}
