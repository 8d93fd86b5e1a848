package recordstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// NotifyState is the alert dispatcher's shared state: the notification log
// (Alertmanager's nflog entries, so that a new leader knows what the old
// one sent) and the outbox of messages to deliver. Both stores implement
// it; calls are synchronous (not through a Writer's disk queue), since the
// dispatcher must know whether they took.
type NotifyState interface {
	// NFLogGet returns the entry stored under key, nil when there is none
	// or it has expired, and the stored row's ts even when it has expired
	// (zero when there is no row): a dedup key derived from it never
	// repeats the key of a notification made before that entry.
	NFLogGet(ctx context.Context, key string) (entry []byte, ts time.Time, err error)
	// NFLogPut stores entry under key unless the stored one has a newer
	// (or the same) ts.
	NFLogPut(ctx context.Context, key string, entry []byte, ts, expires time.Time) error
	// OutboxAdd inserts it unless its DedupKey is stored already; added
	// says whether this call inserted it.
	OutboxAdd(ctx context.Context, it OutboxItem) (added bool, err error)
	// OutboxDueChannels lists the channels that have pending rows due at
	// now and not leased.
	OutboxDueChannels(ctx context.Context, now time.Time) ([]string, error)
	// OutboxLease leases at most n of channel's due rows, oldest due first,
	// to owner until now+lease, and counts an attempt on each. A lease that
	// runs out (its owner crashed) makes the row due again.
	OutboxLease(ctx context.Context, channel, owner string, n int, now time.Time, lease time.Duration) ([]OutboxItem, error)
	// OutboxFinish ends owner's lease of row id with r. It returns
	// ErrLeaseLost when owner no longer holds the lease.
	OutboxFinish(ctx context.Context, id int64, owner string, r OutboxResult) error
	// PruneNotifyState deletes outbox rows that were sent or failed more
	// than keepDone ago, and expired log entries once no outbox row made
	// before them (or up to NFLogPruneMargin after) is left: the dedup keys
	// of those rows were derived from the entry, so while one is stored the
	// entry's ts must stay readable (NFLogGet).
	PruneNotifyState(ctx context.Context, now time.Time, keepDone time.Duration) (int64, error)
}

// Outbox row states.
const (
	OutboxPending = "pending"
	OutboxSent    = "sent"
	OutboxFailed  = "failed"
)

// ErrLeaseLost is returned by OutboxFinish for a row whose lease another
// owner took over (it ran out) or that is no longer leased.
var ErrLeaseLost = errors.New("recordstore: the outbox lease was lost")

// OutboxItem is one outbox row.
type OutboxItem struct {
	ID       int64
	DedupKey string
	Channel  string // "<namespace>/<name>"
	Payload  []byte
	// Set by the store when read back; OutboxAdd uses NextAt (zero: now)
	// and Created (zero: now).
	Status    string
	Attempts  int
	LastError string
	Code      int
	NextAt    time.Time
	Created   time.Time
}

// OutboxResult is how an attempt ended.
type OutboxResult struct {
	// Status is OutboxSent, OutboxFailed, or OutboxPending to try again at
	// NextAt.
	Status    string
	NextAt    time.Time
	Code      int
	LastError string
}

// AsNotifyState returns s's NotifyState; every store Open returns has one.
func AsNotifyState(s Store) (NotifyState, bool) {
	n, ok := s.(NotifyState)
	return n, ok
}

var _ NotifyState = (*sqlStore)(nil)

func (s *sqlStore) NFLogGet(ctx context.Context, key string) ([]byte, time.Time, error) {
	var (
		b           []byte
		ts, expires int64
	)
	err := s.w.QueryRowContext(ctx, "SELECT entry, ts, expires FROM notify_log WHERE k = $1", key).Scan(&b, &ts, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("recordstore: read notification log: %w", err)
	}
	if expires <= time.Now().UnixNano() {
		b = nil
	}
	return b, time.Unix(0, ts), nil
}

func (s *sqlStore) NFLogPut(ctx context.Context, key string, entry []byte, ts, expires time.Time) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO notify_log (k, entry, ts, expires) VALUES ($1, $2, $3, $4)
ON CONFLICT (k) DO UPDATE SET entry = excluded.entry, ts = excluded.ts, expires = excluded.expires
WHERE notify_log.ts < excluded.ts`, key, entry, ts.UnixNano(), expires.UnixNano())
	if err != nil {
		return fmt.Errorf("recordstore: write notification log: %w", err)
	}
	return nil
}

func (s *sqlStore) OutboxAdd(ctx context.Context, it OutboxItem) (bool, error) {
	if it.DedupKey == "" || it.Channel == "" {
		return false, errors.New("recordstore: an outbox item needs a dedup key and a channel")
	}
	now := time.Now()
	if it.NextAt.IsZero() {
		it.NextAt = now
	}
	if it.Created.IsZero() {
		it.Created = now
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO notify_outbox (dedup_key, channel, payload, next_at, created, updated)
VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (dedup_key) DO NOTHING`,
		it.DedupKey, it.Channel, it.Payload, it.NextAt.UnixNano(), it.Created.UnixNano())
	if err != nil {
		return false, fmt.Errorf("recordstore: add to the outbox: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("recordstore: add to the outbox: %w", err)
	}
	return n == 1, nil
}

