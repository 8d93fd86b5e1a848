// Package diskqueue is a bounded FIFO queue of byte items kept on disk.
//
// Producers (request handlers writing audit records, the log agent reading
// log files) must never wait for a consumer that may be slow or down (a
// record store, a log sink), so Put only appends to a file and refuses with
// ErrFull when the queue holds MaxBytes; the single consumer reads with Peek
// and removes what it delivered with Ack. Delivery is at least once: an item
// is returned by Peek until it is acknowledged, also across restarts.
//
// Layout of the directory:
//
//	00000001.seg, 00000002.seg, ...  segments, appended in order
//	pos                              the read position: segment, offset, CRC
//
// A segment is a sequence of records
//
//	len uint32 LE | crc uint32 LE | len bytes of item
//
// where crc is CRC-32C (Castagnoli) of the 4 length bytes and the item: the
// length is covered too so a zero-filled tail (what a file system may leave
// after a power loss) is not read as empty items. Open checks every record
// after the read position and truncates a segment at the first record that
// does not check out (a write torn by a crash), so it is never returned.
//
// Durability: Put writes the record with one write(2), so once Put returns
// the item is in the operating system and survives a crash of the process.
// With SyncInterval 0 Put also fsyncs, so it survives a power loss; with
// SyncInterval > 0 a background loop fsyncs at most that often, and a power
// loss may lose the items of the last SyncInterval.
package diskqueue

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrFull is returned by Put when the item would take the queue past MaxBytes.
var ErrFull = errors.New("diskqueue: full")

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("diskqueue: closed")

// ErrCorrupt is returned by Peek and Ack when a record written after Open
// does not check out (the disk changed under the queue).
var ErrCorrupt = errors.New("diskqueue: corrupt record")

