package diskqueue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"
)

func open(t testing.TB, dir string, o Options) *Queue {
	t.Helper()
	q, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return q
}

func put(t testing.TB, q *Queue, items ...string) {
	t.Helper()
	for _, it := range items {
		if err := q.Put([]byte(it)); err != nil {
			t.Fatalf("Put(%q): %v", it, err)
		}
	}
}

func peek(t testing.TB, q *Queue, max int) []string {
	t.Helper()
	got, err := q.Peek(max)
	if err != nil {
		t.Fatalf("Peek(%d): %v", max, err)
	}
	out := make([]string, len(got))
	for i, b := range got {
		out[i] = string(b)
	}
	return out
}

func ack(t testing.TB, q *Queue, n int) {
	t.Helper()
	if err := q.Ack(n); err != nil {
		t.Fatalf("Ack(%d): %v", n, err)
	}
}

func equal(t testing.TB, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d items %q, want %d items %q", what, len(got), trunc(got), len(want), trunc(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: item %d is %q, want %q", what, i, got[i], want[i])
		}
	}
}

func trunc(s []string) []string {
	if len(s) > 10 {
		return append(s[:10:10], "...")
	}
	return s
}

func items(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

func lastSeg(t testing.TB, dir string) string {
	t.Helper()
	s := segFiles(t, dir)
	if len(s) == 0 {
		t.Fatal("no segment files")
	}
	return s[len(s)-1]
}

func appendFile(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFIFO(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer q.Close()
	equal(t, "empty", peek(t, q, 10), nil)
	put(t, q, "a", "b", "", "d")
	equal(t, "peek 2", peek(t, q, 2), []string{"a", "b"})
	equal(t, "peek again", peek(t, q, 10), []string{"a", "b", "", "d"})
	ack(t, q, 1)
	equal(t, "after ack", peek(t, q, 10), []string{"b", "", "d"})
	put(t, q, "e")
	ack(t, q, 3)
	equal(t, "after ack 3", peek(t, q, 10), []string{"e"})
	ack(t, q, 1)
	equal(t, "drained", peek(t, q, 10), nil)
	if err := q.Ack(1); err == nil {
		t.Fatal("Ack past the end succeeded")
	}
	if err := q.Ack(-1); err == nil {
		t.Fatal("Ack(-1) succeeded")
	}
	ack(t, q, 0)
	s := q.Stats()
	if s.Items != 0 || s.Bytes != 0 || s.Written != 5 || s.Acked != 5 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPutCopiesItem(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer q.Close()
	b := []byte("abc")
	if err := q.Put(b); err != nil {
		t.Fatal(err)
	}
	b[0] = 'X'
	equal(t, "peek", peek(t, q, 1), []string{"abc"})
}

func TestAckBeyondPeek(t *testing.T) {
	// Ack may remove items the consumer did not Peek in this process (for
	// example after counting them another way).
	q := open(t, t.TempDir(), Options{SegmentBytes: 64})
	defer q.Close()
	all := items("x", 50)
	put(t, q, all...)
	equal(t, "peek", peek(t, q, 3), all[:3])
	ack(t, q, 40)
	equal(t, "rest", peek(t, q, 100), all[40:])
}

func TestStatsBytes(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer q.Close()
	put(t, q, "12345", "1")
	if s := q.Stats(); s.Items != 2 || s.Bytes != 5+1+2*headerSize {
		t.Fatalf("stats %+v", s)
	}
	ack(t, q, 1)
	if s := q.Stats(); s.Items != 1 || s.Bytes != 1+headerSize {
		t.Fatalf("stats %+v", s)
	}
}

func TestFull(t *testing.T) {
	// Room for exactly 4 items of 2 bytes.
	q := open(t, t.TempDir(), Options{MaxBytes: 4 * (2 + headerSize), SegmentBytes: 2 * (2 + headerSize)})
	defer q.Close()
	put(t, q, "00", "01", "02", "03")
	for i := range 3 {
		if err := q.Put([]byte("04")); !errors.Is(err, ErrFull) {
			t.Fatalf("Put %d into a full queue: %v, want ErrFull", i, err)
		}
	}
	if s := q.Stats(); s.Refused != 3 || s.Items != 4 {
		t.Fatalf("stats %+v", s)
	}
	// Even an empty item takes header bytes.
	if err := q.Put(nil); !errors.Is(err, ErrFull) {
		t.Fatalf("Put of an empty item into a full queue: %v", err)
	}
	ack(t, q, 1)
	put(t, q, "04")
	equal(t, "peek", peek(t, q, 10), []string{"01", "02", "03", "04"})
	// An item larger than the whole queue can never fit.
	ack(t, q, 4)
	if err := q.Put(make([]byte, 100)); !errors.Is(err, ErrFull) {
		t.Fatalf("Put of an item larger than MaxBytes: %v", err)
	}
	if s := q.Stats(); s.Refused != 5 {
		t.Fatalf("Refused = %d, want 5", s.Refused)
	}
}

func TestSegmentsRollAndAreDeleted(t *testing.T) {
	dir := t.TempDir()
	// Each item is 10+8 bytes, so 3 per 60-byte segment.
	q := open(t, dir, Options{SegmentBytes: 60})
	defer q.Close()
	all := items("item", 10) // "item-0000" is 9 bytes; make 10
	for i := range all {
		all[i] += "!"
	}
	put(t, q, all...)
	if n := len(segFiles(t, dir)); n != 4 {
		t.Fatalf("%d segments for 10 items of 3 per segment, want 4", n)
	}
	ack(t, q, 2)
	if n := len(segFiles(t, dir)); n != 4 {
		t.Fatalf("a partly read segment was deleted: %d segments", n)
	}
	ack(t, q, 1)
	if n := len(segFiles(t, dir)); n != 3 {
		t.Fatalf("after reading the first segment fully: %d segments, want 3", n)
	}
	ack(t, q, 6)
	if n := len(segFiles(t, dir)); n != 1 {
		t.Fatalf("after reading 9 items: %d segments, want 1", n)
	}
	equal(t, "rest", peek(t, q, 10), all[9:])
	if s := q.Stats(); s.Segments != 1 {
		t.Fatalf("Stats.Segments = %d", s.Segments)
	}
}

func TestLargeItemGetsOwnSegment(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{SegmentBytes: 32})
	defer q.Close()
	big := string(bytes.Repeat([]byte("B"), 1000))
	put(t, q, "a", big, "b")
	equal(t, "peek", peek(t, q, 5), []string{"a", big, "b"})
	if n := len(segFiles(t, dir)); n != 3 {
		t.Fatalf("%d segments, want 3", n)
	}
	q.Close()
	q = open(t, dir, Options{SegmentBytes: 32})
	defer q.Close()
	equal(t, "after reopen", peek(t, q, 5), []string{"a", big, "b"})
}

func TestReopen(t *testing.T) {
	for _, o := range []Options{
		{},
		{SegmentBytes: 100},
		{SegmentBytes: 100, SyncInterval: 10 * time.Millisecond},
		{SegmentBytes: 100, SyncInterval: -1},
	} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			dir := t.TempDir()
			all := items("r", 100)
			q := open(t, dir, o)
			put(t, q, all...)
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			q = open(t, dir, o)
			equal(t, "reopened", peek(t, q, 1000), all)
			ack(t, q, 37)
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			q = open(t, dir, o)
			if s := q.Stats(); s.Items != 63 || s.Written != 0 || s.Truncated != 0 {
				t.Fatalf("stats after reopen: %+v", s)
			}
			equal(t, "after Ack(37)", peek(t, q, 1000), all[37:])
			put(t, q, "new")
			ack(t, q, 63)
			q.Close()
			q = open(t, dir, o)
			defer q.Close()
			equal(t, "after acking all old", peek(t, q, 1000), []string{"new"})
		})
	}
}

