package datadir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpen(t *testing.T) {
	fresh := filepath.Join(t.TempDir(), "new")
	if _, err := Open(fresh, false); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("read-only open of a missing dir: %v", err)
	}
	d, err := Open(fresh, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.Path, markerName)); err != nil {
		t.Fatalf("no marker written: %v", err)
	}
	if _, err := Open(fresh, false); err != nil {
		t.Fatalf("reopening: %v", err)
	}

	foreign := t.TempDir()
	writeFile(t, filepath.Join(foreign, "notes.txt"), "mine")
	if _, err := Open(foreign, true); err == nil || !strings.Contains(err.Error(), "did not make") {
		t.Fatalf("foreign dir: %v", err)
	}

	other := t.TempDir()
	writeFile(t, filepath.Join(other, markerName), `{"program":"x","format":1}`)
	if _, err := Open(other, true); err == nil || !strings.Contains(err.Error(), "another program") {
		t.Fatalf("other program's marker: %v", err)
	}

	newer := t.TempDir()
	writeFile(t, filepath.Join(newer, markerName), `{"program":"kstack","format":2}`)
	if _, err := Open(newer, true); err == nil || !strings.Contains(err.Error(), "newer kstack") {
		t.Fatalf("newer format: %v", err)
	}

	file := filepath.Join(t.TempDir(), "f")
	writeFile(t, file, "")
	if _, err := Open(file, true); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("file as data dir: %v", err)
	}
	if _, err := Open(filepath.Join(file, "sub"), true); err == nil || !strings.Contains(err.Error(), "not usable") {
		t.Fatalf("dir under a file: %v", err)
	}
}

func TestLockSerialises(t *testing.T) {
	d, err := Open(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := d.Lock()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		u, err := d.Lock()
		if err == nil {
			u()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("a second lock was granted while the first was held")
	case <-time.After(300 * time.Millisecond):
	}
	unlock()
	<-got
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
