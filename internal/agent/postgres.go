package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres reloads PostgreSQL's postgresql.conf with pg_reload_conf(), connected as the
// superuser through the pod's Unix socket (pg_hba.conf trusts only that). A file the server
// cannot parse (pg_file_settings shows its errors) is refused before any reload. Parameters
// that take a restart (pg_settings.pending_restart after the reload) are reported; the hash
// of those is on the pod template, so the operator rolls the pod for them.
type Postgres struct {
	// Conn is the connection string, e.g. "host=/var/run/postgresql user=postgres
	// dbname=postgres".
	Conn string
}

// Apply implements Applier.
func (p Postgres) Apply(ctx context.Context, _ []byte, _ string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, p.Conn)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer c.Close(context.Background())
	// pg_file_settings parses the configuration files as they are now.
	rows, err := c.Query(ctx, `SELECT coalesce(sourcefile, '') || ':' || coalesce(sourceline, 0) || ': ' ||
		coalesce(name || ': ', '') || error FROM pg_file_settings WHERE error IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("reading pg_file_settings: %w", err)
	}
	errs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("reading pg_file_settings: %w", err)
	}
	// "setting could not be applied" is a postmaster parameter whose new value waits for a
	// restart: not a refusal.
	var refused []string
	for _, e := range errs {
		if !strings.HasSuffix(e, "setting could not be applied") {
			refused = append(refused, e)
		}
	}
	if len(refused) > 0 {
		return &RefusedError{Message: strings.Join(refused, "; ")}
	}
	var before time.Time
	if err := c.QueryRow(ctx, "SELECT pg_conf_load_time()").Scan(&before); err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("pg_reload_conf(): %w", err)
	}
	// The postmaster reloads asynchronously; a new session sees the new load time once its
	// backend has reloaded too.
	for {
		var now time.Time
		if err := c.QueryRow(ctx, "SELECT pg_conf_load_time()").Scan(&now); err != nil {
			return err
		}
		if now.After(before) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("PostgreSQL did not reload its configuration: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// PendingRestart implements Pending: the parameters whose new value waits for a restart.
func (p Postgres) PendingRestart(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, p.Conn)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer c.Close(context.Background())
	// A setting from the command line overrides the file: a restart would not change it.
	rows, err := c.Query(ctx, "SELECT name FROM pg_settings WHERE pending_restart AND source <> 'command line' ORDER BY name")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
