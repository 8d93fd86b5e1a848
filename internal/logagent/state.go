package logagent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// position is where reading a file goes on: Offset is the next unread byte
// of the file Dev/Ino found at the path.
type position struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset int64  `json:"offset"`
}

func (p position) id() fileID { return fileID{Dev: p.Dev, Ino: p.Ino} }

// counters are a sink's totals, kept across restarts.
type counters struct {
	Delivered int64 `json:"delivered"`
	Dropped   int64 `json:"dropped"`
}

// state is what the agent keeps in --state-dir/state.json.
type state struct {
	// Files by path on this machine.
	Files map[string]position `json:"files"`
	// Started: "<rule>\x00<host glob>" whose first scan is done (the files it
	// matched then were read from their end; files appearing later from 0).
	Started map[string]bool `json:"started,omitempty"`
	// Sinks by "<rule>\x00<sink>".
	Sinks map[string]counters `json:"sinks,omitempty"`
}

const stateFile = "state.json"

func loadState(dir string) (*state, error) {
	s := &state{Files: map[string]position{}, Started: map[string]bool{}, Sinks: map[string]counters{}}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%s: %w (move it away to start over: every file is then read again)", filepath.Join(dir, stateFile), err)
	}
	if s.Files == nil {
		s.Files = map[string]position{}
	}
	if s.Started == nil {
		s.Started = map[string]bool{}
	}
	if s.Sinks == nil {
		s.Sinks = map[string]counters{}
	}
	return s, nil
}

func (s *state) save(dir string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), b)
}

// writeFileAtomic replaces path with data so that a crash leaves either the
// old or the new content, never a mix: write a temporary file, fsync it,
// rename it over path, fsync the directory.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
