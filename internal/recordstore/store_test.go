package recordstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/testutil/pgtest"
)

// backend is one dialect: setup runs once per test and returns what makes
// a fresh, empty database per case.
type backend struct {
	name  string
	setup func(t *testing.T) func(t *testing.T) string
}

// backends are SQLite and a PostgreSQL server shared by the cases, each in
// its own database.
var backends = []backend{
	{"sqlite", func(*testing.T) func(t *testing.T) string {
		return func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "records.db") }
	}},
	{"postgres", func(t *testing.T) func(t *testing.T) string {
		srv := pgtest.New(t)
		return func(*testing.T) string { return srv.NewDatabase() }
	}},
}

func open(t *testing.T, dsn string) Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestStore runs the same cases against every dialect.
func TestStore(t *testing.T) {
	cases := []struct {
		name string
		f    func(t *testing.T, dsn string)
	}{
		{"migrations are idempotent", testMigrations},
		{"search filters", testSearchFilters},
		{"pagination visits every record once", testPagination},
		{"UID upsert replaces", testUpsert},
		{"bad queries", testBadQueries},
		{"retention by age", testRetentionAge},
		{"retention by count", testRetentionCount},
		{"retention by bytes", testRetentionBytes},
		{"append checks and fills", testAppendChecks},
		{"bulk load", testLoad},
		{"concurrent appends and searches", testConcurrent},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			newDB := b.setup(t)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.f(t, newDB(t)) })
			}
		})
	}
}

func testMigrations(t *testing.T, dsn string) {
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		s, err := Open(ctx, dsn, nil)
		if err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		var n, max int
		if err := s.(*sqlStore).r.QueryRowContext(ctx, "SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&n, &max); err != nil {
			t.Fatal(err)
		}
		if n != len(migrations) || max != migrations[len(migrations)-1].version {
			t.Fatalf("open #%d: schema_migrations has %d rows up to %d, want %d", i+1, n, max, len(migrations))
		}
		if err := s.Append(ctx, []Record{{Kind: "audit", Time: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		p, err := s.Search(ctx, Query{Kind: "audit"})
		if err != nil || len(p.Records) != i+1 {
			t.Fatalf("open #%d: %d records, %v", i+1, len(p.Records), err)
		}
		s.Close()
	}
}

// fixture is a spread of records over every field, and a second kind.
func fixture() []Record {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tenants := []string{"", "t1", "t2"}
	users := []string{"alice", "bob", "carol", "dave"}
	clusters := []string{"cls-a", "cls-b"}
	nss := []string{"default", "web", "db", ""}
	projects := []string{"prj-1", "prj-2", ""}
	resources := []string{"pods", "deployments", "configmaps"}
	verbs := []string{"get", "list", "create", "delete", "patch"}
	codes := []int{200, 201, 403, 404, 500, 0}
	var recs []Record
	for i := 0; i < 240; i++ {
		// Some records share a time so that the id breaks ties.
		r := Record{
			Kind:      "audit",
			Time:      base.Add(time.Duration(i/2) * time.Minute),
			Tenant:    tenants[i%3],
			User:      users[i%4],
			Cluster:   clusters[i%2],
			Namespace: nss[i%4/2+i%3],
			Project:   projects[i%3],
			Resource:  resources[i%3],
			Name:      fmt.Sprintf("obj-%d", i%7),
			Verb:      verbs[i%5],
			Code:      codes[i%6],
			Data:      json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)),
		}
		recs = append(recs, r)
	}
	for i := 0; i < 20; i++ {
		recs = append(recs, Record{Kind: "event", Time: base.Add(time.Duration(i) * time.Minute), Tenant: "t1", UID: fmt.Sprintf("ev-%d", i)})
	}
	return recs
}