func TestReopenWithoutClose(t *testing.T) {
	// A crashed process closes nothing; what Put wrote is in the OS.
	dir := t.TempDir()
	o := Options{SegmentBytes: 100, SyncInterval: time.Hour}
	q1 := open(t, dir, o)
	defer q1.Close()
	all := items("c", 30)
	put(t, q1, all...)
	ack(t, q1, 10)
	q2 := open(t, dir, o)
	defer q2.Close()
	equal(t, "recovered", peek(t, q2, 100), all[10:])
}

func TestReadyAfterPut(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	select {
	case <-q.Ready():
		t.Fatal("Ready signalled on an empty new queue")
	default:
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-q.Ready()
	}()
	put(t, q, "x")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Ready not signalled after Put")
	}
	// Many Puts never block on an unread Ready.
	put(t, q, items("y", 100)...)
	q.Close()
	q = open(t, dir, Options{})
	defer q.Close()
	select {
	case <-q.Ready():
	default:
		t.Fatal("Ready not signalled after Open with items waiting")
	}
}

func TestClosed(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	put(t, q, "a")
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := q.Put([]byte("b")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	if _, err := q.Peek(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Peek after Close: %v", err)
	}
	if err := q.Ack(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ack after Close: %v", err)
	}
	_ = q.Stats()
}

// tornCases damage the tail of the last segment the way a crash or power
// loss can.
var tornCases = []struct {
	name string
	tail func(last []byte) []byte // bytes appended after "b" was written
	cut  func(size int64) int64   // or the new size of the file (0: keep)
}{
	{name: "partial header", tail: func([]byte) []byte { return []byte{5, 0, 0} }},
	{name: "header only", tail: func([]byte) []byte { return []byte{5, 0, 0, 0, 1, 2, 3, 4} }},
	{name: "partial item", cut: func(size int64) int64 { return size - 1 }},
	{name: "zero-filled tail", tail: func([]byte) []byte { return make([]byte, 4096) }},
	{name: "huge length", tail: func([]byte) []byte { return []byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 'x'} }},
	{name: "bad checksum", tail: func([]byte) []byte {
		r := record([]byte("torn"))
		r[4] ^= 1
		return r
	}},
	{name: "flipped item byte", tail: func([]byte) []byte {
		r := record([]byte("torn"))
		r[len(r)-1] ^= 1
		return r
	}},
}