func (s *sqlStore) OutboxDueChannels(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := s.w.QueryContext(ctx, `SELECT DISTINCT channel FROM notify_outbox
WHERE status = 'pending' AND next_at <= $1 AND lease_until <= $1`, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("recordstore: list due outbox channels: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

const outboxCols = "id, dedup_key, channel, payload, status, attempts, last_error, code, next_at, created"

func (s *sqlStore) OutboxLease(ctx context.Context, channel, owner string, n int, now time.Time, lease time.Duration) ([]OutboxItem, error) {
	if n <= 0 {
		return nil, nil
	}
	if owner == "" {
		return nil, errors.New("recordstore: an outbox lease needs an owner")
	}
	// SQLite has one writer at a time. PostgreSQL: concurrent leasers skip
	// each other's rows rather than wait and then lease the same ones; the
	// locked rows are picked in a materialized CTE (an IN subquery with
	// LIMIT and FOR UPDATE may be evaluated more than once) and the outer
	// conditions are checked again on them.
	pick := `SELECT id FROM notify_outbox WHERE status = 'pending' AND channel = $4 AND next_at <= $3 AND lease_until <= $3
  ORDER BY next_at, id LIMIT $5`
	q := `UPDATE notify_outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated = $3
WHERE id IN (` + pick + `) AND status = 'pending' AND lease_until <= $3
RETURNING ` + outboxCols
	if s.d.name == "postgres" {
		q = `WITH picked AS MATERIALIZED (` + pick + ` FOR UPDATE SKIP LOCKED)
UPDATE notify_outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated = $3
FROM picked WHERE notify_outbox.id = picked.id AND status = 'pending' AND lease_until <= $3
RETURNING ` + strings.ReplaceAll(outboxCols, "id, dedup_key", "notify_outbox.id, dedup_key")
	}
	nowNS := now.UnixNano()
	rows, err := s.w.QueryContext(ctx, q, owner, now.Add(lease).UnixNano(), nowNS, channel, n)
	if err != nil {
		return nil, fmt.Errorf("recordstore: lease from the outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		var (
			it            OutboxItem
			next, created int64
		)
		if err := rows.Scan(&it.ID, &it.DedupKey, &it.Channel, &it.Payload, &it.Status, &it.Attempts, &it.LastError, &it.Code, &next, &created); err != nil {
			return nil, err
		}
		it.NextAt, it.Created = time.Unix(0, next), time.Unix(0, created)
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recordstore: lease from the outbox: %w", err)
	}
	// RETURNING's order is unspecified.
	sortOutbox(out)
	return out, nil
}

func sortOutbox(items []OutboxItem) {
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && (items[j].NextAt.Before(items[j-1].NextAt) ||
			(items[j].NextAt.Equal(items[j-1].NextAt) && items[j].ID < items[j-1].ID)); j-- {
			items[j], items[j-1] = items[j-1], items[j]
		}
	}
}

func (s *sqlStore) OutboxFinish(ctx context.Context, id int64, owner string, r OutboxResult) error {
	switch r.Status {
	case OutboxPending, OutboxSent, OutboxFailed:
	default:
		return fmt.Errorf("recordstore: outbox status %q", r.Status)
	}
	now := time.Now()
	next := r.NextAt
	if next.IsZero() {
		next = now
	}
	msg := strings.ToValidUTF8(strings.ReplaceAll(r.LastError, "\x00", ""), "\uFFFD")
	res, err := s.w.ExecContext(ctx, `UPDATE notify_outbox SET status = $1, next_at = $2, code = $3, last_error = $4,
  lease_owner = '', lease_until = 0, updated = $5
WHERE id = $6 AND lease_owner = $7 AND status = 'pending'`,
		r.Status, next.UnixNano(), r.Code, msg, now.UnixNano(), id, owner)
	if err != nil {
		return fmt.Errorf("recordstore: finish an outbox item: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("recordstore: finish an outbox item: %w", err)
	}
	if n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// NFLogPruneMargin: an expired log entry is deleted only when every outbox
// row was created more than this after the entry's ts (clock skew between
// replicas, and a dispatcher that enqueued but crashed before logging).
const NFLogPruneMargin = time.Hour

func (s *sqlStore) PruneNotifyState(ctx context.Context, now time.Time, keepDone time.Duration) (int64, error) {
	b, err := s.w.ExecContext(ctx, "DELETE FROM notify_outbox WHERE status IN ('sent', 'failed') AND updated < $1", now.Add(-keepDone).UnixNano())
	if err != nil {
		return 0, fmt.Errorf("recordstore: prune the outbox: %w", err)
	}
	var oldest sql.NullInt64
	if err := s.w.QueryRowContext(ctx, "SELECT MIN(created) FROM notify_outbox").Scan(&oldest); err != nil {
		return 0, fmt.Errorf("recordstore: prune the notification log: %w", err)
	}
	// Log entries with ts >= cut may have outbox rows keyed from them.
	cut := int64(math.MaxInt64)
	if oldest.Valid {
		cut = oldest.Int64 - int64(NFLogPruneMargin)
	}
	a, err := s.w.ExecContext(ctx, "DELETE FROM notify_log WHERE expires <= $1 AND ts < $2", now.UnixNano(), cut)
	if err != nil {
		return 0, fmt.Errorf("recordstore: prune the notification log: %w", err)
	}
	na, _ := a.RowsAffected()
	nb, _ := b.RowsAffected()
	return na + nb, nil
}