// matches is the reference for what Search selects.
func matches(q Query, r Record) bool {
	in := func(vs []string, v string) bool { return vs == nil || slices.Contains(vs, v) }
	return r.Kind == q.Kind &&
		(q.Tenant == nil || *q.Tenant == r.Tenant) &&
		(q.From.IsZero() || !r.Time.Before(q.From)) &&
		(q.To.IsZero() || r.Time.Before(q.To)) &&
		(q.User == "" || q.User == r.User) &&
		(q.Cluster == "" || q.Cluster == r.Cluster) &&
		(q.Resource == "" || q.Resource == r.Resource) &&
		(q.Verb == "" || q.Verb == r.Verb) &&
		(q.Name == "" || q.Name == r.Name) &&
		in(q.Namespaces, r.Namespace) && in(q.Projects, r.Project) &&
		(q.Code == 0 || q.Code == r.Code) &&
		(q.Result != "success" || r.Code < 400) &&
		(q.Result != "failure" || r.Code >= 400)
}

// all pages through q and returns every record it finds.
func all(t *testing.T, s Store, q Query) []Record {
	t.Helper()
	var out []Record
	seen := map[int64]bool{}
	for {
		p, err := s.Search(context.Background(), q)
		if err != nil {
			t.Fatalf("search %+v: %v", q, err)
		}
		for _, r := range p.Records {
			if seen[r.ID] {
				t.Fatalf("record %d returned twice", r.ID)
			}
			seen[r.ID] = true
		}
		out = append(out, p.Records...)
		if p.Continue == "" {
			if q.Limit > 0 && len(p.Records) > q.Limit {
				t.Fatalf("page of %d records over the limit %d", len(p.Records), q.Limit)
			}
			return out
		}
		if len(p.Records) != max(q.Limit, 1) && q.Limit != 0 {
			t.Fatalf("a page with a continue token has %d records, want the limit %d", len(p.Records), q.Limit)
		}
		q.Continue = p.Continue
	}
}

