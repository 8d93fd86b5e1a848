package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kstack/kstack/internal/recordstore"
	"github.com/kstack/kstack/internal/testutil/pgtest"
)

// BenchmarkRecordStore loads KSTACK_BENCH_RECORDS (10,000,000) audit
// records spread over 50 tenants, 2,000 users, 20 clusters, 200 namespaces,
// 30 resources, 8 verbs and 30 days into SQLite and into PostgreSQL by each
// one's bulk path, then measures sustained Append in batches of 500 and the
// latency of 200 searches of the shapes the console asks, side by side.
// It needs no kstack binary, only PostgreSQL's (hack/install-deps.sh test).
func BenchmarkRecordStore(b *testing.B) {
	if os.Getenv("KSTACK_BENCH") == "" {
		b.Skip("set KSTACK_BENCH=1 (make bench): this loads 10 million records twice")
	}
	n := 10_000_000
	if v, err := strconv.Atoi(os.Getenv("KSTACK_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	// Durable settings, as an installation would run: the test defaults
	// turn fsync off. SQLite's synchronous=NORMAL does not sync each
	// commit either, so commits are compared without that cost on both.
	srv := pgtest.New(b, "fsync = on", "full_page_writes = on", "synchronous_commit = off",
		"shared_buffers = '1GB'", "max_wal_size = '8GB'", "checkpoint_timeout = '15min'", "maintenance_work_mem = '512MB'")
	dir, err := os.MkdirTemp("", "recordbench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	sqlitePath := filepath.Join(dir, "records.db")

	type result struct {
		load, writesPerSec float64
		size               int64
		lat                map[string][]time.Duration
		all                []time.Duration
	}
	results := map[string]*result{}
	for _, d := range []struct{ name, dsn string }{{"sqlite", "sqlite:" + sqlitePath}, {"postgres", srv.DSN}} {
		s, err := recordstore.Open(ctx, d.dsn, nil)
		if err != nil {
			b.Fatal(err)
		}
		r := &result{lat: map[string][]time.Duration{}}
		results[d.name] = r

		g := newAuditGen(n)
		start := time.Now()
		loaded, err := s.(recordstore.BulkLoader).Load(ctx, g.next)
		if err != nil {
			b.Fatalf("%s: load: %v", d.name, err)
		}
		r.load = time.Since(start).Seconds()
		fmt.Printf("%s: loaded %d records in %.0f s (%.0f records/s, statistics included)\n", d.name, loaded, r.load, float64(loaded)/r.load)

		// Sustained writes: batches of 500 for 20 s, as the writer sends
		// them; the time counted is Append's, not making the records.
		batch := make([]recordstore.Record, 500)
		var (
			written  int
			inAppend time.Duration
		)
		for start := time.Now(); time.Since(start) < 20*time.Second; {
			now := time.Now()
			for i := range batch {
				batch[i] = g.record(now)
			}
			t0 := time.Now()
			if err := s.Append(ctx, batch); err != nil {
				b.Fatalf("%s: append: %v", d.name, err)
			}
			inAppend += time.Since(t0)
			written += len(batch)
		}
		r.writesPerSec = float64(written) / inAppend.Seconds()
		fmt.Printf("%s: %.0f writes/s through Append in batches of 500 (%d written)\n", d.name, r.writesPerSec, written)

		// The same queries for both: the generator's seed is fixed.
		qr := rand.New(rand.NewPCG(7, 7))
		for i := 0; i < 200; i++ {
			shape, q := g.query(qr, i)
			start := time.Now()
			p, err := s.Search(ctx, q)
			took := time.Since(start)
			if err != nil {
				b.Fatalf("%s: search %s: %v", d.name, shape, err)
			}
			if shape == "tenant, next page" && p.Continue != "" {
				// The page after: as cheap as the first.
				q.Continue = p.Continue
				start = time.Now()
				if _, err := s.Search(ctx, q); err != nil {
					b.Fatal(err)
				}
				took = time.Since(start)
			}
			r.lat[shape] = append(r.lat[shape], took)
			r.all = append(r.all, took)
		}
		s.Close()
		if d.name == "sqlite" {
			for _, f := range []string{"", "-wal"} {
				if fi, err := os.Stat(sqlitePath + f); err == nil {
					r.size += fi.Size()
				}
			}
			// Room on disk for PostgreSQL's copy.
			os.RemoveAll(dir)
		} else {
			c, err := pgx.Connect(ctx, srv.DSN)
			if err != nil {
				b.Fatal(err)
			}
			if err := c.QueryRow(ctx, "SELECT pg_total_relation_size('records')").Scan(&r.size); err != nil {
				b.Fatal(err)
			}
			c.Close(ctx)
		}
	}

	sq, pg := results["sqlite"], results["postgres"]
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	fmt.Printf("\nrecord store, %d audit records          %22s %22s\n", n, "SQLite", "PostgreSQL")
	fmt.Printf("  bulk load                              %20.0f s %20.0f s\n", sq.load, pg.load)
	fmt.Printf("  size on disk (table and indexes)       %18.1f GiB %18.1f GiB\n", float64(sq.size)/(1<<30), float64(pg.size)/(1<<30))
	fmt.Printf("  Append, batches of 500                 %16.0f rec/s %16.0f rec/s\n", sq.writesPerSec, pg.writesPerSec)
	fmt.Printf("  search latency, ms (p50 / p95 / max)\n")
	for _, shape := range queryShapes {
		a, c := sq.lat[shape], pg.lat[shape]
		fmt.Printf("    %-34s %6.1f /%6.1f /%6.1f   %6.1f /%6.1f /%6.1f\n", shape,
			ms(percentile(a, .5)), ms(percentile(a, .95)), ms(percentile(a, 1)),
			ms(percentile(c, .5)), ms(percentile(c, .95)), ms(percentile(c, 1)))
	}
	fmt.Printf("    %-34s %6.1f /%6.1f /%6.1f   %6.1f /%6.1f /%6.1f\n", "all 200",
		ms(percentile(sq.all, .5)), ms(percentile(sq.all, .95)), ms(percentile(sq.all, 1)),
		ms(percentile(pg.all, .5)), ms(percentile(pg.all, .95)), ms(percentile(pg.all, 1)))
	b.ReportMetric(sq.writesPerSec, "sqlite-writes/s")
	b.ReportMetric(pg.writesPerSec, "pg-writes/s")
	b.ReportMetric(ms(percentile(sq.all, .95)), "sqlite-search-p95-ms")
	b.ReportMetric(ms(percentile(pg.all, .95)), "pg-search-p95-ms")
}

// auditGen makes audit records as a platform of 50 tenants would log them:
// each user, cluster and namespace belongs to one tenant; reads outnumber
// writes; most calls succeed.
type auditGen struct {
	n, i      int
	rnd       *rand.Rand
	loadStart time.Time
	start     time.Time
	step      time.Duration
}

const (
	genTenants    = 50
	genUsers      = 2000
	genClusters   = 20
	genNamespaces = 200
	genDays       = 30
)

var (
	genResources = []string{"pods", "deployments", "services", "configmaps", "secrets", "replicasets", "statefulsets", "daemonsets",
		"jobs", "cronjobs", "ingresses", "persistentvolumeclaims", "serviceaccounts", "roles", "rolebindings", "events", "endpoints",
		"nodes", "namespaces", "networkpolicies", "horizontalpodautoscalers", "poddisruptionbudgets", "limitranges", "resourcequotas",
		"clusters", "projects", "users", "policies", "apikeys", "leases"}
	// Weighted: a verb appears as often as it is listed.
	genVerbs = []string{"get", "get", "get", "list", "list", "list", "watch", "watch", "create", "update", "patch", "delete", "deletecollection"}
	genCodes = []int{200, 200, 200, 200, 200, 200, 200, 200, 201, 201, 403, 404, 409, 500}
)

func newAuditGen(n int) *auditGen {
	start := time.Now().Add(-genDays * 24 * time.Hour)
	return &auditGen{n: n, rnd: rand.New(rand.NewPCG(1, 2)), start: start, loadStart: time.Now(), step: genDays * 24 * time.Hour / time.Duration(max(n, 1))}
}

// next is the Load source: records in time order over the 30 days.
func (g *auditGen) next() (recordstore.Record, bool) {
	if g.i == g.n {
		return recordstore.Record{}, false
	}
	t := g.start.Add(time.Duration(g.i) * g.step)
	g.i++
	if g.i%1_000_000 == 0 {
		fmt.Printf("  %d records loaded after %.0f s\n", g.i, time.Since(g.loadStart).Seconds())
	}
	return g.record(t), true
}

// A user u is in tenant u%50; tenant t's clusters are t%20 and (t+7)%20;
// cluster c's namespaces are c*10 .. c*10+9.
func (g *auditGen) record(t time.Time) recordstore.Record {
	r := g.rnd
	user := r.IntN(genUsers)
	tenant := user % genTenants
	cluster := (tenant + 7*r.IntN(2)) % genClusters
	ns := cluster*(genNamespaces/genClusters) + r.IntN(genNamespaces/genClusters)
	res := genResources[r.IntN(len(genResources))]
	verb := genVerbs[r.IntN(len(genVerbs))]
	code := genCodes[r.IntN(len(genCodes))]
	name := fmt.Sprintf("%s-%d", res[:len(res)-1], r.IntN(500))
	rec := recordstore.Record{
		Kind:      "audit",
		Time:      t,
		Tenant:    fmt.Sprintf("tenant-%02d", tenant),
		User:      fmt.Sprintf("user-%04d", user),
		Cluster:   fmt.Sprintf("cls-%02d", cluster),
		Namespace: fmt.Sprintf("ns-%03d", ns),
		Project:   fmt.Sprintf("prj-%03d", ns/4),
		Resource:  res,
		Name:      name,
		Verb:      verb,
		Code:      code,
	}
	// A metadata-level audit.k8s.io/v1 Event, about 600 bytes, built
	// without encoding/json so that generating is not what is measured.
	ts := t.UTC().Format(time.RFC3339Nano)
	rec.Data = fmt.Appendf(nil, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%016x%016x","stage":"ResponseComplete",`+
		`"requestURI":"/api/v1/namespaces/%s/%s/%s","verb":"%s","user":{"username":"%s","groups":["kstack:tenant:%s","system:authenticated"],`+
		`"extra":{"kstack.io/tenant":["%s"]}},"sourceIPs":["10.%d.%d.%d"],"userAgent":"kubectl/v1.37.2 (linux/amd64) kubernetes/abcdef0",`+
		`"objectRef":{"resource":"%s","namespace":"%s","name":"%s","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":%d},`+
		`"requestReceivedTimestamp":"%s","stageTimestamp":"%s","annotations":{"authorization.k8s.io/decision":"allow",`+
		`"authorization.k8s.io/reason":"policy","kstack.io/cluster":"%s"}}`,
		r.Uint64(), r.Uint64(), rec.Namespace, res, name, verb, rec.User, rec.Tenant, rec.Tenant,
		r.IntN(256), r.IntN(256), r.IntN(256), res, rec.Namespace, name, code, ts, ts, rec.Cluster)
	return rec
}

var queryShapes = []string{
	"tenant, newest page",
	"tenant, next page",
	"all tenants, newest page",
	"tenant + user",
	"user, all tenants",
	"cluster + namespace",
	"cluster + 3 namespaces",
	"tenant + resource + verb",
	"tenant + verb",
	"tenant + 1 day",
	"tenant + user + 7 days",
	"tenant + failures",
}

// query is the i-th of the measured searches: the shapes in turn, with
// values drawn from the same spread as the records.
func (g *auditGen) query(r *rand.Rand, i int) (string, recordstore.Query) {
	shape := queryShapes[i%len(queryShapes)]
	user := r.IntN(genUsers)
	tenant := fmt.Sprintf("tenant-%02d", user%genTenants)
	cluster := (user%genTenants + 7*r.IntN(2)) % genClusters
	ns := func() string {
		return fmt.Sprintf("ns-%03d", cluster*(genNamespaces/genClusters)+r.IntN(genNamespaces/genClusters))
	}
	end := time.Now()
	day := end.Add(-time.Duration(r.IntN(genDays*24)) * time.Hour)
	q := recordstore.Query{Kind: "audit", Tenant: &tenant}
	switch shape {
	case "all tenants, newest page":
		q.Tenant = nil
	case "tenant + user":
		q.User = fmt.Sprintf("user-%04d", user)
	case "user, all tenants":
		q.Tenant = nil
		q.User = fmt.Sprintf("user-%04d", user)
	case "cluster + namespace":
		q.Cluster = fmt.Sprintf("cls-%02d", cluster)
		q.Namespaces = []string{ns()}
	case "cluster + 3 namespaces":
		q.Cluster = fmt.Sprintf("cls-%02d", cluster)
		q.Namespaces = []string{ns(), ns(), ns()}
	case "tenant + resource + verb":
		q.Resource = genResources[r.IntN(len(genResources))]
		q.Verb = genVerbs[r.IntN(len(genVerbs))]
	case "tenant + verb":
		q.Verb = genVerbs[r.IntN(len(genVerbs))]
	case "tenant + 1 day":
		q.From, q.To = day.Add(-24*time.Hour), day
	case "tenant + user + 7 days":
		q.User = fmt.Sprintf("user-%04d", user)
		q.From, q.To = day.Add(-7*24*time.Hour), day
	case "tenant + failures":
		q.Result = "failure"
	}
	return shape, q
}