// record encodes item as Put writes it.
func record(item []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(item)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Update(crc32.Checksum(b, castagnoli), castagnoli, item))
	return append(b, item...)
}

func TestTornTail(t *testing.T) {
	for _, tc := range tornCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			q := open(t, dir, Options{})
			put(t, q, "a", "bb")
			if tc.cut != nil {
				put(t, q, "ccc") // the record the cut tears
			}
			q.Close()
			last := lastSeg(t, dir)
			fi, err := os.Stat(last)
			if err != nil {
				t.Fatal(err)
			}
			if tc.tail != nil {
				appendFile(t, last, tc.tail(nil))
			}
			if tc.cut != nil {
				if err := os.Truncate(last, tc.cut(fi.Size())); err != nil {
					t.Fatal(err)
				}
			}
			q = open(t, dir, Options{})
			defer q.Close()
			equal(t, "recovered", peek(t, q, 10), []string{"a", "bb"})
			if s := q.Stats(); s.Items != 2 || s.Truncated == 0 {
				t.Fatalf("stats %+v: want 2 items and Truncated > 0", s)
			}
			// New items go after the good records, not after the garbage.
			put(t, q, "d")
			q.Close()
			q = open(t, dir, Options{})
			defer q.Close()
			equal(t, "after new Put", peek(t, q, 10), []string{"a", "bb", "d"})
			if s := q.Stats(); s.Truncated != 0 {
				t.Fatalf("second Open truncated again: %+v", s)
			}
		})
	}
}

func TestTornTailAfterPosition(t *testing.T) {
	// The position points into the segment with the torn tail.
	dir := t.TempDir()
	q := open(t, dir, Options{})
	put(t, q, "a", "b", "c")
	ack(t, q, 2)
	q.Close()
	appendFile(t, lastSeg(t, dir), []byte{9, 0, 0, 0, 1})
	q = open(t, dir, Options{})
	defer q.Close()
	equal(t, "recovered", peek(t, q, 10), []string{"c"})
}

func TestPositionBeyondData(t *testing.T) {
	// After a power loss the position file may survive while the segment
	// data it points past did not: nothing is returned twice, new items work.
	dir := t.TempDir()
	q := open(t, dir, Options{})
	put(t, q, "a", "b", "c")
	ack(t, q, 3)
	q.Close()
	if err := os.Truncate(lastSeg(t, dir), 9); err != nil { // "a" survives
		t.Fatal(err)
	}
	q = open(t, dir, Options{})
	equal(t, "recovered", peek(t, q, 10), nil)
	put(t, q, "d")
	equal(t, "new", peek(t, q, 10), []string{"d"})
	q.Close()
	q = open(t, dir, Options{})
	defer q.Close()
	equal(t, "reopened", peek(t, q, 10), []string{"d"})
}