const (
	// DefaultMaxBytes is used when Options.MaxBytes is 0 or less.
	DefaultMaxBytes = 256 << 20
	// DefaultSegmentBytes is used when Options.SegmentBytes is 0 or less.
	DefaultSegmentBytes = 16 << 20

	headerSize = 8
	segSuffix  = ".seg"
	posName    = "pos"
	posTmpName = "pos.tmp"
	posSize    = 20
	// keepBuf is the largest write buffer kept between Puts, so one huge item
	// does not pin its size in memory for the life of the queue.
	keepBuf = 64 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options tune a queue. The zero value is usable.
type Options struct {
	// MaxBytes bounds the unacknowledged data, record headers included
	// (DefaultMaxBytes if 0). The disk may hold up to about one segment more:
	// a segment is deleted once all of it is acknowledged.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file is started
	// (DefaultSegmentBytes if 0). An item larger than this gets a segment of
	// its own.
	SegmentBytes int64
	// SyncInterval: 0 fsyncs on every Put (and every Ack); > 0 fsyncs in the
	// background at most that often; < 0 never fsyncs except when a segment
	// is finished and at Close (the OS writes back on its own).
	SyncInterval time.Duration
}

// Stats is a snapshot of a queue's counters.
type Stats struct {
	Items    int64 // unacknowledged items
	Bytes    int64 // their size on disk, record headers included
	Refused  int64 // Puts refused with ErrFull since Open
	Written  int64 // items Put since Open
	Acked    int64 // items acknowledged since Open
	Segments int   // segment files on disk
	// Truncated is how many bytes Open cut off segments because their
	// records did not check out (torn writes).
	Truncated int64
}

// Queue is a disk-backed FIFO. Put is safe from many goroutines; Peek and
// Ack are meant for one consumer (they are serialized, so several are safe
// but would see the same items).
type Queue struct {
	dir  string
	opt  Options
	sync bool // fsync on every Put/Ack

	// mu guards the write side and the counters. Lock order: rmu, then mu.
	mu      sync.Mutex
	closed  bool
	wf      *os.File
	wseg    uint64
	woff    int64
	segs    []uint64         // segment numbers on disk, ascending
	sealed  map[uint64]int64 // size of every segment but the write segment
	dirty   bool             // written since the last background fsync
	syncErr error
	wbuf    []byte
	items   int64
	bytes   int64
	refused int64
	written int64
	acked   int64
	cut     int64

	// rmu guards the consumer side, so a slow disk read in Peek never holds
	// mu and Put does not wait for the consumer.
	rmu    sync.Mutex
	ackSeg uint64 // the persisted read position
	ackOff int64
	cache  []entry // items from the read position on, already read
	raSeg  uint64  // where the next read starts: the end of cache
	raOff  int64
	rf     *os.File // open segment for reading
	rfSeg  uint64
	br     *bufio.Reader

	ready chan struct{}
	stop  chan struct{}
	done  chan struct{}
}

// entry is one item read ahead of the read position and where it ends.
type entry struct {
	data []byte
	seg  uint64
	end  int64
}

// Open opens the queue in dir, creating dir if needed, and recovers the
// items that were not acknowledged.
func Open(dir string, o Options) (*Queue, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	q := &Queue{
		dir:    dir,
		opt:    o,
		sync:   o.SyncInterval == 0,
		sealed: map[uint64]int64{},
		br:     bufio.NewReaderSize(nil, 64<<10),
		ready:  make(chan struct{}, 1),
	}
	if err := q.recover(); err != nil {
		if q.wf != nil {
			q.wf.Close()
		}
		return nil, err
	}
	if o.SyncInterval > 0 {
		q.stop = make(chan struct{})
		q.done = make(chan struct{})
		go q.syncLoop()
	}
	if q.items > 0 {
		q.ready <- struct{}{} // a drainer started after Open finds the backlog
	}
	return q, nil
}

func (q *Queue) segPath(n uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%08d%s", n, segSuffix))
}

// recover rebuilds the state from the directory: drops segments before the
// read position, checks every record after it and truncates torn tails.
func (q *Queue) recover() error {
	_ = os.Remove(filepath.Join(q.dir, posTmpName)) // an Ack interrupted before its rename
	ents, err := os.ReadDir(q.dir)
	if err != nil {
		return err
	}
	var segs []uint64
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil || n == 0 {
			continue
		}
		segs = append(segs, n)
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i] < segs[j] })

	pseg, poff, ok := q.readPos()
	readSeg, readOff := pseg, poff
	if !ok {
		// No (or an unreadable) position: start at the oldest segment. Only
		// a lost pos file repeats items, never loses them.
		pseg, poff = 0, 0
		if len(segs) > 0 {
			pseg = segs[0]
		}
	}
	// Segments before the read position were fully acknowledged; an Ack
	// that crashed between writing pos and deleting them leaves them behind.
	for len(segs) > 0 && segs[0] < pseg {
		if err := os.Remove(q.segPath(segs[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		segs = segs[1:]
	}
	if len(segs) == 0 {
		n := max(pseg, 1)
		f, err := q.createSeg(n)
		if err != nil {
			return err
		}
		q.wf, q.wseg, q.woff, q.segs = f, n, 0, []uint64{n}
		q.ackSeg, q.ackOff, q.raSeg, q.raOff = n, 0, n, 0
		return q.fixPos(ok, readSeg, readOff)
	}
	if segs[0] > pseg {
		pseg, poff = segs[0], 0
	}
	for i, s := range segs {
		start := int64(0)
		if s == pseg {
			start = poff
		}
		end, items, bytes, size, err := q.scanSeg(s, start)
		if err != nil {
			return err
		}
		if s == pseg && start > end {
			poff = end // the data under the position was lost; nothing to re-read
		}
		if end < size {
			if err := os.Truncate(q.segPath(s), end); err != nil {
				return err
			}
			q.cut += size - end
		}
		q.items += items
		q.bytes += bytes
		if i < len(segs)-1 {
			q.sealed[s] = end
		} else {
			f, err := os.OpenFile(q.segPath(s), os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return err
			}
			q.wf, q.wseg, q.woff = f, s, end
		}
	}
	q.segs = segs
	q.ackSeg, q.ackOff, q.raSeg, q.raOff = pseg, poff, pseg, poff
	return q.fixPos(ok, readSeg, readOff)
}

// fixPos persists the read position when recovery moved it: otherwise the
// stale one on disk would, at the next Open, skip items Put meanwhile.
func (q *Queue) fixPos(ok bool, seg uint64, off int64) error {
	if ok && seg == q.ackSeg && off == q.ackOff {
		return nil
	}
	return q.writePos(q.ackSeg, q.ackOff)
}

// scanSeg checks the records of segment s from offset start and returns
// where the valid records end, how many there are and their bytes, and the
// file size.
func (q *Queue) scanSeg(s uint64, start int64) (end, items, bytes, size int64, err error) {
	f, err := os.Open(q.segPath(s))
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, 0, 0, err
	}
	size = fi.Size()
	if start > size {
		return size, 0, 0, size, nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, start, size-start), 256<<10)
	off := start
	var buf []byte
	for {
		n, data, rerr := readRecord(r, size-off, buf)
		if rerr != nil {
			// io.EOF at a record boundary is the clean end; anything else is
			// a torn or damaged record, cut there.
			if rerr != io.EOF && !errors.Is(rerr, ErrCorrupt) {
				return 0, 0, 0, 0, rerr
			}
			return off, items, bytes, size, nil
		}
		buf = data[:0]
		off += n
		items++
		bytes += n
	}
}

