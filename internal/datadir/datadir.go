// Package datadir owns kstack's data directory: it recognises one that kstack
// made (a marker file with a format version), refuses one that another
// program or a newer kstack made, and serialises changes with a file lock.
package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Format is the layout version this kstack writes and understands.
const Format = 1

const markerName = "kstack-data.json"

// EnvVar names the environment variable that sets the default data dir.
const EnvVar = "KSTACK_DATA_DIR"

type marker struct {
	Program string `json:"program"`
	Format  int    `json:"format"`
}

// Default returns the data dir used when --data-dir is not given.
func Default() string {
	if d := os.Getenv(EnvVar); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ".kstack"
	}
	return filepath.Join(home, ".kstack")
}

// Dir is an opened data dir.
type Dir struct{ Path string }

// Open checks path and, with create, makes it a kstack data dir if it is
// new or empty. Without create it only reads: a missing dir is an error.
func Open(path string, create bool) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !create {
			return nil, fmt.Errorf("data dir %s does not exist: nothing was created there yet (run `kstack up` or `kstack local create`), or pass the right --data-dir", abs)
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return nil, notWritable(abs, err)
		}
	case err != nil:
		return nil, notWritable(abs, err)
	case !st.IsDir():
		return nil, fmt.Errorf("data dir %s is a file, not a directory; pass --data-dir with a directory", abs)
	}

	data, err := os.ReadFile(filepath.Join(abs, markerName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		entries, rerr := os.ReadDir(abs)
		if rerr != nil {
			return nil, notWritable(abs, rerr)
		}
		if len(entries) > 0 {
			return nil, fmt.Errorf("data dir %s holds files that kstack did not make (it has no %s); pass --data-dir with a new or empty directory", abs, markerName)
		}
		if !create {
			return nil, fmt.Errorf("data dir %s is empty: nothing was created there yet", abs)
		}
		if err := writeMarker(abs); err != nil {
			return nil, notWritable(abs, err)
		}
	case err != nil:
		return nil, notWritable(abs, err)
	default:
		var m marker
		if err := json.Unmarshal(data, &m); err != nil || m.Program != "kstack" {
			return nil, fmt.Errorf("data dir %s belongs to another program (%s is not kstack's); pass --data-dir with a new or empty directory", abs, markerName)
		}
		if m.Format > Format {
			return nil, fmt.Errorf("data dir %s was written by a newer kstack (data format %d; this kstack understands up to %d); run the newer kstack, or pass --data-dir with another directory", abs, m.Format, Format)
		}
	}
	if create {
		// Prove we can write before doing anything that could be left half-done.
		probe := filepath.Join(abs, ".write-probe")
		if err := os.WriteFile(probe, nil, 0o600); err != nil {
			return nil, notWritable(abs, err)
		}
		_ = os.Remove(probe)
	}
	return &Dir{Path: abs}, nil
}

func writeMarker(dir string) error {
	data, _ := json.Marshal(marker{Program: "kstack", Format: Format})
	return os.WriteFile(filepath.Join(dir, markerName), data, 0o600)
}

func notWritable(dir string, err error) error {
	return fmt.Errorf("data dir %s is not usable (%w); pass --data-dir with a directory you can write, or fix its permissions", dir, err)
}

// Lock takes an exclusive lock on the data dir, waiting for other kstack
// commands that change it. Call the returned function to release it.
func (d *Dir) Lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(d.Path, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, notWritable(d.Path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// ClustersDir holds the local clusters.
func (d *Dir) ClustersDir() string { return filepath.Join(d.Path, "clusters") }

// PlatformDir holds the platform's own control plane and state.
func (d *Dir) PlatformDir() string { return filepath.Join(d.Path, "platform") }
