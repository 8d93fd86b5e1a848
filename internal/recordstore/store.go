// Package recordstore keeps audit events, Kubernetes events, alarms and
// notifications in SQL: SQLite (pure Go, one file) for a single platform
// process, PostgreSQL for larger or replicated installations. Both share
// one schema, one set of queries and one list of migrations; the dialects
// differ only where SQL does (placeholders, column types, bulk paths).
package recordstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrBadQuery is wrapped by every error that Search returns for a query it
// refuses (as opposed to a store that fails).
var ErrBadQuery = errors.New("bad query")

// Store keeps records and finds them again.
type Store interface {
	Appender
	// Search returns one page of the records that match q, newest first.
	Search(ctx context.Context, q Query) (Page, error)
	// Prune deletes what r says no longer to keep and returns how many
	// records it deleted.
	Prune(ctx context.Context, r Retention) (int64, error)
	Close() error
	// Dialect is "sqlite" or "postgres".
	Dialect() string
}

// BulkLoader is implemented by both stores: the fastest way to fill a store
// (imports, benchmarks). Records are inserted as they come, without the UID
// replacement Append does: a UID already stored is an error.
type BulkLoader interface {
	// Load inserts the records next returns until it returns false.
	Load(ctx context.Context, next func() (Record, bool)) (int64, error)
}

// Query selects records. Kind is required; every other field left at its
// zero value does not filter.
type Query struct {
	Kind string
	// Tenant nil means every tenant; set, exactly that tenant ("" included).
	Tenant *string
	// From (inclusive) and To (exclusive) bound Time; zero means unbounded.
	From, To time.Time
	// Exact matches.
	User, Cluster, Resource, Verb, Name string
	// Namespaces and Projects match any of their values; an empty non-nil
	// slice matches nothing (the caller may see no namespace at all).
	Namespaces []string
	Projects   []string
	// Code matches exactly; Result is "success" (code < 400) or "failure"
	// (code >= 400).
	Code   int
	Result string
	// Limit is the page size: 0 means DefaultLimit, more than MaxLimit is
	// refused.
	Limit int
	// Continue is the token of the previous page.
	Continue string
}

// Page is one page of a search.
type Page struct {
	Records []Record `json:"records"`
	// Continue is the token for the next page; empty when there is none.
	Continue string `json:"continue,omitempty"`
}

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Retention says what to keep. Each limit applies per kind; zero limits are
// not applied.
type Retention struct {
	// Kind restricts pruning to one kind; "" prunes every kind.
	Kind string
	// MaxAge deletes records older than this.
	MaxAge time.Duration
	// MaxRecords keeps at most this many records per kind, the newest. It
	// reads that many entries of an index to find where to cut.
	MaxRecords int64
	// MaxBytes keeps at most this many bytes of Data per kind, the newest.
	// It reads the size of every record of the kind: prune by size
	// rarely (hourly, say) on large stores.
	MaxBytes int64
}

// Open opens (creating if needed) the store a DSN names and brings its
// schema up to date:
//
//	sqlite:/var/lib/kstack/records.db  or a bare path
//	postgres://user:password@host:5432/db?sslmode=disable
//
// log may be nil.
func Open(ctx context.Context, dsn string, log *slog.Logger) (Store, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var (
		s   *sqlStore
		err error
	)
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s, err = openPostgres(ctx, dsn, log)
	case strings.HasPrefix(dsn, "sqlite:"):
		s, err = openSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//"), log)
	case dsn == "":
		return nil, errors.New("recordstore: no DSN: give sqlite:/path/to/records.db or postgres://user@host/db")
	case strings.Contains(dsn, "://"):
		return nil, fmt.Errorf("recordstore: unknown DSN scheme in %q: use sqlite:/path/to/records.db or postgres://user@host/db", redactDSN(dsn))
	default:
		s, err = openSQLite(ctx, dsn, log)
	}
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, s.w, s.d, log); err != nil {
		s.Close()
		return nil, err
	}
	s.optimize(ctx)
	return s, nil
}