// readRecord reads one record with at most remain bytes left in the segment,
// into buf if it is large enough. It returns the record's size on disk.
// io.EOF means no bytes were left; ErrCorrupt a partial or damaged record.
func readRecord(r *bufio.Reader, remain int64, buf []byte) (int64, []byte, error) {
	if remain == 0 {
		return 0, nil, io.EOF
	}
	if remain < headerSize {
		return 0, nil, ErrCorrupt
	}
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, eofCorrupt(err)
	}
	l := int64(binary.LittleEndian.Uint32(h[0:4]))
	if l > remain-headerSize {
		return 0, nil, ErrCorrupt
	}
	if int64(cap(buf)) >= l {
		buf = buf[:l]
	} else {
		buf = make([]byte, l)
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, eofCorrupt(err)
	}
	c := crc32.Update(crc32.Checksum(h[0:4], castagnoli), castagnoli, buf)
	if c != binary.LittleEndian.Uint32(h[4:8]) {
		return 0, nil, ErrCorrupt
	}
	return headerSize + l, buf, nil
}

func eofCorrupt(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return ErrCorrupt
	}
	return err
}

func (q *Queue) createSeg(n uint64) (*os.File, error) {
	f, err := os.OpenFile(q.segPath(n), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if q.opt.SyncInterval >= 0 {
		// The new name must survive a power loss with the data fsynced into it.
		if err := syncDir(q.dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (q *Queue) readPos() (uint64, int64, bool) {
	b, err := os.ReadFile(filepath.Join(q.dir, posName))
	if err != nil || len(b) != posSize {
		return 0, 0, false
	}
	if crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:20]) {
		return 0, 0, false
	}
	off := binary.LittleEndian.Uint64(b[8:16])
	if off > math.MaxInt64 {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(b[0:8]), int64(off), true
}

// writePos persists the read position: a temporary file renamed over pos,
// so a crash leaves either the old or the new position, never a mix.
func (q *Queue) writePos(seg uint64, off int64) error {
	var b [posSize]byte
	binary.LittleEndian.PutUint64(b[0:8], seg)
	binary.LittleEndian.PutUint64(b[8:16], uint64(off))
	binary.LittleEndian.PutUint32(b[16:20], crc32.Checksum(b[:16], castagnoli))
	tmp := filepath.Join(q.dir, posTmpName)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b[:])
	if err == nil && q.sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(q.dir, posName))
	}
	if err == nil && q.sync {
		err = syncDir(q.dir)
	}
	return err
}