func TestBadPositionFileRepeatsNotLoses(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{SegmentBytes: 30})
	all := items("p", 10) // 6+8 bytes: 2 per segment
	put(t, q, all...)
	ack(t, q, 5)
	q.Close()
	// Segments 1 and 2 are gone; a damaged pos falls back to the oldest
	// remaining segment (3: items 4 and 5), so item 4 is returned again.
	if err := os.WriteFile(filepath.Join(dir, posName), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	q = open(t, dir, Options{SegmentBytes: 30})
	defer q.Close()
	equal(t, "recovered", peek(t, q, 100), all[4:])
}

func TestLeftoverSegmentsAreDeleted(t *testing.T) {
	// An Ack that crashed after writing pos but before deleting segments.
	dir := t.TempDir()
	q := open(t, dir, Options{SegmentBytes: 30})
	all := items("s", 6)
	put(t, q, all...)
	q.Close()
	first := segFiles(t, dir)[0]
	saved, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	q = open(t, dir, Options{SegmentBytes: 30})
	ack(t, q, 2)
	q.Close()
	if err := os.WriteFile(first, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, posTmpName), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	q = open(t, dir, Options{SegmentBytes: 30})
	defer q.Close()
	equal(t, "recovered", peek(t, q, 100), all[2:])
	if _, err := os.Stat(first); !os.IsNotExist(err) {
		t.Fatalf("leftover segment %s not deleted: %v", first, err)
	}
	if _, err := os.Stat(filepath.Join(dir, posTmpName)); !os.IsNotExist(err) {
		t.Fatalf("pos.tmp not removed: %v", err)
	}
}

func TestAllSegmentsDeletedKeepsNumbering(t *testing.T) {
	// If every segment vanished, new segments continue after the position
	// rather than restarting at 1 behind it (which would be skipped).
	dir := t.TempDir()
	q := open(t, dir, Options{SegmentBytes: 30})
	put(t, q, items("n", 6)...)
	ack(t, q, 6)
	q.Close()
	for _, f := range segFiles(t, dir) {
		os.Remove(f)
	}
	q = open(t, dir, Options{SegmentBytes: 30})
	put(t, q, "x", "y")
	q.Close()
	q = open(t, dir, Options{SegmentBytes: 30})
	defer q.Close()
	equal(t, "after reopen", peek(t, q, 10), []string{"x", "y"})
}