// dialect is what differs between SQLite and PostgreSQL.
type dialect struct {
	name string
	// appendBatch inserts recs (checked, deduplicated by UID, not empty)
	// in one transaction.
	appendBatch func(ctx context.Context, s *sqlStore, recs []Record) error
	// load is the bulk path (BulkLoader).
	load func(ctx context.Context, s *sqlStore, next func() (Record, bool)) (int64, error)
	// optimize refreshes planner statistics, if the dialect needs telling.
	optimize string
	// lockMigrations serialises migrating processes, inside the migration
	// transaction (SQLite's write lock already does).
	lockMigrations string
	// types fills the schema templates.
	types map[string]string
}

// sqlStore is the Store of both dialects.
type sqlStore struct {
	d dialect
	// w writes (Append, Prune, migrations); r reads. They are the same pool
	// on PostgreSQL; SQLite has one writer connection (it allows one writer
	// at a time anyway, and waiting in Go beats SQLITE_BUSY) and a pool of
	// readers that WAL lets run alongside it.
	w, r  *sql.DB
	log   *slog.Logger
	close func() error
}

func (s *sqlStore) Dialect() string { return s.d.name }

func (s *sqlStore) Close() error { return s.close() }

// ph is the n-th (1-based) placeholder. Both PostgreSQL and modernc's
// SQLite bind $n by number, so one SQL text serves both and a placeholder
// may appear twice.
func ph(n int) string { return "$" + strconv.Itoa(n) }

// recordCols are the columns of a record in the order every statement and
// scan uses.
const recordCols = "kind, ts, tenant, user_name, cluster, namespace, project, resource, name, verb, code, uid, data"

// values is a record as the values of recordCols.
func values(r *Record) []any {
	var data any
	if len(r.Data) > 0 {
		data = []byte(r.Data)
	}
	return []any{r.Kind, r.Time.UnixNano(), r.Tenant, r.User, r.Cluster, r.Namespace, r.Project, r.Resource, r.Name, r.Verb, r.Code, r.UID, data}
}

// Append stores recs in one transaction. A record without Time gets the
// time of the call; a record whose UID is stored replaces that row.
func (s *sqlStore) Append(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	recs, err := prepare(recs)
	if err != nil {
		return err
	}
	if err := s.d.appendBatch(ctx, s, recs); err != nil {
		return fmt.Errorf("recordstore: append %d records: %w", len(recs), err)
	}
	return nil
}

// prepare checks recs, fills missing times, and keeps only the last of
// records sharing a kind and UID: one statement may not touch a row twice
// (PostgreSQL refuses ON CONFLICT DO UPDATE doing so), and the last one seen
// is the newest state anyway. It copies rather than change the caller's
// slice.
func prepare(recs []Record) ([]Record, error) {
	now := time.Now()
	out := make([]Record, 0, len(recs))
	var seen map[[2]string]int
	for i := range recs {
		r := recs[i]
		if r.Kind == "" {
			return nil, fmt.Errorf("recordstore: record %d has no kind", i)
		}
		if r.Time.IsZero() {
			r.Time = now
		}
		sanitize(&r)
		if r.UID != "" {
			if seen == nil {
				seen = map[[2]string]int{}
			}
			k := [2]string{r.Kind, r.UID}
			if j, ok := seen[k]; ok {
				out[j] = r
				continue
			}
			seen[k] = len(out)
		}
		out = append(out, r)
	}
	return out, nil
}

// sanitize makes r's text storable: PostgreSQL's text takes neither NUL
// nor invalid UTF-8, and a record that can never be stored would block the
// writer's queue behind it forever. Rare, so checked before copying.
func sanitize(r *Record) {
	for _, f := range []*string{&r.Kind, &r.Tenant, &r.User, &r.Cluster, &r.Namespace, &r.Project, &r.Resource, &r.Name, &r.Verb, &r.UID} {
		if !utf8.ValidString(*f) {
			*f = strings.ToValidUTF8(*f, "\uFFFD")
		}
		if strings.IndexByte(*f, 0) >= 0 {
			*f = strings.ReplaceAll(*f, "\x00", "")
		}
	}
}

// Load implements BulkLoader.
func (s *sqlStore) Load(ctx context.Context, next func() (Record, bool)) (int64, error) {
	return s.d.load(ctx, s, next)
}