func ids(recs []Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func sortNewestFirst(recs []Record) {
	slices.SortFunc(recs, func(a, b Record) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
}

func testSearchFilters(t *testing.T, dsn string) {
	ctx := context.Background()
	s := open(t, dsn)
	in := fixture()
	if err := s.Append(ctx, in); err != nil {
		t.Fatal(err)
	}
	stored := all(t, s, Query{Kind: "audit", Limit: 1000})
	stored = append(stored, all(t, s, Query{Kind: "event", Limit: 1000})...)
	if len(stored) != len(in) {
		t.Fatalf("stored %d records, appended %d", len(stored), len(in))
	}
	// Every field comes back as appended.
	byData := map[string]Record{}
	for _, r := range in {
		byData[r.Kind+string(r.Data)+r.UID] = r
	}
	for _, r := range stored {
		want, ok := byData[r.Kind+string(r.Data)+r.UID]
		if !ok {
			t.Fatalf("stored record %+v was not appended", r)
		}
		if r.ID <= 0 {
			t.Fatalf("record without id: %+v", r)
		}
		got := r
		got.ID = 0
		if !want.Time.Equal(got.Time) || got.Time.Location() != time.UTC {
			t.Fatalf("time %v, want %v in UTC", got.Time, want.Time)
		}
		got.Time = want.Time
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("stored\n%+v\nappended\n%+v", got, want)
		}
	}

	str := func(s string) *string { return &s }
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	queries := []Query{
		{Kind: "audit"},
		{Kind: "event"},
		{Kind: "alarm"},
		{Kind: "audit", Tenant: str("t1")},
		{Kind: "audit", Tenant: str("")},
		{Kind: "audit", Tenant: str("nobody")},
		{Kind: "audit", User: "alice"},
		{Kind: "audit", Tenant: str("t2"), User: "bob"},
		{Kind: "audit", Cluster: "cls-a", Namespaces: []string{"web"}},
		{Kind: "audit", Cluster: "cls-b", Namespaces: []string{"web", "db", ""}},
		{Kind: "audit", Cluster: "cls-a", Namespaces: []string{"web", "default", "web"}},
		{Kind: "audit", Tenant: str("t1"), Namespaces: []string{"default", "db"}},
		{Kind: "audit", Namespaces: []string{}},
		{Kind: "audit", Projects: []string{"prj-1"}},
		{Kind: "audit", Projects: []string{"prj-2", ""}, Tenant: str("t2")},
		{Kind: "audit", Projects: []string{}},
		{Kind: "audit", Resource: "pods"},
		{Kind: "audit", Resource: "pods", Verb: "delete", Tenant: str("t1")},
		{Kind: "audit", Verb: "get"},
		{Kind: "audit", Name: "obj-3"},
		{Kind: "audit", Code: 403},
		{Kind: "audit", Result: "success"},
		{Kind: "audit", Result: "failure", Tenant: str("t2")},
		{Kind: "audit", From: base.Add(30 * time.Minute)},
		{Kind: "audit", To: base.Add(30 * time.Minute)},
		{Kind: "audit", From: base.Add(10 * time.Minute), To: base.Add(50 * time.Minute), User: "carol"},
		{Kind: "audit", From: base.Add(10 * time.Minute), To: base.Add(10 * time.Minute)},
		{Kind: "audit", From: base.Add(20 * time.Minute), Tenant: str("t1"), Cluster: "cls-a", Namespaces: []string{"default", "web"}, Result: "success"},
	}
	for i, q := range queries {
		var want []Record
		for _, r := range stored {
			if matches(q, r) {
				want = append(want, r)
			}
		}
		sortNewestFirst(want)
		for _, limit := range []int{0, 5, 1000} {
			q.Limit = limit
			got := all(t, s, q)
			if !slices.Equal(ids(got), ids(want)) {
				t.Errorf("query %d %+v (limit %d):\n got %v\nwant %v", i, q, limit, ids(got), ids(want))
			}
		}
	}
}

func testPagination(t *testing.T, dsn string) {
	ctx := context.Background()
	s := open(t, dsn)
	in := fixture()
	if err := s.Append(ctx, in); err != nil {
		t.Fatal(err)
	}
	q := Query{Kind: "audit", Limit: 7}
	var got []Record
	for page := 0; ; page++ {
		p, err := s.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Records...)
		if page == 2 {
			// Records appended while paging are newer than the cursor:
			// they neither repeat nor shift what is left.
			newer := fixture()[:50]
			for i := range newer {
				newer[i].Time = time.Now()
			}
			if err := s.Append(ctx, newer); err != nil {
				t.Fatal(err)
			}
		}
		if p.Continue == "" {
			break
		}
		q.Continue = p.Continue
	}
	if len(got) != 240 {
		t.Fatalf("paged through %d records, want 240", len(got))
	}
	seen := map[int64]bool{}
	for i, r := range got {
		if seen[r.ID] {
			t.Fatalf("record %d seen twice", r.ID)
		}
		seen[r.ID] = true
		if i > 0 {
			p := got[i-1]
			if r.Time.After(p.Time) || (r.Time.Equal(p.Time) && r.ID > p.ID) {
				t.Fatalf("not newest first at %d: %v/%d after %v/%d", i, r.Time, r.ID, p.Time, p.ID)
			}
		}
	}
}