// Put appends item. It never waits for the consumer: when the item would
// take the unacknowledged data past MaxBytes it returns ErrFull and counts
// the refusal. The queue does not keep a reference to item.
//
// With SyncInterval 0 an fsync error is returned after the item was written;
// the item may then still be delivered.
func (q *Queue) Put(item []byte) error {
	if int64(len(item)) > math.MaxUint32 {
		return fmt.Errorf("diskqueue: item of %d bytes is too large", len(item))
	}
	rec := int64(len(item)) + headerSize
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	if q.bytes+rec > q.opt.MaxBytes {
		q.refused++
		return ErrFull
	}
	if q.woff > 0 && q.woff+rec > q.opt.SegmentBytes {
		if err := q.roll(); err != nil {
			return err
		}
	}
	buf := q.wbuf[:0]
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(item)))
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Update(crc32.Checksum(buf[0:4], castagnoli), castagnoli, item))
	buf = append(buf, item...)
	if cap(buf) <= keepBuf {
		q.wbuf = buf
	}
	// One write, so the record reaches the OS whole or (on a crash in the
	// middle) torn at the end where Open finds and cuts it.
	if _, err := q.wf.Write(buf); err != nil {
		// Cut a partial record so later records stay readable.
		_ = q.wf.Truncate(q.woff)
		return err
	}
	q.woff += rec
	q.items++
	q.bytes += rec
	q.written++
	var err error
	if q.sync {
		err = q.wf.Sync()
	} else {
		q.dirty = true
	}
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return err
}

// roll starts a new segment. The new file is created before the old one is
// closed, so a failure leaves the queue appending to the old one.
func (q *Queue) roll() error {
	next := q.wseg + 1
	f, err := q.createSeg(next)
	if err != nil {
		return err
	}
	old := q.wf
	if q.opt.SyncInterval >= 0 {
		// A finished segment is made durable once, here, so the background
		// loop only ever has to sync the current one.
		if err := old.Sync(); err != nil {
			f.Close()
			_ = os.Remove(q.segPath(next))
			return err
		}
	}
	old.Close()
	q.sealed[q.wseg] = q.woff
	q.wf, q.wseg, q.woff = f, next, 0
	q.segs = append(q.segs, next)
	q.dirty = false
	return nil
}

// syncLoop fsyncs the write segment at most every SyncInterval, outside mu
// so Put does not wait for the disk.
func (q *Queue) syncLoop() {
	defer close(q.done)
	t := time.NewTicker(q.opt.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
		}
		q.mu.Lock()
		f, dirty := q.wf, q.dirty
		q.dirty = false
		q.mu.Unlock()
		if !dirty {
			continue
		}
		// A segment rolled meanwhile was synced by roll; its closed file
		// answers ErrClosed here.
		if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			q.mu.Lock()
			q.syncErr = err
			q.dirty = true
			q.mu.Unlock()
		}
	}
}

// Ready is signalled after every Put (and after Open when items are
// waiting). It has room for one signal, so a consumer that waits on it after
// finding the queue empty does not miss a Put.
func (q *Queue) Ready() <-chan struct{} { return q.ready }

// Peek returns up to max of the oldest items without removing them. The
// returned slices are owned by the queue until they are acknowledged: do not
// modify them.
func (q *Queue) Peek(max int) ([][]byte, error) {
	q.rmu.Lock()
	defer q.rmu.Unlock()
	if err := q.checkOpen(); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, nil
	}
	if err := q.fill(max); err != nil {
		return nil, err
	}
	n := min(max, len(q.cache))
	out := make([][]byte, n)
	for i := range out {
		out[i] = q.cache[i].data
	}
	return out, nil
}

func (q *Queue) checkOpen() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	return nil
}

// fill reads items after the cache until it holds n or there are no more.
// Called with rmu held.
func (q *Queue) fill(n int) error {
	for len(q.cache) < n {
		q.mu.Lock()
		unread := q.items - int64(len(q.cache))
		limit, sealed := q.sealed[q.raSeg]
		if !sealed {
			limit = q.woff // raSeg is the write segment
		}
		var next uint64
		if q.raOff >= limit && sealed {
			for _, s := range q.segs {
				if s > q.raSeg {
					next = s
					break
				}
			}
		}
		q.mu.Unlock()
		if unread <= 0 {
			return nil
		}
		if q.raOff >= limit {
			if next == 0 {
				return nil // cannot happen while unread > 0; do not spin
			}
			q.raSeg, q.raOff = next, 0
			continue
		}
		if err := q.readAhead(limit, n); err != nil {
			return err
		}
	}
	return nil
}

