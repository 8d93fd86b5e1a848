package logagent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseCRI(t *testing.T) {
	for _, tc := range []struct {
		in      string
		stream  string
		partial bool
		msg     string
		bad     bool
	}{
		{in: "2016-10-06T00:17:09.669794202Z stdout F hello world", stream: "stdout", msg: "hello world"},
		{in: "2016-10-06T00:17:09.669794202Z stderr P part ", stream: "stderr", partial: true, msg: "part "},
		{in: "2016-10-06T00:17:09.669794202+02:00 stdout F ", stream: "stdout", msg: ""},
		{in: "2016-10-06T00:17:09Z stdout F", stream: "stdout", msg: ""},
		{in: "2016-10-06T00:17:09Z stdout F:extra  two  spaces", stream: "stdout", msg: " two  spaces"},
		{in: `{"log":"docker line\n","stream":"stderr","time":"2016-10-06T00:17:09.669794202Z"}`, stream: "stderr", msg: "docker line"},
		{in: `{"log":"docker part","stream":"stdout","time":"2016-10-06T00:17:09.669794202Z"}`, stream: "stdout", partial: true, msg: "docker part"},
		{in: "not a cri line", bad: true},
		{in: "2016-10-06T00:17:09Z stdin F x", bad: true},
		{in: "2016-10-06T00:17:09Z stdout X x", bad: true},
		{in: "yesterday stdout F x", bad: true},
		{in: "", bad: true},
	} {
		l, err := parseCRI([]byte(tc.in))
		if tc.bad {
			if err == nil {
				t.Errorf("parseCRI(%q) = %+v, want an error", tc.in, l)
			}
			continue
		}
		if err != nil || l.Stream != tc.stream || l.Partial != tc.partial || string(l.Message) != tc.msg || l.Time.IsZero() {
			t.Errorf("parseCRI(%q) = %+v (msg %q), %v; want %s partial=%t %q", tc.in, l, l.Message, err, tc.stream, tc.partial, tc.msg)
		}
	}
}

func readAll(t *testing.T, tl *tail) []line {
	t.Helper()
	var got []line
	for {
		res, err := tl.read(readBudget, func(l line) {
			l.message = append([]byte(nil), l.message...)
			got = append(got, l)
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.eof {
			return got
		}
	}
}

func openTail(t *testing.T, path string, kind int, offset int64) *tail {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	tl := newTail(location{path: path}, kind, f, idOf(fi), offset)
	t.Cleanup(tl.close)
	return tl
}

// Partial lines are joined; the position only moves past whole lines, so
// a line whose end is not written yet is read again, whole, later.
func TestTailJoinsPartialLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	w := newCRIWriter(t, path)
	w.line("one")
	w.line("two", "t", "w")
	ts := "2025-01-02T03:04:05.1Z"
	w.raw(ts + " stdout P thr\n" + ts + " stderr F err\n" + ts + " stdout P e")
	tl := openTail(t, path, kindCRI, 0)
	got := readAll(t, tl)
	if len(got) != 3 || string(got[0].message) != "one" || string(got[1].message) != "twtwo" || string(got[2].message) != "err" || got[2].stream != "stderr" {
		t.Fatalf("lines %+v", got)
	}
	size1 := int64(len(mustRead(t, path)))
	// commit stays where the unfinished stdout line starts.
	start := strings.Index(mustRead(t, path), ts+" stdout P thr")
	if tl.commit != int64(start) {
		t.Fatalf("commit %d, want %d (the start of the unfinished partial line); file is %d bytes", tl.commit, start, size1)
	}
	if got[1].offset != int64(strings.Index(mustRead(t, path), "stdout P t\n")-len(w.at.Format(time.RFC3339Nano))-1) {
		t.Errorf("a joined line's offset is where its first part starts: %d", got[1].offset)
	}
	w.raw("\n" + ts + " stdout F e!\n")
	got = readAll(t, tl)
	if len(got) != 1 || string(got[0].message) != "three!" || got[0].offset != int64(start) {
		t.Fatalf("after the end was written: %+v", got)
	}
	if size := int64(len(mustRead(t, path))); tl.commit != size {
		t.Fatalf("commit %d, want the file size %d", tl.commit, size)
	}
	// A restart from the last commit reads nothing twice; one from the
	// partial's start reads the joined line again, whole.
	if got := readAll(t, openTail(t, path, kindCRI, tl.commit)); len(got) != 0 {
		t.Errorf("from the commit: %+v", got)
	}
	if got := readAll(t, openTail(t, path, kindCRI, int64(start))); len(got) != 2 || string(got[0].message) != "err" || string(got[1].message) != "three!" {
		t.Errorf("from the partial's start: %+v", got)
	}
}

func TestTailPlainAndBadLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	if err := os.WriteFile(path, []byte("a\r\nb\n\nc"), 0o644); err != nil {
		t.Fatal(err)
	}
	tl := openTail(t, path, kindPlain, 0)
	got := readAll(t, tl)
	if len(got) != 3 || string(got[0].message) != "a" || string(got[1].message) != "b" || string(got[2].message) != "" || tl.commit != 6 {
		t.Fatalf("%+v commit %d", got, tl.commit)
	}
	var fin []line
	tl.finish(func(l line) { fin = append(fin, l) })
	if len(fin) != 1 || string(fin[0].message) != "c" || fin[0].offset != 6 {
		t.Fatalf("finish: %+v", fin)
	}

	cri := filepath.Join(t.TempDir(), "0.log")
	os.WriteFile(cri, []byte("garbage\n2025-01-02T03:04:05Z stdout F ok\n"), 0o644)
	tc := openTail(t, cri, kindCRI, 0)
	if got := readAll(t, tc); len(got) != 1 || string(got[0].message) != "ok" || tc.badLines != 1 {
		t.Fatalf("%+v bad %d", got, tc.badLines)
	}
}