// Prune implements Store. It deletes in chunks, each its own short
// transaction, so that writers are never held up for long.
func (s *sqlStore) Prune(ctx context.Context, r Retention) (int64, error) {
	if r.MaxAge < 0 || r.MaxRecords < 0 || r.MaxBytes < 0 {
		return 0, errors.New("recordstore: retention limits must not be negative")
	}
	if r.MaxAge == 0 && r.MaxRecords == 0 && r.MaxBytes == 0 {
		return 0, nil
	}
	kinds := []string{r.Kind}
	if r.Kind == "" {
		var err error
		if kinds, err = s.kinds(ctx); err != nil {
			return 0, err
		}
	}
	var total int64
	for _, kind := range kinds {
		n, err := s.pruneKind(ctx, kind, r)
		total += n
		if err != nil {
			return total, fmt.Errorf("recordstore: prune %s: %w", kind, err)
		}
		if n > 0 {
			s.log.Info("pruned records", "kind", kind, "deleted", n)
		}
	}
	s.optimize(ctx)
	return total, nil
}

func (s *sqlStore) optimize(ctx context.Context) {
	if s.d.optimize == "" {
		return
	}
	if _, err := s.w.ExecContext(ctx, s.d.optimize); err != nil {
		s.log.Warn("could not refresh the record store's planner statistics", "err", err)
	}
}

// kinds lists the stored kinds by skipping through the index (a loose index
// scan) rather than reading every row as DISTINCT would.
func (s *sqlStore) kinds(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `WITH RECURSIVE k(kind) AS (
  SELECT MIN(kind) FROM records
  UNION ALL
  SELECT (SELECT MIN(kind) FROM records WHERE records.kind > k.kind) FROM k WHERE k.kind IS NOT NULL
) SELECT kind FROM k WHERE kind IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("recordstore: list kinds: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// pruneChunk is how many rows one DELETE removes: big enough to be quick
// overall, small enough that an Append waits at most some tens of
// milliseconds.
const pruneChunk = 5000

func (s *sqlStore) pruneKind(ctx context.Context, kind string, r Retention) (int64, error) {
	p := ph
	// cutoff is the newest (ts, id) to delete: everything at or before it
	// goes. Each limit yields one; the newest of them wins.
	var (
		haveCut bool
		cutTS   int64
		cutID   int64
	)
	consider := func(ts, id int64) {
		if !haveCut || ts > cutTS || (ts == cutTS && id > cutID) {
			haveCut, cutTS, cutID = true, ts, id
		}
	}
	if r.MaxAge > 0 {
		// Everything strictly older than the cutoff time: (ts, id) <= (t-1, max).
		consider(time.Now().Add(-r.MaxAge).UnixNano()-1, 1<<63-1)
	}
	if r.MaxRecords > 0 {
		// The newest record beyond the first MaxRecords, reading only the index.
		var ts, id int64
		err := s.r.QueryRowContext(ctx, "SELECT ts, id FROM records WHERE kind = "+p(1)+
			" ORDER BY ts DESC, id DESC LIMIT 1 OFFSET "+p(2), kind, r.MaxRecords).Scan(&ts, &id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return 0, err
		default:
			consider(ts, id)
		}
	}
	if r.MaxBytes > 0 {
		// The newest record at which the running total of Data, newest
		// first, passes MaxBytes.
		var ts, id int64
		err := s.r.QueryRowContext(ctx, `SELECT ts, id FROM (
  SELECT ts, id, SUM(COALESCE(LENGTH(data), 0)) OVER (ORDER BY ts DESC, id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS acc
  FROM records WHERE kind = `+p(1)+`) w WHERE acc > `+p(2)+` ORDER BY ts DESC, id DESC LIMIT 1`, kind, r.MaxBytes).Scan(&ts, &id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return 0, err
		default:
			consider(ts, id)
		}
	}
	if !haveCut {
		return 0, nil
	}
	del := "DELETE FROM records WHERE id IN (SELECT id FROM records WHERE kind = " + p(1) +
		" AND (ts, id) <= (" + p(2) + ", " + p(3) + ") ORDER BY ts, id LIMIT " + p(4) + ")"
	var total int64
	for {
		res, err := s.w.ExecContext(ctx, del, kind, cutTS, cutID, pruneChunk)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}
