package recordstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// migration is one numbered step of the schema, written once for both
// dialects: {{id}}, {{text}}, {{blob}} and {{bigint}} become each one's
// types.
type migration struct {
	version int
	name    string
	stmts   []string
}

// migrations are applied in order, each in its own transaction together
// with its row in schema_migrations. Append only: never change one that has
// shipped.
var migrations = []migration{
	{1, "records", []string{
		// Time is unix nanoseconds: compact, compares as an integer, and
		// the same in both dialects. "user" is reserved in PostgreSQL.
		`CREATE TABLE records (
  id {{id}},
  kind {{text}} NOT NULL,
  ts {{bigint}} NOT NULL,
  tenant {{text}} NOT NULL DEFAULT '',
  user_name {{text}} NOT NULL DEFAULT '',
  cluster {{text}} NOT NULL DEFAULT '',
  namespace {{text}} NOT NULL DEFAULT '',
  project {{text}} NOT NULL DEFAULT '',
  resource {{text}} NOT NULL DEFAULT '',
  name {{text}} NOT NULL DEFAULT '',
  verb {{text}} NOT NULL DEFAULT '',
  code INTEGER NOT NULL DEFAULT 0,
  uid {{text}} NOT NULL DEFAULT '',
  data {{blob}}
)`,
		// Every index ends in (ts, id), the order of pages, so that a page
		// is one index range read newest first and stops after Limit rows.
		// All tenants' newest page, time ranges, and retention.
		`CREATE INDEX records_kind_ts ON records (kind, ts, id)`,
		// A tenant's newest page, and the base for filters that have no
		// index of their own (they are checked row by row along it).
		`CREATE INDEX records_tenant_ts ON records (kind, tenant, ts, id)`,
		// By user. Without tenant: a user belongs to one tenant, so the
		// index serves queries of all tenants too and a given tenant is
		// a cheap check on the few rows it reads.
		`CREATE INDEX records_user_ts ON records (kind, user_name, ts, id)`,
		// By cluster and namespace; a cluster too belongs to one tenant.
		`CREATE INDEX records_cluster_ts ON records (kind, cluster, namespace, ts, id)`,
		// By resource and verb within a tenant.
		`CREATE INDEX records_resource_ts ON records (kind, tenant, resource, verb, ts, id)`,
		// A UID is unique per kind; Append's upsert targets this index.
		`CREATE UNIQUE INDEX records_uid ON records (kind, uid) WHERE uid <> ''`,
	}},
	{2, "notify state", []string{
		// The alert dispatcher's notification log, shared by replicas: one
		// row per (group key, receiver), an Alertmanager nflog MeshEntry.
		// Times are unix nanoseconds.
		`CREATE TABLE notify_log (
  k {{text}} PRIMARY KEY,
  entry {{blob}} NOT NULL,
  ts {{bigint}} NOT NULL,
  expires {{bigint}} NOT NULL
)`,
		// The outbox: messages to deliver, one row per dedup key (so two
		// dispatchers enqueueing the same notification insert it once),
		// leased by the delivery workers.
		`CREATE TABLE notify_outbox (
  id {{id}},
  dedup_key {{text}} NOT NULL UNIQUE,
  channel {{text}} NOT NULL,
  payload {{blob}} NOT NULL,
  status {{text}} NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error {{text}} NOT NULL DEFAULT '',
  code INTEGER NOT NULL DEFAULT 0,
  next_at {{bigint}} NOT NULL,
  lease_owner {{text}} NOT NULL DEFAULT '',
  lease_until {{bigint}} NOT NULL DEFAULT 0,
  created {{bigint}} NOT NULL,
  updated {{bigint}} NOT NULL
)`,
		`CREATE INDEX notify_outbox_due ON notify_outbox (status, channel, next_at)`,
		`CREATE INDEX notify_outbox_updated ON notify_outbox (status, updated)`,
		`CREATE INDEX notify_log_expires ON notify_log (expires)`,
	}},
}

// migrate brings the schema up to the newest migration. It is idempotent
// and safe when several processes open the same database at once.
func migrate(ctx context.Context, db *sql.DB, d dialect, log *slog.Logger) error {
	for _, m := range migrations {
		if err := applyMigration(ctx, db, d, m, log); err != nil {
			return fmt.Errorf("recordstore: migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, d dialect, m migration, log *slog.Logger) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if d.lockMigrations != "" {
		if _, err := tx.ExecContext(ctx, d.lockMigrations); err != nil {
			return err
		}
	}
	// Under the lock too: two PostgreSQL sessions creating the same table
	// at once can both fail, IF NOT EXISTS notwithstanding.
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`); err != nil {
		return err
	}
	// Checked under the lock: another process may have applied it since.
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = $1", m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, st := range m.stmts {
		for k, v := range d.types {
			st = strings.ReplaceAll(st, "{{"+k+"}}", v)
		}
		if _, err := tx.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("%w\nin: %s", err, st)
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
		m.version, m.name, time.Now().Unix()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	log.Info("applied record store migration", "dialect", d.name, "version", m.version, "name", m.name)
	return nil
}