// readAhead reads records of segment raSeg from raOff up to limit into the
// cache until it holds n items.
func (q *Queue) readAhead(limit int64, n int) error {
	if q.rf == nil || q.rfSeg != q.raSeg {
		if q.rf != nil {
			q.rf.Close()
			q.rf = nil
		}
		f, err := os.Open(q.segPath(q.raSeg))
		if err != nil {
			return err
		}
		q.rf, q.rfSeg = f, q.raSeg
	}
	q.br.Reset(io.NewSectionReader(q.rf, q.raOff, limit-q.raOff))
	for len(q.cache) < n && q.raOff < limit {
		size, data, err := readRecord(q.br, limit-q.raOff, nil)
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("%w in %s at offset %d", eofCorrupt(err), q.segPath(q.raSeg), q.raOff)
		}
		q.raOff += size
		q.cache = append(q.cache, entry{data: data, seg: q.raSeg, end: q.raOff})
	}
	return nil
}

// Ack removes the n oldest items. The new read position is persisted before
// Ack returns, so a restart does not return them again, and segments that
// are now fully read are deleted.
func (q *Queue) Ack(n int) error {
	if n < 0 {
		return fmt.Errorf("diskqueue: Ack(%d)", n)
	}
	q.rmu.Lock()
	defer q.rmu.Unlock()
	if err := q.checkOpen(); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	q.mu.Lock()
	items := q.items
	q.mu.Unlock()
	if int64(n) > items {
		return fmt.Errorf("diskqueue: Ack(%d) with %d items queued", n, items)
	}
	if err := q.fill(n); err != nil {
		return err
	}
	if len(q.cache) < n {
		return fmt.Errorf("diskqueue: Ack(%d): only %d items readable", n, len(q.cache))
	}
	var bytes int64
	for _, e := range q.cache[:n] {
		bytes += int64(len(e.data)) + headerSize
	}
	last := q.cache[n-1]
	seg, off := last.seg, last.end

	// At the end of a finished segment, move to the next one so this one
	// can be deleted now rather than at the next Ack.
	q.mu.Lock()
	if size, ok := q.sealed[seg]; ok && off >= size {
		for _, s := range q.segs {
			if s > seg {
				seg, off = s, 0
				break
			}
		}
	}
	q.mu.Unlock()

	if err := q.writePos(seg, off); err != nil {
		return err // nothing changed: the items are returned again
	}
	clear(q.cache[:n])
	q.cache = q.cache[n:]
	q.ackSeg, q.ackOff = seg, off
	if q.raSeg < seg || (q.raSeg == seg && q.raOff < off) {
		q.raSeg, q.raOff = seg, off
	}

	q.mu.Lock()
	q.items -= int64(n)
	q.bytes -= bytes
	q.acked += int64(n)
	var drop []uint64
	for len(q.segs) > 0 && q.segs[0] < seg {
		drop = append(drop, q.segs[0])
		delete(q.sealed, q.segs[0])
		q.segs = q.segs[1:]
	}
	q.mu.Unlock()

	var err error
	for _, s := range drop {
		if q.rf != nil && q.rfSeg == s {
			q.rf.Close()
			q.rf = nil
		}
		// A failed delete only leaves a file that the next Open removes.
		if rerr := os.Remove(q.segPath(s)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	return err
}

// Stats returns the queue's counters.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Stats{
		Items:     q.items,
		Bytes:     q.bytes,
		Refused:   q.refused,
		Written:   q.written,
		Acked:     q.acked,
		Segments:  len(q.segs),
		Truncated: q.cut,
	}
}

// Close syncs and closes the queue. It returns an earlier background fsync
// error, if any.
func (q *Queue) Close() error {
	q.rmu.Lock()
	defer q.rmu.Unlock()
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.mu.Unlock()
	if q.stop != nil {
		close(q.stop)
		<-q.done
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	err := q.syncErr
	if q.opt.SyncInterval >= 0 {
		if serr := q.wf.Sync(); err == nil {
			err = serr
		}
	}
	if cerr := q.wf.Close(); err == nil {
		err = cerr
	}
	if q.rf != nil {
		q.rf.Close()
		q.rf = nil
	}
	q.cache = nil
	return err
}