func testUpsert(t *testing.T, dsn string) {
	ctx := context.Background()
	s := open(t, dsn)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(uid string, count int, kind string) Record {
		return Record{Kind: kind, Time: t0.Add(time.Duration(count) * time.Second), Tenant: "t1", Namespace: "default",
			UID: uid, Name: fmt.Sprintf("n%d", count), Data: json.RawMessage(fmt.Sprintf(`{"count":%d}`, count))}
	}
	if err := s.Append(ctx, []Record{ev("u1", 1, "event"), ev("u2", 1, "event"), {Kind: "event", Time: t0}, ev("u1", 1, "alarm")}); err != nil {
		t.Fatal(err)
	}
	first := all(t, s, Query{Kind: "event"})
	// Seen again, and twice within one batch: the last one wins.
	if err := s.Append(ctx, []Record{ev("u1", 2, "event"), ev("u1", 3, "event"), {Kind: "event", Time: t0}}); err != nil {
		t.Fatal(err)
	}
	got := all(t, s, Query{Kind: "event"})
	if len(got) != 4 {
		t.Fatalf("%d event records, want 4 (u1, u2, and two without UID): %+v", len(got), got)
	}
	var u1 []Record
	for _, r := range got {
		if r.UID == "u1" {
			u1 = append(u1, r)
		}
	}
	if len(u1) != 1 || string(u1[0].Data) != `{"count":3}` || u1[0].Name != "n3" || !u1[0].Time.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("u1 is %+v, want the one of count 3", u1)
	}
	// The row is replaced in place: same id.
	for _, r := range first {
		if r.UID == "u1" && r.ID != u1[0].ID {
			t.Fatalf("u1 changed id from %d to %d", r.ID, u1[0].ID)
		}
	}
	// A UID is unique per kind only.
	if a := all(t, s, Query{Kind: "alarm"}); len(a) != 1 || string(a[0].Data) != `{"count":1}` {
		t.Fatalf("alarm u1: %+v", a)
	}
}

func testBadQueries(t *testing.T, dsn string) {
	s := open(t, dsn)
	now := time.Now()
	junk := base64.RawURLEncoding.EncodeToString([]byte(`{"x":1}`))
	for _, c := range []struct {
		q    Query
		want string
	}{
		{Query{}, "kind is required"},
		{Query{Kind: "audit", From: now, To: now.Add(-time.Hour)}, "the end of the time range"},
		{Query{Kind: "audit", Limit: 1001}, "limit 1001 is over the maximum 1000; page with continue"},
		{Query{Kind: "audit", Limit: -1}, "limit -1 is negative"},
		{Query{Kind: "audit", Continue: "!!not base64"}, "continue token"},
		{Query{Kind: "audit", Continue: junk}, "continue token"},
		{Query{Kind: "audit", Result: "maybe"}, `result "maybe"`},
		{Query{Kind: "audit", Result: "failure", Code: 500}, "not both"},
	} {
		_, err := s.Search(context.Background(), c.q)
		if !errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want ErrBadQuery saying %q", c.q, err, c.want)
		}
	}
}

func count(t *testing.T, s Store, kind string) int {
	t.Helper()
	return len(all(t, s, Query{Kind: kind, Limit: 1000}))
}

func testRetentionAge(t *testing.T, dsn string) {
	ctx := context.Background()
	s := open(t, dsn)
	now := time.Now()
	var recs []Record
	for _, kind := range []string{"audit", "event"} {
		for _, age := range []int{10, 5, 1, 0} {
			recs = append(recs, Record{Kind: kind, Time: now.Add(-time.Duration(age) * 24 * time.Hour)})
		}
	}
	if err := s.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx, Retention{Kind: "audit", MaxAge: 3 * 24 * time.Hour})
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want 2", n, err)
	}
	if c := count(t, s, "event"); c != 4 {
		t.Fatalf("pruning audit left %d events, want 4", c)
	}
	n, err = s.Prune(ctx, Retention{MaxAge: 2 * 24 * time.Hour})
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want the 2 old events", n, err)
	}
	for _, kind := range []string{"audit", "event"} {
		got := all(t, s, Query{Kind: kind})
		if len(got) != 2 || got[1].Time.Before(now.Add(-2*24*time.Hour)) {
			t.Fatalf("%s left: %+v", kind, got)
		}
	}
}