func TestConcurrentPutOneConsumer(t *testing.T) {
	for _, o := range []Options{
		{SegmentBytes: 4096, SyncInterval: time.Millisecond},
		{SegmentBytes: 1 << 20, SyncInterval: -1},
	} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			q := open(t, t.TempDir(), o)
			defer q.Close()
			const producers, each = 8, 500
			var wg sync.WaitGroup
			for p := range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						if err := q.Put(fmt.Appendf(nil, "%d:%d", p, i)); err != nil {
							t.Errorf("Put: %v", err)
							return
						}
					}
				}()
			}
			next := make([]int, producers) // per producer order is kept
			got := 0
			deadline := time.After(60 * time.Second)
			for got < producers*each {
				batch, err := q.Peek(37)
				if err != nil {
					t.Fatal(err)
				}
				if len(batch) == 0 {
					select {
					case <-q.Ready():
					case <-time.After(100 * time.Millisecond): // Ready may have been consumed by an earlier wait
					case <-deadline:
						t.Fatalf("got %d of %d items", got, producers*each)
					}
					continue
				}
				for _, b := range batch {
					var p, i int
					if _, err := fmt.Sscanf(string(b), "%d:%d", &p, &i); err != nil {
						t.Fatalf("item %q: %v", b, err)
					}
					if i != next[p] {
						t.Fatalf("producer %d: got item %d, want %d", p, i, next[p])
					}
					next[p]++
				}
				got += len(batch)
				if err := q.Ack(len(batch)); err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			if s := q.Stats(); s.Items != 0 || s.Bytes != 0 || s.Written != producers*each || s.Acked != producers*each {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// TestModel runs random operations, reopening now and then, against a
// slice and checks the queue returns exactly what the slice holds.
func TestModel(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 1))
			dir := t.TempDir()
			o := Options{MaxBytes: 2000, SegmentBytes: int64(20 + r.IntN(200)), SyncInterval: -1}
			q := open(t, dir, o)
			defer func() { q.Close() }()
			var model [][]byte
			var modelBytes int64
			for step := range 2000 {
				switch op := r.IntN(100); {
				case op < 45:
					item := make([]byte, r.IntN(60))
					for i := range item {
						item[i] = byte(r.IntN(256))
					}
					err := q.Put(item)
					fits := modelBytes+int64(len(item))+headerSize <= o.MaxBytes
					if fits && err != nil || !fits && !errors.Is(err, ErrFull) {
						t.Fatalf("step %d: Put of %d bytes with %d queued: %v", step, len(item), modelBytes, err)
					}
					if err == nil {
						model = append(model, item)
						modelBytes += int64(len(item)) + headerSize
					}
				case op < 70:
					n := r.IntN(20)
					got, err := q.Peek(n)
					if err != nil {
						t.Fatalf("step %d: %v", step, err)
					}
					want := model[:min(n, len(model))]
					if len(got) != len(want) {
						t.Fatalf("step %d: Peek(%d) returned %d items, want %d", step, n, len(got), len(want))
					}
					for i := range got {
						if !bytes.Equal(got[i], want[i]) {
							t.Fatalf("step %d: item %d differs", step, i)
						}
					}
				case op < 95:
					n := r.IntN(min(len(model), 15) + 1)
					if err := q.Ack(n); err != nil {
						t.Fatalf("step %d: Ack(%d) of %d: %v", step, n, len(model), err)
					}
					for _, it := range model[:n] {
						modelBytes -= int64(len(it)) + headerSize
					}
					model = model[n:]
				default:
					if err := q.Close(); err != nil {
						t.Fatal(err)
					}
					q = open(t, dir, o)
				}
				if s := q.Stats(); s.Items != int64(len(model)) || s.Bytes != modelBytes {
					t.Fatalf("step %d: stats %+v, model has %d items, %d bytes", step, s, len(model), modelBytes)
				}
			}
			// Disk use stays near MaxBytes: deleted segments are really gone.
			var onDisk int64
			for _, f := range segFiles(t, dir) {
				fi, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				onDisk += fi.Size()
			}
			if limit := o.MaxBytes + 2*(o.SegmentBytes+60+headerSize); onDisk > limit {
				t.Fatalf("%d bytes of segments on disk, want at most %d", onDisk, limit)
			}
		})
	}
}

func BenchmarkPut500(b *testing.B) {
	q := open(b, b.TempDir(), Options{MaxBytes: 1 << 40, SyncInterval: 100 * time.Millisecond})
	defer q.Close()
	item := bytes.Repeat([]byte("x"), 500)
	b.SetBytes(int64(len(item)))
	b.ResetTimer()
	for b.Loop() {
		if err := q.Put(item); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

func BenchmarkPut500Parallel(b *testing.B) {
	q := open(b, b.TempDir(), Options{MaxBytes: 1 << 40, SyncInterval: 100 * time.Millisecond})
	defer q.Close()
	item := bytes.Repeat([]byte("x"), 500)
	b.SetBytes(int64(len(item)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := q.Put(item); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

func BenchmarkPut500Fsync(b *testing.B) {
	q := open(b, b.TempDir(), Options{MaxBytes: 1 << 40})
	defer q.Close()
	item := bytes.Repeat([]byte("x"), 500)
	for b.Loop() {
		if err := q.Put(item); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

// BenchmarkDrain500 measures Peek+Ack in batches of 500 (one position file
// write per batch), the consumer's side.
func BenchmarkDrain500(b *testing.B) {
	q := open(b, b.TempDir(), Options{MaxBytes: 1 << 40, SyncInterval: 100 * time.Millisecond})
	defer q.Close()
	item := bytes.Repeat([]byte("x"), 500)
	b.StopTimer()
	for range b.N {
		if err := q.Put(item); err != nil {
			b.Fatal(err)
		}
	}
	b.StartTimer()
	for done := 0; done < b.N; {
		batch, err := q.Peek(500)
		if err != nil {
			b.Fatal(err)
		}
		if err := q.Ack(len(batch)); err != nil {
			b.Fatal(err)
		}
		done += len(batch)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}
