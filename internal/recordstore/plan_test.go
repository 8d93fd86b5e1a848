package recordstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSQLitePlans checks that each search shape is one index range read in
// page order (no full scan, no sort of the matches) on a table that SQLite
// believes holds 10 million records: the planner's statistics are written
// as ANALYZE would find them, rather than loading that much.
func TestSQLitePlans(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "r.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*sqlStore)
	if err := s.Append(ctx, []Record{{Kind: "audit"}}); err != nil {
		t.Fatal(err)
	}
	// 10M records of 5 kinds, 50 tenants, 2,000 users, 20 clusters of 10
	// namespaces, 30 resources, 8 verbs.
	stats := map[string]string{
		"records_kind_ts":     "10000000 2000000 1 1",
		"records_tenant_ts":   "10000000 2000000 40000 1 1",
		"records_user_ts":     "10000000 2000000 1000 1 1",
		"records_cluster_ts":  "10000000 2000000 100000 10000 1 1",
		"records_resource_ts": "10000000 2000000 40000 1300 160 1 1",
		"records_uid":         "100000 20000 1",
	}
	if _, err := s.w.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, "DELETE FROM sqlite_stat1 WHERE tbl = 'records'"); err != nil {
		t.Fatal(err)
	}
	for idx, stat := range stats {
		if _, err := s.w.ExecContext(ctx, "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('records', $1, $2)", idx, stat); err != nil {
			t.Fatal(err)
		}
	}
	// New connections load the statistics.
	if _, err := s.w.ExecContext(ctx, "ANALYZE sqlite_schema"); err != nil {
		t.Fatal(err)
	}
	s.r.SetMaxIdleConns(0)

	tenant := "tenant-07"
	now := time.Now()
	after := encodeCursor(cursor{TS: now.UnixNano(), ID: 1000})
	for _, c := range []struct {
		name  string
		q     Query
		index string
	}{
		{"tenant, newest page", Query{Kind: "audit", Tenant: &tenant}, "records_tenant_ts"},
		{"tenant, next page", Query{Kind: "audit", Tenant: &tenant, Continue: after}, "records_tenant_ts"},
		{"all tenants", Query{Kind: "audit"}, "records_kind_ts"},
		{"all tenants, time range", Query{Kind: "audit", From: now.Add(-time.Hour), To: now}, "records_kind_ts"},
		{"tenant + user", Query{Kind: "audit", Tenant: &tenant, User: "alice"}, "records_user_ts"},
		{"user, all tenants, next page", Query{Kind: "audit", User: "alice", Continue: after}, "records_user_ts"},
		{"cluster + namespace", Query{Kind: "audit", Tenant: &tenant, Cluster: "cls-1", Namespaces: []string{"web"}}, "records_cluster_ts"},
		{"resource + verb", Query{Kind: "audit", Tenant: &tenant, Resource: "pods", Verb: "delete"}, "records_resource_ts"},
		{"tenant + 1 day", Query{Kind: "audit", Tenant: &tenant, From: now.Add(-24 * time.Hour), To: now}, "records_tenant_ts"},
		{"tenant + user + 7 days", Query{Kind: "audit", Tenant: &tenant, User: "alice", From: now.Add(-7 * 24 * time.Hour), To: now}, "records_user_ts"},
		{"tenant + failures", Query{Kind: "audit", Tenant: &tenant, Result: "failure"}, "records_tenant_ts"},
	} {
		stmt, args, _, err := searchSQL(c.q)
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(t, s, stmt, args...)
		if !strings.Contains(plan, "USING INDEX "+c.index+" ") || strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN records") {
			t.Errorf("%s: plan\n%s\nwant one range of %s in page order", c.name, plan, c.index)
		}
	}
	// Several namespaces: one range per namespace, merged.
	stmt, args, _, _ := searchSQL(Query{Kind: "audit", Cluster: "cls-1", Namespaces: []string{"a", "b", "c"}})
	if plan := explain(t, s, stmt, args...); strings.Count(plan, "USING INDEX records_cluster_ts") != 3 || strings.Contains(plan, "SCAN records") {
		t.Errorf("3 namespaces: plan\n%s\nwant three ranges of records_cluster_ts", plan)
	}
	// Retention deletes along the kind's time index.
	plan := explain(t, s, "SELECT id FROM records WHERE kind = $1 AND (ts, id) <= ($2, $3) ORDER BY ts, id LIMIT $4", "audit", now.UnixNano(), 1, 10)
	if !strings.Contains(plan, "USING COVERING INDEX records_kind_ts") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("retention: plan\n%s", plan)
	}
}

func explain(t *testing.T, s *sqlStore, stmt string, args ...any) string {
	t.Helper()
	rows, err := s.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+stmt, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	return strings.Join(lines, "\n")
}