func testRetentionCount(t *testing.T, dsn string) {
	ctx := context.Background()
	s := open(t, dsn)
	t0 := time.Now().Add(-time.Hour)
	// More than one chunk of deletes.
	const total, keep = pruneChunk*2 + 300, 1000
	recs := make([]Record, 0, 1000)
	for i := 0; i < total; i++ {
		recs = append(recs, Record{Kind: "audit", Time: t0.Add(time.Duration(i) * time.Millisecond), Name: fmt.Sprint(i)})
		if len(recs) == cap(recs) || i == total-1 {
			if err := s.Append(ctx, recs); err != nil {
				t.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	if err := s.Append(ctx, []Record{{Kind: "event", Time: t0}, {Kind: "event", Time: t0}}); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx, Retention{MaxRecords: keep})
	if err != nil || n != total-keep {
		t.Fatalf("pruned %d, %v; want %d", n, err, total-keep)
	}
	got := all(t, s, Query{Kind: "audit", Limit: 1000})
	if len(got) != keep || got[0].Name != fmt.Sprint(total-1) || got[keep-1].Name != fmt.Sprint(total-keep) {
		t.Fatalf("kept %d from %s to %s, want the newest %d", len(got), got[len(got)-1].Name, got[0].Name, keep)
	}
	if c := count(t, s, "event"); c != 2 {
		t.Fatalf("%d events left, want 2", c)
	}
	// Nothing more to do.
	if n, err := s.Prune(ctx, Retention{MaxRecords: keep}); err != nil || n != 0 {
		t.Fatalf("second prune: %d, %v", n, err)
	}
}

func testRetentionBytes(t *testing.T, dsn string) {
	ctx := context.Background()
	s := open(t, dsn)
	t0 := time.Now().Add(-time.Hour)
	var recs []Record
	for i := 0; i < 50; i++ {
		// 100 bytes each.
		recs = append(recs, Record{Kind: "audit", Time: t0.Add(time.Duration(i) * time.Second), Data: json.RawMessage(fmt.Sprintf(`{"i":%3d,"pad":"%s"}`, i, strings.Repeat("x", 100-18)))})
	}
	if len(recs[0].Data) != 100 {
		t.Fatalf("fixture data is %d bytes", len(recs[0].Data))
	}
	if err := s.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx, Retention{Kind: "audit", MaxBytes: 1050})
	if err != nil || n != 40 {
		t.Fatalf("pruned %d, %v; want 40", n, err)
	}
	got := all(t, s, Query{Kind: "audit"})
	if len(got) != 10 || !got[9].Time.Equal(t0.Add(40*time.Second)) {
		t.Fatalf("kept %+v", got)
	}
}

func testAppendChecks(t *testing.T, dsn string) {
	ctx := context.Background()
	s := open(t, dsn)
	if err := s.Append(ctx, []Record{{Kind: "audit"}, {Time: time.Now()}}); err == nil || !strings.Contains(err.Error(), "record 1 has no kind") {
		t.Fatalf("appending a record without kind: %v", err)
	}
	if c := count(t, s, "audit"); c != 0 {
		t.Fatalf("a refused batch stored %d records", c)
	}
	before := time.Now()
	in := []Record{{Kind: "audit"}}
	if err := s.Append(ctx, in); err != nil {
		t.Fatal(err)
	}
	if !in[0].Time.IsZero() {
		t.Fatal("Append changed the caller's record")
	}
	got := all(t, s, Query{Kind: "audit"})
	if len(got) != 1 || got[0].Time.Before(before.Add(-time.Second)) || got[0].Data != nil {
		t.Fatalf("stored %+v, want one record of now without data", got)
	}
	if err := s.Append(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// What PostgreSQL's text cannot hold is cleaned, not a poison record.
	if err := s.Append(ctx, []Record{{Kind: "odd", User: "a\x00b", Name: "bad\xff"}}); err != nil {
		t.Fatal(err)
	}
	if got := all(t, s, Query{Kind: "odd"}); len(got) != 1 || got[0].User != "ab" || got[0].Name != "bad\uFFFD" {
		t.Fatalf("stored %+v", got)
	}
}

func testLoad(t *testing.T, dsn string) {
	ctx := context.Background()
	s := open(t, dsn)
	const n = 2500
	i := 0
	t0 := time.Now().Add(-time.Hour)
	loaded, err := s.(BulkLoader).Load(ctx, func() (Record, bool) {
		if i == n {
			return Record{}, false
		}
		i++
		return Record{Kind: "audit", Time: t0.Add(time.Duration(i) * time.Millisecond), Tenant: "t1", User: "u", Data: json.RawMessage(`{}`)}, true
	})
	if err != nil || loaded != n {
		t.Fatalf("loaded %d, %v", loaded, err)
	}
	tenant := "t1"
	if got := all(t, s, Query{Kind: "audit", Tenant: &tenant, User: "u", Limit: 1000}); len(got) != n {
		t.Fatalf("found %d loaded records, want %d", len(got), n)
	}
}

func testConcurrent(t *testing.T, dsn string) {
	ctx := context.Background()
	s := open(t, dsn)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				batch := make([]Record, 50)
				for j := range batch {
					batch[j] = Record{Kind: "audit", Tenant: fmt.Sprint(w)}
				}
				if err := s.Append(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := s.Search(ctx, Query{Kind: "audit", Limit: 50}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if c := count(t, s, "audit"); c != 4*20*50 {
		t.Fatalf("%d records, want %d", c, 4*20*50)
	}
}

// TestPostgresDown: a PostgreSQL that is not there fails Open at once, with
// the address and what to do.
func TestPostgresDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	start := time.Now()
	_, err = Open(context.Background(), "postgres://kstack:secret-pw@"+addr+"/records?sslmode=disable", nil)
	took := time.Since(start)
	if err == nil {
		t.Fatal("Open succeeded with no PostgreSQL")
	}
	for _, want := range []string{"cannot connect to PostgreSQL at " + addr, "check that PostgreSQL is running"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("error %q shows the password", err)
	}
	if took > 5*time.Second {
		t.Errorf("Open took %v to fail", took)
	}
}

// TestPostgresServer: a database that does not exist is named as such; a
// store whose server stops fails Append with an error, and works again
// once it is back (the writer retries).
func TestPostgresServer(t *testing.T) {
	srv := pgtest.New(t)
	ctx := context.Background()
	_, err := Open(ctx, strings.Replace(srv.DSN, "/kstack1?", "/nope?", 1), nil)
	if err == nil || !strings.Contains(err.Error(), `refused database "nope"`) || !strings.Contains(err.Error(), srv.Addr()) {
		t.Fatalf("opening a missing database: %v", err)
	}
	s := open(t, srv.DSN)
	if err := s.Append(ctx, []Record{{Kind: "audit"}}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := s.Append(ctx, []Record{{Kind: "audit"}}); err == nil {
		t.Fatal("Append to a stopped PostgreSQL succeeded")
	}
	srv.Start()
	for i := 0; i < 50; i++ {
		if err = s.Append(ctx, []Record{{Kind: "audit"}}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Append after PostgreSQL came back: %v", err)
	}
	if c := count(t, s, "audit"); c != 2 {
		t.Fatalf("%d records, want 2", c)
	}
}

func TestDSN(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, dsn := range []string{"sqlite:" + dir + "/a/records.db", dir + "/b.db", "sqlite://" + dir + "/c.db"} {
		s, err := Open(ctx, dsn, nil)
		if err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		if s.Dialect() != "sqlite" {
			t.Fatalf("%s: dialect %s", dsn, s.Dialect())
		}
		s.Close()
	}
	for _, dsn := range []string{"", "mysql://x/y", "sqlite:"} {
		if _, err := Open(ctx, dsn, nil); err == nil {
			t.Fatalf("%q opened", dsn)
		}
	}
}
