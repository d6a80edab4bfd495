package agent

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Status codes of varnishd's CLI (varnish-cli(7), include/vcli.h).
const (
	cliOK      = 200
	cliAuth    = 107
	cliParam   = 106 // the command's argument is wrong: for vcl.inline, the VCL does not compile
	cliCantUse = 300
)

// VarnishCLI is a connection to varnishd's admin CLI (its -T address), authenticated with
// the secret file of its -S argument.
type VarnishCLI struct {
	conn net.Conn
	r    *bufio.Reader
}

// DialVarnish connects to addr and authenticates with the contents of secretFile.
func DialVarnish(ctx context.Context, addr, secretFile string) (*VarnishCLI, error) {
	secret, err := os.ReadFile(secretFile)
	if err != nil {
		return nil, fmt.Errorf("reading the varnishd secret: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to varnishd's CLI: %w", err)
	}
	c := &VarnishCLI{conn: conn, r: bufio.NewReader(conn)}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	status, body, err := c.read()
	if err != nil {
		conn.Close()
		return nil, err
	}
	if status == cliAuth {
		// The challenge is the first line of the body; the answer is
		// sha256(challenge "\n" secret challenge "\n") in hex.
		challenge, _, _ := strings.Cut(body, "\n")
		h := sha256.New()
		io.WriteString(h, challenge+"\n")
		h.Write(secret)
		io.WriteString(h, challenge+"\n")
		if status, body, err = c.Do("auth " + hex.EncodeToString(h.Sum(nil))); err != nil {
			conn.Close()
			return nil, err
		}
	}
	if status != cliOK {
		conn.Close()
		return nil, fmt.Errorf("varnishd's CLI: authentication: %d %s", status, strings.TrimSpace(body))
	}
	return c, nil
}

// Close closes the connection.
func (c *VarnishCLI) Close() error { return c.conn.Close() }

// Do sends one command line and returns the response's status and body.
func (c *VarnishCLI) Do(line string) (int, string, error) {
	if _, err := io.WriteString(c.conn, line+"\n"); err != nil {
		return 0, "", fmt.Errorf("varnishd's CLI: %w", err)
	}
	return c.read()
}

// read reads one response: "SSS LLLLLLLL\n", L bytes of body, "\n".
func (c *VarnishCLI) read() (int, string, error) {
	head, err := c.r.ReadString('\n')
	if err != nil {
		return 0, "", fmt.Errorf("varnishd's CLI: reading a response: %w", err)
	}
	f := strings.Fields(head)
	if len(f) != 2 {
		return 0, "", fmt.Errorf("varnishd's CLI: malformed response header %q", head)
	}
	status, err1 := strconv.Atoi(f[0])
	n, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || n < 0 || n > 16<<20 {
		return 0, "", fmt.Errorf("varnishd's CLI: malformed response header %q", head)
	}
	body := make([]byte, n+1)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return 0, "", fmt.Errorf("varnishd's CLI: reading a response: %w", err)
	}
	return status, string(body[:n]), nil
}

// VCL is one line of vcl.list.
type VCL struct {
	Name string
	// State is "active", "available" or "discarded".
	State string
}

// VCLs lists the loaded VCLs (vcl.list).
func (c *VarnishCLI) VCLs() ([]VCL, error) {
	status, body, err := c.Do("vcl.list")
	if err != nil {
		return nil, err
	}
	if status != cliOK {
		return nil, fmt.Errorf("vcl.list: %d %s", status, strings.TrimSpace(body))
	}
	return parseVCLList(body), nil
}

// parseVCLList reads vcl.list's lines, e.g.
//
//	active   auto    warm         0    boot
//	available   auto/warm          0 w0123456789abcdef
//
// The name follows the busy count; labels add "-> target" after it.
func parseVCLList(body string) []VCL {
	var out []VCL
	for _, line := range strings.Split(body, "\n") {
		f := strings.Fields(line)
		for i := 1; i+1 < len(f); i++ {
			if _, err := strconv.Atoi(f[i]); err == nil {
				out = append(out, VCL{State: f[0], Name: f[i+1]})
				break
			}
		}
	}
	return out
}

// Varnish applies default.vcl to a running varnishd: vcl.inline under a name derived from
// its hash, vcl.use, then vcl.discard of all but the active VCL and the one it replaced. The
// cache, which belongs to the process and not to a VCL, survives. A VCL the compiler refuses
// is never used.
type Varnish struct {
	// Admin is varnishd's -T address; Secret its -S file.
	Admin, Secret string
}

// VCLName is the name a version of default.vcl is loaded under.
func VCLName(hash string) string { return "webstack_" + hash }

// Apply implements Applier.
func (v Varnish) Apply(ctx context.Context, content []byte, hash string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c, err := DialVarnish(ctx, v.Admin, v.Secret)
	if err != nil {
		return err
	}
	defer c.Close()
	vcls, err := c.VCLs()
	if err != nil {
		return err
	}
	name := VCLName(hash)
	var previous string
	loaded := false
	for _, l := range vcls {
		if l.State == "active" {
			previous = l.Name
		}
		if l.Name == name {
			loaded = true
		}
	}
	if previous == name {
		return nil
	}
	if !loaded {
		token := "WEBSTACK_EOF_" + randomToken()
		if strings.Contains(string(content), token) {
			return errors.New("the VCL contains the here-document token")
		}
		status, body, err := c.Do("vcl.inline " + name + " << " + token + "\n" + strings.TrimRight(string(content), "\n") + "\n" + token)
		if err != nil {
			return err
		}
		switch {
		case status == cliParam || status == cliCantUse:
			return &RefusedError{Message: strings.TrimSpace(body)}
		case status != cliOK:
			return fmt.Errorf("vcl.inline: %d %s", status, strings.TrimSpace(body))
		}
	}
	if status, body, err := c.Do("vcl.use " + name); err != nil {
		return err
	} else if status != cliOK {
		// Not used: discard it so that a refused VCL does not stay loaded.
		_, _, _ = c.Do("vcl.discard " + name)
		return &RefusedError{Message: "vcl.use: " + strings.TrimSpace(body)}
	}
	// Keep the active VCL and the one it replaced (a fast way back); discard the rest.
	if vcls, err = c.VCLs(); err != nil {
		return err
	}
	for _, l := range vcls {
		if l.State == "active" || l.Name == previous || l.State == "discarded" {
			continue
		}
		if status, body, err := c.Do("vcl.discard " + l.Name); err != nil {
			return err
		} else if status != cliOK {
			return fmt.Errorf("vcl.discard %s: %d %s", l.Name, status, strings.TrimSpace(body))
		}
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// WriteSecret writes a new random varnishd -S secret to path (mode 0600) unless one is
// there already: the init step of the Varnish pod.
func WriteSecret(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600)
}
