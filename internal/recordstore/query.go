package recordstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cursor is the position after the last record of a page: pages are keyset
// over (time desc, id desc), so a page costs the same however deep it is and
// records appended meanwhile neither repeat nor skip any.
type cursor struct {
	TS int64 `json:"t"`
	ID int64 `json:"i"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		err = dec.Decode(&c)
	}
	if err != nil || c.ID <= 0 {
		return cursor{}, fmt.Errorf("%w: the continue token %q is not one this store gave; start again without it", ErrBadQuery, s)
	}
	return c, nil
}

// builder accumulates a WHERE clause and its arguments.
type builder struct {
	where []string
	args  []any
}

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return ph(len(b.args))
}

func (b *builder) eq(col string, v any) {
	b.where = append(b.where, col+" = "+b.arg(v))
}

func (b *builder) in(col string, vs []string) {
	if len(vs) == 1 {
		b.eq(col, vs[0])
		return
	}
	ps := make([]string, len(vs))
	for i, v := range vs {
		ps[i] = b.arg(v)
	}
	b.where = append(b.where, col+" IN ("+strings.Join(ps, ", ")+")")
}

// validate checks q and returns its page size.
func validate(q *Query) (int, error) {
	if q.Kind == "" {
		return 0, fmt.Errorf("%w: kind is required", ErrBadQuery)
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return 0, fmt.Errorf("%w: the end of the time range (%s) is before its start (%s)", ErrBadQuery,
			q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	}
	limit := q.Limit
	switch {
	case limit < 0:
		return 0, fmt.Errorf("%w: limit %d is negative", ErrBadQuery, limit)
	case limit == 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		return 0, fmt.Errorf("%w: limit %d is over the maximum %d; page with continue", ErrBadQuery, limit, MaxLimit)
	}
	switch q.Result {
	case "", "success", "failure":
	default:
		return 0, fmt.Errorf("%w: result %q is neither \"success\" nor \"failure\"", ErrBadQuery, q.Result)
	}
	if q.Code != 0 && q.Result != "" {
		return 0, fmt.Errorf("%w: give a code or a result, not both", ErrBadQuery)
	}
	return limit, nil
}

func distinct(vs []string) []string {
	if len(vs) < 2 {
		return vs
	}
	out := make([]string, 0, len(vs))
	seen := make(map[string]bool, len(vs))
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// unionMax is the most namespaces a query searches one index range each
// for; longer lists are one IN over whatever index the planner picks.
const unionMax = 64

// Search implements Store.
func (s *sqlStore) Search(ctx context.Context, q Query) (Page, error) {
	stmt, args, limit, err := searchSQL(q)
	if err != nil || stmt == "" {
		return Page{}, err
	}
	rows, err := s.r.QueryContext(ctx, stmt, args...)
	if err != nil {
		return Page{}, fmt.Errorf("recordstore: search: %w", err)
	}
	defer rows.Close()
	recs, err := scanRecords(rows, limit+1)
	if err != nil {
		return Page{}, fmt.Errorf("recordstore: search: %w", err)
	}
	var page Page
	if len(recs) > limit {
		recs = recs[:limit]
		last := recs[limit-1]
		page.Continue = encodeCursor(cursor{TS: last.Time.UnixNano(), ID: last.ID})
	}
	page.Records = recs
	return page, nil
}

// searchSQL is the statement that finds a page of q, with one record more
// than the page when there is a next page; "" when q matches nothing.
func searchSQL(q Query) (stmt string, args []any, limit int, err error) {
	limit, err = validate(&q)
	if err != nil {
		return "", nil, 0, err
	}
	var after *cursor
	if q.Continue != "" {
		c, err := decodeCursor(q.Continue)
		if err != nil {
			return "", nil, 0, err
		}
		after = &c
	}
	if (q.Namespaces != nil && len(q.Namespaces) == 0) || (q.Projects != nil && len(q.Projects) == 0) {
		return "", nil, limit, nil
	}
	// Each namespace once: the merge below would repeat records otherwise.
	q.Namespaces, q.Projects = distinct(q.Namespaces), distinct(q.Projects)

	b := &builder{}
	b.eq("kind", q.Kind)
	if q.Tenant != nil {
		b.eq("tenant", *q.Tenant)
	}
	if !q.From.IsZero() {
		b.where = append(b.where, "ts >= "+b.arg(q.From.UnixNano()))
	}
	if !q.To.IsZero() {
		b.where = append(b.where, "ts < "+b.arg(q.To.UnixNano()))
	}
	for _, f := range []struct{ col, v string }{
		{"user_name", q.User}, {"cluster", q.Cluster}, {"resource", q.Resource}, {"verb", q.Verb}, {"name", q.Name},
	} {
		if f.v != "" {
			b.eq(f.col, f.v)
		}
	}
	if len(q.Projects) > 0 {
		b.in("project", q.Projects)
	}
	switch {
	case q.Code != 0:
		b.eq("code", q.Code)
	case q.Result == "success":
		b.where = append(b.where, "code < 400")
	case q.Result == "failure":
		b.where = append(b.where, "code >= 400")
	}
	if after != nil {
		b.where = append(b.where, "(ts, id) < ("+b.arg(after.TS)+", "+b.arg(after.ID)+")")
	}

	// One more than the page tells whether there is a next page.
	lim := strconv.Itoa(limit + 1)
	const cols = "id, " + recordCols
	const order = " ORDER BY ts DESC, id DESC LIMIT "
	if n := len(q.Namespaces); n > 1 && n <= unionMax && q.Cluster != "" {
		// In a cluster, each namespace is one range of an index in (time,
		// id) order; an IN over them would have to collect and sort every
		// match. So take the newest page of each and merge those.
		parts := make([]string, n)
		for i, ns := range q.Namespaces {
			w := append(append([]string(nil), b.where...), "namespace = "+b.arg(ns))
			parts[i] = "SELECT * FROM (SELECT " + cols + " FROM records WHERE " + strings.Join(w, " AND ") + order + lim + ") p" + strconv.Itoa(i)
		}
		stmt = "SELECT * FROM (" + strings.Join(parts, " UNION ALL ") + ") u" + order + lim
	} else {
		if n > 0 {
			b.in("namespace", q.Namespaces)
		}
		stmt = "SELECT " + cols + " FROM records WHERE " + strings.Join(b.where, " AND ") + order + lim
	}

	return stmt, b.args, limit, nil
}

func scanRecords(rows *sql.Rows, capacity int) ([]Record, error) {
	recs := make([]Record, 0, min(capacity, 128))
	for rows.Next() {
		var (
			r    Record
			ts   int64
			data []byte
		)
		if err := rows.Scan(&r.ID, &r.Kind, &ts, &r.Tenant, &r.User, &r.Cluster, &r.Namespace, &r.Project,
			&r.Resource, &r.Name, &r.Verb, &r.Code, &r.UID, &data); err != nil {
			return nil, err
		}
		r.Time = time.Unix(0, ts).UTC()
		if len(data) > 0 {
			r.Data = data
		}
		recs = append(recs, r)
	}
	return recs, rows.Err()
}
