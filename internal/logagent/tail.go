package logagent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Kinds of files.
const (
	kindCRI   = iota // a container's standard output, CRI format
	kindPlain        // one line per '\n' (container and host files)
)

const (
	// maxLine bounds one logical line (CRI partials joined, or a plain line
	// with no newline yet); a longer one is cut and sent in pieces, so one
	// runaway line cannot take the agent's memory.
	maxLine = 1 << 20
	// readChunk is what one read asks for.
	readChunk = 64 << 10
)

// fileID identifies a file across renames: a rotated log keeps its inode,
// the new file at the same path has another one.
type fileID struct{ Dev, Ino uint64 }

func idOf(fi fs.FileInfo) fileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}
	}
	return fileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)} //nolint:unconvert // Dev is int32 on darwin
}

// location says how to open a file. Container and host files are opened
// inside their directory with os.Root, so a symlink a container (or
// anything writing under /var/log) plants cannot make the agent read
// another file of the node.
type location struct {
	path string // full path on this machine
	root string // when set: open rel inside root, refusing to leave it
	rel  string
}

func (l location) open() (*os.File, error) {
	if l.root == "" {
		return os.Open(l.path)
	}
	r, err := os.OpenRoot(l.root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Open(l.rel)
}

func (l location) stat() (fs.FileInfo, error) {
	if l.root == "" {
		return os.Stat(l.path)
	}
	r, err := os.OpenRoot(l.root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Stat(l.rel)
}

// line is one logical line read from a file.
type line struct {
	offset  int64 // where it starts in the file: with the file, its identity
	time    time.Time
	stream  string
	message []byte
}

// partial is a CRI line being joined from P parts, per stream.
type partial struct {
	start  int64
	time   time.Time
	buf    []byte
	active bool
}

// tail reads one open file from an offset on.
type tail struct {
	loc  location
	kind int
	f    *os.File
	id   fileID
	// pos is the file offset of buf[0]; buf holds bytes read but not yet
	// split into lines (an unfinished last line).
	pos int64
	buf []byte
	// commit is the offset of the next byte not yet handed over as part of
	// a complete line: what is persisted, so a restart resumes exactly after
	// the last line put in the queues.
	commit   int64
	partials map[string]*partial
	badLines int
}

func newTail(loc location, kind int, f *os.File, id fileID, offset int64) *tail {
	return &tail{loc: loc, kind: kind, f: f, id: id, pos: offset, commit: offset, partials: map[string]*partial{}}
}

func (t *tail) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

// reset starts over at offset 0 (the file was truncated).
func (t *tail) reset() {
	t.pos, t.commit, t.buf = 0, 0, t.buf[:0]
	clear(t.partials)
}

// readResult says what a read found.
type readResult struct {
	bytes     int
	eof       bool
	truncated bool
}

// read reads up to budget bytes and hands each complete line to emit,
// advancing commit after emit returns (the line is then in the queues).
func (t *tail) read(budget int, emit func(line)) (readResult, error) {
	var res readResult
	fi, err := t.f.Stat()
	if err != nil {
		return res, err
	}
	if fi.Size() < t.pos+int64(len(t.buf)) {
		// Truncated (copytruncate, or "> file"): what is there now is new.
		t.reset()
		res.truncated = true
	}
	for res.bytes < budget {
		end := t.pos + int64(len(t.buf))
		if end >= fi.Size() {
			res.eof = true
			break
		}
		n := min(int64(readChunk), fi.Size()-end)
		t.buf = grow(t.buf, int(n))
		got, err := t.f.ReadAt(t.buf[len(t.buf):len(t.buf)+int(n)], end)
		t.buf = t.buf[:len(t.buf)+got]
		res.bytes += got
		if err != nil && !errors.Is(err, io.EOF) {
			return res, err
		}
		t.split(emit)
		if got == 0 {
			res.eof = true
			break
		}
	}
	return res, nil
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+max(n, len(b)))
	copy(nb, b)
	return nb
}

// split hands over the complete lines in buf and keeps the rest.
func (t *tail) split(emit func(line)) {
	start := 0
	for {
		i := bytes.IndexByte(t.buf[start:], '\n')
		if i < 0 {
			break
		}
		t.handle(t.pos+int64(start), t.buf[start:start+i], int64(start+i+1), emit)
		start += i + 1
	}
	if len(t.buf)-start >= maxLine {
		// A line without end in sight: hand over what we have.
		t.handle(t.pos+int64(start), t.buf[start:], int64(len(t.buf)), emit)
		start = len(t.buf)
	}
	t.pos += int64(start)
	n := copy(t.buf, t.buf[start:])
	t.buf = t.buf[:n]
}

// handle takes one raw line [off, off+len(raw)) ending at buffer index next.
func (t *tail) handle(off int64, raw []byte, next int64, emit func(line)) {
	end := t.pos + next
	if t.kind == kindPlain {
		emit(line{offset: off, time: time.Now().UTC(), message: bytes.TrimSuffix(raw, []byte{'\r'})})
		t.commit = end
		return
	}
	l, err := parseCRI(raw)
	if err != nil {
		// Not ours to fix; skip it, but not silently (counted).
		t.badLines++
		t.advance(end)
		return
	}
	p := t.partials[l.Stream]
	if l.Partial || (p != nil && p.active) {
		if p == nil {
			p = &partial{}
			t.partials[l.Stream] = p
		}
		if !p.active {
			p.active, p.start, p.time, p.buf = true, off, l.Time, p.buf[:0]
		}
		p.buf = append(p.buf, l.Message...)
		if l.Partial && len(p.buf) < maxLine {
			t.advance(end)
			return
		}
		emit(line{offset: p.start, time: p.time, stream: l.Stream, message: p.buf})
		p.active = false
		t.advance(end)
		return
	}
	emit(line{offset: off, time: l.Time, stream: l.Stream, message: l.Message})
	t.advance(end)
}

// advance moves commit to end unless a partial line of either stream is
// still being joined: then commit stays at the oldest partial's start, so a
// restart reads its parts again. (A complete line of the other stream that
// lies between would then be sent again; runtimes do not interleave like
// that in practice.)
func (t *tail) advance(end int64) {
	for _, p := range t.partials {
		if p.active && p.start < end {
			end = p.start
		}
	}
	t.commit = max(t.commit, end)
}

// finish hands over what is left at the end of a file that will not grow
// any more (rotated away or deleted): an unfinished plain line or CRI
// partial line.
func (t *tail) finish(emit func(line)) {
	if len(t.buf) > 0 && t.kind == kindPlain {
		emit(line{offset: t.pos, time: time.Now().UTC(), message: t.buf})
		t.pos += int64(len(t.buf))
		t.buf = t.buf[:0]
		t.commit = t.pos
	}
	for s, p := range t.partials {
		if p.active {
			emit(line{offset: p.start, time: p.time, stream: s, message: p.buf})
			p.active = false
		}
	}
}

// replaced reports whether the path now names another file than the open
// one (rotation), or none (deleted).
func (t *tail) replaced() (bool, error) {
	fi, err := t.loc.stat()
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return idOf(fi) != t.id, nil
}

// findRotated looks for the file id next to path: the kubelet renames
// 0.log to 0.log.<time> when it rotates, so a file rotated while the agent
// was down is usually still there, and its unread end can be read first.
func findRotated(loc location, id fileID) (*os.File, bool) {
	dir := filepath.Dir(loc.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	base := filepath.Base(loc.path)
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == base || filepath.Ext(e.Name()) == ".gz" {
			continue
		}
		fi, err := e.Info()
		if err != nil || idOf(fi) != id {
			continue
		}
		rloc := loc
		rloc.path = filepath.Join(dir, e.Name())
		if rloc.root != "" {
			rloc.rel = filepath.Join(filepath.Dir(loc.rel), e.Name())
		}
		f, err := rloc.open()
		if err != nil {
			return nil, false
		}
		if fi2, err := f.Stat(); err != nil || idOf(fi2) != id {
			f.Close()
			return nil, false
		}
		return f, true
	}
	return nil, false
}

func (id fileID) String() string { return fmt.Sprintf("%d:%d", id.Dev, id.Ino) }
