package recordstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

var sqliteDialect = dialect{
	name:        "sqlite",
	appendBatch: sqliteAppend,
	load:        sqliteLoad,
	// SQLite's planner picks between the indexes by statistics that only
	// ANALYZE gathers; without them a filtered search may walk the wrong
	// index. optimize refreshes them when the table has grown, sampling
	// (analysis_limit) rather than reading it all. Run at open, after
	// pruning and at close.
	optimize: "PRAGMA optimize=0x10002",
	types: map[string]string{
		// An alias of the rowid: the table is the rowid b-tree itself.
		"id":     "INTEGER PRIMARY KEY",
		"bigint": "INTEGER",
		"text":   "TEXT",
		"blob":   "BLOB",
	},
}

// sqlitePragmas apply to every connection. WAL lets readers run alongside
// the writer; synchronous=NORMAL is durable against a process crash (a power
// cut may lose the last commits, never corrupt); busy_timeout makes a
// second process wait for the lock rather than fail.
var sqlitePragmas = []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "temp_store(MEMORY)"}

func sqliteDSN(path string, extra ...string) string {
	q := url.Values{}
	for _, p := range append(append([]string(nil), sqlitePragmas...), extra...) {
		q.Add("_pragma", p)
	}
	return "file:" + path + "?" + q.Encode()
}

func openSQLite(ctx context.Context, path string, log *slog.Logger) (*sqlStore, error) {
	if path == "" {
		return nil, errors.New("recordstore: the sqlite DSN names no file: give sqlite:/path/to/records.db")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("recordstore: sqlite path %q contains ? or #", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("recordstore: %w", err)
	}
	// Writes begin IMMEDIATE: they take the write lock at BEGIN, so two
	// writers queue on busy_timeout instead of one failing when it upgrades
	// a read lock. A batch dirties hundreds of index pages; checkpointing
	// every 64 MiB of WAL rather than 4 copies each hot page into the file
	// once for many batches, and journal_size_limit shrinks the WAL after.
	w, err := sql.Open("sqlite", sqliteDSN(path, "cache_size(-65536)", "wal_autocheckpoint(16384)", "journal_size_limit(67108864)", "analysis_limit(1000)")+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("recordstore: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The first connection switches the file to WAL before readers open it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("recordstore: open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", sqliteDSN(path, "cache_size(-32768)", "query_only(1)", "mmap_size(268435456)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("recordstore: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	s := &sqlStore{d: sqliteDialect, w: w, r: r, log: log}
	s.close = func() error {
		_, _ = w.Exec(sqliteDialect.optimize)
		return errors.Join(r.Close(), w.Close())
	}
	log.Debug("opened record store", "dialect", "sqlite", "path", path)
	return s, nil
}

// insertSQL inserts n records in one statement. It is SQLite's: positional
// ? placeholders (looking up hundreds of $n by name costs more than the
// insert), and OR FAIL, which spares SQLite a statement journal of every
// page the statement touches (which a statement of many rows otherwise
// needs, to undo just itself); a failure rolls back the transaction anyway.
func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT OR FAIL INTO records (" + recordCols + ") VALUES ")
	row := "(" + strings.Repeat("?, ", strings.Count(recordCols, ",")) + "?)"
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// upsertSQL inserts one record or replaces the row of its stored UID.
var upsertSQL = func() string {
	var set []string
	for _, c := range strings.Split(recordCols, ", ") {
		if c != "kind" && c != "uid" {
			set = append(set, c+" = excluded."+c)
		}
	}
	return strings.Replace(insertSQL(1), "OR FAIL ", "", 1) + " ON CONFLICT (kind, uid) WHERE uid <> '' DO UPDATE SET " + strings.Join(set, ", ")
}()

// sqliteRowsPerStmt records go in one INSERT: fewer calls through
// database/sql and the driver, which cost more than SQLite's own work per
// row.
const sqliteRowsPerStmt = 50

func sqliteAppend(ctx context.Context, s *sqlStore, recs []Record) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var plain, withUID []Record
	for _, r := range recs {
		if r.UID == "" {
			plain = append(plain, r)
		} else {
			withUID = append(withUID, r)
		}
	}
	if err := sqliteInsert(ctx, tx, plain); err != nil {
		return err
	}
	if len(withUID) > 0 {
		// One row a statement: an upsert of many rows would need the
		// statement journal again.
		st, err := tx.PrepareContext(ctx, upsertSQL)
		if err != nil {
			return err
		}
		defer st.Close()
		for i := range withUID {
			if _, err := st.ExecContext(ctx, values(&withUID[i])...); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// sqliteInsert inserts recs, sqliteRowsPerStmt to a statement.
func sqliteInsert(ctx context.Context, tx *sql.Tx, recs []Record) error {
	var full *sql.Stmt
	args := make([]any, 0, sqliteRowsPerStmt*13)
	for len(recs) > 0 {
		n := min(len(recs), sqliteRowsPerStmt)
		args = args[:0]
		for i := range recs[:n] {
			args = append(args, values(&recs[i])...)
		}
		var err error
		if n == sqliteRowsPerStmt {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, insertSQL(n)); err != nil {
					return err
				}
				defer full.Close()
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insertSQL(n), args...)
		}
		if err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

// sqliteLoadTx records go in one transaction: few enough that the WAL,
// which holds a transaction's pages until it commits, stays small.
const sqliteLoadTx = 100_000

func sqliteLoad(ctx context.Context, s *sqlStore, next func() (Record, bool)) (int64, error) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	// Indexes are filled in time order per key, so the pages being filled
	// fit in a large cache; restore the usual size afterwards.
	if _, err := conn.ExecContext(ctx, "PRAGMA cache_size=-1048576"); err != nil {
		return 0, err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA cache_size=-65536")
	var total int64
	batch := make([]Record, 0, sqliteLoadTx)
	for done := false; !done; {
		batch = batch[:0]
		for len(batch) < sqliteLoadTx {
			r, ok := next()
			if !ok {
				done = true
				break
			}
			batch = append(batch, r)
		}
		if len(batch) == 0 {
			break
		}
		recs, err := prepare(batch)
		if err != nil {
			return total, err
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return total, err
		}
		if err := sqliteInsert(ctx, tx, recs); err != nil {
			tx.Rollback()
			return total, err
		}
		if err := tx.Commit(); err != nil {
			return total, err
		}
		total += int64(len(recs))
	}
	// The planner's statistics, which decide between the indexes, are
	// stale after a load. analysis_limit (1000 rows an index) samples
	// rather than reads all.
	if _, err := conn.ExecContext(ctx, "ANALYZE records"); err != nil {
		return total, err
	}
	return total, nil
}