// A line longer than maxLine is cut rather than held in memory.
func TestTailCutsRunawayLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.log")
	big := strings.Repeat("x", maxLine+10)
	os.WriteFile(path, []byte(big), 0o644)
	tl := openTail(t, path, kindPlain, 0)
	got := readAll(t, tl)
	if len(got) != 1 || len(got[0].message) != maxLine || tl.commit != maxLine {
		t.Fatalf("%d lines, commit %d", len(got), tl.commit)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The agent's file handling end to end through a Loki stand-in: rotation
// (finish the old file, then the new from 0), truncation, and positions that
// survive a restart, also when the file was rotated while the agent was
// stopped.
func TestRotationTruncationAndPositions(t *testing.T) {
	e := newEnv(t)
	loki := newLokiStandIn(t)
	e.setConfig(Config{Rules: []Rule{lokiRule("shop/all", loki.URL, "shop")}})
	p := pod("shop", "web-1", "uid-1")
	e.addPod(p)
	w := newCRIWriter(t, e.logFile(p, "app"))
	n := 0
	write := func(k int) {
		for range k {
			w.line(fmt.Sprintf("L%05d", n))
			n++
		}
	}
	write(10)
	r := e.start()
	eventually(t, 10*time.Second, "the first lines", func() bool { return len(loki.messages()) == 10 })

	// Rotation while running: lines written to the old file just before the
	// rename are not lost.
	write(5)
	w.rotate()
	write(5)
	eventually(t, 10*time.Second, "lines across a rotation", func() bool { return len(loki.messages()) == 20 })

	// Truncation: what is written after is read from the start.
	if err := os.Truncate(w.path, 0); err != nil {
		t.Fatal(err)
	}
	write(3)
	eventually(t, 10*time.Second, "lines after a truncation", func() bool { return len(loki.messages()) == 23 })

	// Positions are persisted: a stop and start reads nothing twice.
	r.stop()
	st, err := loadState(e.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	pos, ok := st.Files[w.path]
	if fi, _ := os.Stat(w.path); !ok || pos.Offset != fi.Size() || pos.id() != idOf(fi) {
		t.Fatalf("position of %s: %+v (known %t), file is %d bytes", w.path, pos, ok, fi.Size())
	}
	// Rotated while stopped: the old file's end, then the new file.
	write(4)
	w.rotate()
	write(4)
	e.start()
	eventually(t, 10*time.Second, "lines written while stopped", func() bool { return len(loki.messages()) >= 31 })
	time.Sleep(300 * time.Millisecond)
	checkSequence(t, loki.messages(), "L", 31)
	if !strings.Contains(e.log.String(), "rotated while stopped; finishing the old file first") {
		t.Errorf("no log of the rotation while stopped")
	}

	// Lines carry the pod's metadata.
	loki.mu.Lock()
	l := loki.lines[0]
	loki.mu.Unlock()
	want := map[string]string{"cluster": "test", "namespace": "shop", "pod": "web-1", "container": "app", "rule": "shop/all"}
	for k, v := range want {
		if l.labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, l.labels[k], v, l.labels)
		}
	}
	if l.ts != fmt.Sprint(time.Date(2025, 1, 2, 3, 4, 5, int(time.Millisecond), time.UTC).UnixNano()) {
		t.Errorf("timestamp %s is not the CRI line's", l.ts)
	}
}
