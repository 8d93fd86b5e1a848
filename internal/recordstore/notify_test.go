package recordstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestNotifyState runs the NotifyState cases against every dialect.
func TestNotifyState(t *testing.T) {
	cases := []struct {
		name string
		f    func(t *testing.T, ns NotifyState)
	}{
		{"nflog keeps the newest entry", testNFLog},
		{"outbox dedup key is unique", testOutboxDedup},
		{"outbox lease, finish and retry", testOutboxLease},
		{"outbox lease runs out and is taken over", testOutboxTakeover},
		{"concurrent leasers never share a row", testOutboxConcurrent},
		{"prune", testNotifyPrune},
		{"an expired log entry outlives the outbox rows keyed from it", testNFLogOutlivesOutbox},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			newDB := b.setup(t)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					s := open(t, newDB(t))
					ns, ok := AsNotifyState(s)
					if !ok {
						t.Fatal("the store has no NotifyState")
					}
					c.f(t, ns)
				})
			}
		})
	}
}

func testNFLog(t *testing.T, ns NotifyState) {
	ctx := context.Background()
	now := time.Now()
	if b, ts, err := ns.NFLogGet(ctx, "g:r"); err != nil || b != nil || !ts.IsZero() {
		t.Fatalf("empty log: %q, %s, %v", b, ts, err)
	}
	if err := ns.NFLogPut(ctx, "g:r", []byte("two"), now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// An older entry does not replace a newer one.
	if err := ns.NFLogPut(ctx, "g:r", []byte("one"), now.Add(-time.Second), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, ts, err := ns.NFLogGet(ctx, "g:r"); err != nil || string(b) != "two" || !ts.Equal(now) {
		t.Fatalf("got %q, %v; want two", b, err)
	}
	if err := ns.NFLogPut(ctx, "g:r", []byte("three"), now.Add(time.Second), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, _, err := ns.NFLogGet(ctx, "g:r"); err != nil || string(b) != "three" {
		t.Fatalf("got %q, %v; want three", b, err)
	}
	// Expired entries read as none, but their ts is still there (dedup
	// keys are derived from it).
	if err := ns.NFLogPut(ctx, "old", []byte("x"), now, now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if b, ts, err := ns.NFLogGet(ctx, "old"); err != nil || b != nil || !ts.Equal(now) {
		t.Fatalf("expired: %q, %s, %v", b, ts, err)
	}
}

func testOutboxDedup(t *testing.T, ns NotifyState) {
	ctx := context.Background()
	for i, want := range []bool{true, false, false} {
		added, err := ns.OutboxAdd(ctx, OutboxItem{DedupKey: "k1", Channel: "ns/c", Payload: []byte(fmt.Sprint(i))})
		if err != nil || added != want {
			t.Fatalf("add #%d: added %v, %v; want %v", i, added, err, want)
		}
	}
	if _, err := ns.OutboxAdd(ctx, OutboxItem{Channel: "ns/c"}); err == nil {
		t.Fatal("an item without dedup key was accepted")
	}
	items, err := ns.OutboxLease(ctx, "ns/c", "me", 10, time.Now(), time.Minute)
	if err != nil || len(items) != 1 || string(items[0].Payload) != "0" {
		t.Fatalf("lease: %+v, %v", items, err)
	}
}

func testOutboxLease(t *testing.T, ns NotifyState) {
	ctx := context.Background()
	now := time.Now()
	for i := 0; i < 5; i++ {
		ch := "ns/a"
		if i%2 == 1 {
			ch = "ns/b"
		}
		if _, err := ns.OutboxAdd(ctx, OutboxItem{DedupKey: fmt.Sprint("k", i), Channel: ch, Payload: []byte{byte(i)}, NextAt: now.Add(time.Duration(i) * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
	}
	// A row due later is not listed yet.
	if _, err := ns.OutboxAdd(ctx, OutboxItem{DedupKey: "later", Channel: "ns/c", Payload: []byte{9}, NextAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	at := now.Add(time.Second)
	chs, err := ns.OutboxDueChannels(ctx, at)
	slices.Sort(chs)
	if err != nil || !slices.Equal(chs, []string{"ns/a", "ns/b"}) {
		t.Fatalf("due channels %v, %v", chs, err)
	}
	items, err := ns.OutboxLease(ctx, "ns/a", "me", 2, at, time.Minute)
	if err != nil || len(items) != 2 || items[0].Payload[0] != 0 || items[1].Payload[0] != 2 || items[0].Attempts != 1 {
		t.Fatalf("lease: %+v, %v", items, err)
	}
	// Leased rows are not leased again.
	more, err := ns.OutboxLease(ctx, "ns/a", "other", 10, at, time.Minute)
	if err != nil || len(more) != 1 || more[0].Payload[0] != 4 {
		t.Fatalf("second lease: %+v, %v", more, err)
	}
	if chs, _ := ns.OutboxDueChannels(ctx, at); !slices.Equal(chs, []string{"ns/b"}) {
		t.Fatalf("due channels while leased: %v", chs)
	}
	if err := ns.OutboxFinish(ctx, more[0].ID, "other", OutboxResult{Status: OutboxSent}); err != nil {
		t.Fatal(err)
	}
	// Another owner cannot finish my row.
	if err := ns.OutboxFinish(ctx, items[0].ID, "other", OutboxResult{Status: OutboxSent}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("finish by another owner: %v", err)
	}
	if err := ns.OutboxFinish(ctx, items[0].ID, "me", OutboxResult{Status: OutboxSent, Code: 200}); err != nil {
		t.Fatal(err)
	}
	// Finished once only.
	if err := ns.OutboxFinish(ctx, items[0].ID, "me", OutboxResult{Status: OutboxFailed}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("second finish: %v", err)
	}
	// A retry comes back at NextAt with its attempts counted.
	retryAt := at.Add(10 * time.Second)
	if err := ns.OutboxFinish(ctx, items[1].ID, "me", OutboxResult{Status: OutboxPending, NextAt: retryAt, Code: 503, LastError: "503 Service Unavailable"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := ns.OutboxLease(ctx, "ns/a", "me", 10, at.Add(5*time.Second), time.Minute); len(got) != 0 {
		t.Fatalf("leased before its retry time: %+v", got)
	}
	got, err := ns.OutboxLease(ctx, "ns/a", "me", 10, retryAt, time.Minute)
	if err != nil || len(got) != 1 || got[0].ID != items[1].ID || got[0].Attempts != 2 || got[0].LastError != "503 Service Unavailable" || got[0].Code != 503 {
		t.Fatalf("retry lease: %+v, %v", got, err)
	}
	if err := ns.OutboxFinish(ctx, got[0].ID, "me", OutboxResult{Status: OutboxFailed, LastError: "gave up"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := ns.OutboxLease(ctx, "ns/a", "me", 10, retryAt.Add(time.Hour), time.Minute); len(got) != 0 {
		t.Fatalf("a failed row was leased: %+v", got)
	}
}

func testOutboxTakeover(t *testing.T, ns NotifyState) {
	ctx := context.Background()
	now := time.Now()
	if _, err := ns.OutboxAdd(ctx, OutboxItem{DedupKey: "k", Channel: "ns/a", Payload: []byte("p"), NextAt: now}); err != nil {
		t.Fatal(err)
	}
	a, err := ns.OutboxLease(ctx, "ns/a", "crashed", 1, now, 30*time.Second)
	if err != nil || len(a) != 1 {
		t.Fatalf("lease: %+v, %v", a, err)
	}
	if b, _ := ns.OutboxLease(ctx, "ns/a", "new", 1, now.Add(29*time.Second), 30*time.Second); len(b) != 0 {
		t.Fatal("leased before the lease ran out")
	}
	b, err := ns.OutboxLease(ctx, "ns/a", "new", 1, now.Add(31*time.Second), 30*time.Second)
	if err != nil || len(b) != 1 || b[0].ID != a[0].ID || b[0].Attempts != 2 {
		t.Fatalf("takeover: %+v, %v", b, err)
	}
	if err := ns.OutboxFinish(ctx, a[0].ID, "crashed", OutboxResult{Status: OutboxSent}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("the old owner finished: %v", err)
	}
	if err := ns.OutboxFinish(ctx, b[0].ID, "new", OutboxResult{Status: OutboxSent}); err != nil {
		t.Fatal(err)
	}
}

func testOutboxConcurrent(t *testing.T, ns NotifyState) {
	ctx := context.Background()
	now := time.Now()
	const n = 60
	for i := 0; i < n; i++ {
		if _, err := ns.OutboxAdd(ctx, OutboxItem{DedupKey: fmt.Sprint(i), Channel: "ns/a", Payload: []byte("p"), NextAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu   sync.Mutex
		seen = map[int64]string{}
		wg   sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		owner := fmt.Sprint("w", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				items, err := ns.OutboxLease(ctx, "ns/a", owner, 3, now, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if len(items) == 0 {
					return
				}
				mu.Lock()
				for _, it := range items {
					if o, dup := seen[it.ID]; dup {
						t.Errorf("row %d leased by %s and %s", it.ID, o, owner)
					}
					seen[it.ID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d rows leased, want %d", len(seen), n)
	}
}

func testNotifyPrune(t *testing.T, ns NotifyState) {
	ctx := context.Background()
	now := time.Now()
	_ = ns.NFLogPut(ctx, "expired", []byte("x"), now.Add(-2*NFLogPruneMargin), now.Add(-time.Minute))
	_ = ns.NFLogPut(ctx, "live", []byte("x"), now, now.Add(time.Hour))
	for _, k := range []string{"sent", "pending"} {
		if _, err := ns.OutboxAdd(ctx, OutboxItem{DedupKey: k, Channel: "ns/" + k, Payload: []byte("p")}); err != nil {
			t.Fatal(err)
		}
	}
	items, _ := ns.OutboxLease(ctx, "ns/sent", "me", 1, time.Now(), time.Minute)
	if len(items) != 1 {
		t.Fatal("nothing leased")
	}
	if err := ns.OutboxFinish(ctx, items[0].ID, "me", OutboxResult{Status: OutboxSent}); err != nil {
		t.Fatal(err)
	}
	n, err := ns.PruneNotifyState(ctx, time.Now().Add(30*time.Minute), time.Minute)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want 2 (expired entry, sent row)", n, err)
	}
	if b, _, _ := ns.NFLogGet(ctx, "live"); b == nil {
		t.Fatal("live entry pruned")
	}
	if chs, _ := ns.OutboxDueChannels(ctx, time.Now()); !slices.Equal(chs, []string{"ns/pending"}) {
		t.Fatalf("pending row pruned: %v", chs)
	}
}

func testNFLogOutlivesOutbox(t *testing.T, ns NotifyState) {
	ctx := context.Background()
	now := time.Now()
	// A notification enqueued, then logged; the entry expires.
	created := now.Add(-3 * time.Hour)
	if _, err := ns.OutboxAdd(ctx, OutboxItem{DedupKey: "k0", Channel: "ns/c", Payload: []byte("p"), Created: created}); err != nil {
		t.Fatal(err)
	}
	if err := ns.NFLogPut(ctx, "g:r", []byte("x"), created.Add(time.Second), now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	items, _ := ns.OutboxLease(ctx, "ns/c", "me", 1, time.Now(), time.Minute)
	if len(items) != 1 {
		t.Fatal("nothing leased")
	}
	if err := ns.OutboxFinish(ctx, items[0].ID, "me", OutboxResult{Status: OutboxSent}); err != nil {
		t.Fatal(err)
	}
	// The outbox row stays for keepDone: so does the entry.
	if n, err := ns.PruneNotifyState(ctx, time.Now(), time.Hour); err != nil || n != 0 {
		t.Fatalf("pruned %d, %v; want nothing", n, err)
	}
	if b, ts, err := ns.NFLogGet(ctx, "g:r"); err != nil || b != nil || ts.IsZero() {
		t.Fatalf("expired entry: %q, %s, %v", b, ts, err)
	}
	// A newer row (another group's) does not keep it; the old row going does
	// not take the newer one.
	if _, err := ns.OutboxAdd(ctx, OutboxItem{DedupKey: "k1", Channel: "ns/c", Payload: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	if n, err := ns.PruneNotifyState(ctx, time.Now().Add(2*time.Hour), time.Hour); err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want 2 (the sent row, then the entry)", n, err)
	}
	if b, ts, err := ns.NFLogGet(ctx, "g:r"); err != nil || b != nil || !ts.IsZero() {
		t.Fatalf("entry not pruned: %q, %s, %v", b, ts, err)
	}
	if chs, _ := ns.OutboxDueChannels(ctx, time.Now()); !slices.Equal(chs, []string{"ns/c"}) {
		t.Fatalf("pending row pruned: %v", chs)
	}
}
