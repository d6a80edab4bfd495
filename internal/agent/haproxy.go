package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// HAProxy reloads a master-worker haproxy (-W -S socket) through its master CLI: the master
// re-reads its -f config and starts new workers, which take over the listening sockets from
// the old ones; the old workers finish the requests in flight. A config the master refuses
// starts no worker: the old workers keep serving and show proc counts the failed reload.
type HAProxy struct {
	// MasterSocket is the path of the master CLI socket (haproxy's -S argument).
	MasterSocket string
	// Timeout is how long a reload may take to start a new worker; default 30s.
	Timeout time.Duration
}

// Proc is the state of the master and its workers (show proc).
type Proc struct {
	// Reloads and Failed are the master's reload and failed reload counts ("N [failed: M]").
	Reloads, Failed int
	// Workers are the PIDs of the workers of the current generation (0 reloads).
	Workers []int
	// All are the PIDs of every worker, old generations (still finishing their requests,
	// or serving after a refused reload) included.
	All []int
}

// MasterCommand runs one master CLI command and returns its output.
func MasterCommand(ctx context.Context, socket, command string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return "", fmt.Errorf("connecting to haproxy's master CLI: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, command+"\n"); err != nil {
		return "", fmt.Errorf("haproxy master CLI %q: %w", command, err)
	}
	// The master answers and closes once it has read the whole request.
	_ = conn.(*net.UnixConn).CloseWrite()
	out, err := io.ReadAll(conn)
	if err != nil {
		return string(out), fmt.Errorf("haproxy master CLI %q: %w", command, err)
	}
	return string(out), nil
}

// ShowProc reads show proc.
func ShowProc(ctx context.Context, socket string) (Proc, error) {
	out, err := MasterCommand(ctx, socket, "show proc")
	if err != nil {
		return Proc{}, err
	}
	return parseShowProc(out)
}

// parseShowProc reads lines such as
//
//	1117            master          3 [failed: 1]   0d00h10m43s     2.6.12
//	10006           worker          0               0d00h00m01s     2.6.12
func parseShowProc(out string) (Proc, error) {
	var p Proc
	master := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return p, fmt.Errorf("show proc: malformed line %q", line)
		}
		switch f[1] {
		case "master":
			master = true
			p.Reloads = n
			if i := strings.Index(line, "[failed: "); i >= 0 {
				rest := line[i+len("[failed: "):]
				if j := strings.IndexByte(rest, ']'); j >= 0 {
					p.Failed, _ = strconv.Atoi(rest[:j])
				}
			}
		case "worker":
			p.All = append(p.All, pid)
			if n == 0 {
				p.Workers = append(p.Workers, pid)
			}
		}
	}
	if !master {
		return p, fmt.Errorf("show proc: no master in %q", out)
	}
	return p, nil
}

// Apply implements Applier. The master reads the config from its own -f path, the same
// mounted file the agent watches.
func (h HAProxy) Apply(ctx context.Context, _ []byte, _ string) error {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	before, err := ShowProc(ctx, h.MasterSocket)
	if err != nil {
		return err
	}
	if _, err := MasterCommand(ctx, h.MasterSocket, "reload"); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		// The master re-executes itself: its socket answers again once it has parsed the
		// config and either started new workers or given up.
		time.Sleep(200 * time.Millisecond)
		now, err := ShowProc(ctx, h.MasterSocket)
		if err == nil && now.Reloads > before.Reloads {
			if now.Failed > 0 {
				return &RefusedError{Message: fmt.Sprintf("haproxy refused the new config (%d failed reloads; the master's log has the parse errors); the old workers keep serving", now.Failed)}
			}
			if len(now.Workers) > 0 && !sameInts(now.Workers, before.Workers) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("haproxy started no new worker within %s of the reload (last: %+v, err %v)", timeout, now, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
	}
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
