// Package clock is where controllers read the time: the real clock, or a
// file that a test writes and advances (kstack platform run
// --test-clock-file), so that no test waits for a real minute to pass.
package clock

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Clock tells the time and calls back when a time has come.
type Clock interface {
	Now() time.Time
	// At calls f once Now() reaches t (at once if it has), unless stop is
	// called first.
	At(t time.Time, f func()) (stop func())
}

// Real is the system clock.
type Real struct{}

// Now is time.Now.
func (Real) Now() time.Time { return time.Now() }

// At is time.AfterFunc.
func (Real) At(t time.Time, f func()) func() {
	tm := time.AfterFunc(time.Until(t), f)
	return func() { tm.Stop() }
}

// File is a clock whose time is the RFC 3339 time written in a file, read
// every PollEvery. It is for tests only: a missing or unreadable file keeps
// the last time read.
type File struct {
	Path      string
	PollEvery time.Duration

	mu      sync.Mutex
	now     time.Time
	waiters map[int]waiter
	next    int
	started bool
}

type waiter struct {
	at time.Time
	f  func()
}

// NewFile reads path once (it must hold a time) and starts polling it.
func NewFile(path string) (*File, error) {
	c := &File{Path: path, PollEvery: 100 * time.Millisecond, waiters: map[int]waiter{}}
	t, err := c.read()
	if err != nil {
		return nil, err
	}
	c.now = t
	go c.poll()
	return c, nil
}

func (c *File) read() (time.Time, error) {
	b, err := os.ReadFile(c.Path)
	if err != nil {
		return time.Time{}, fmt.Errorf("test clock: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, fmt.Errorf("test clock %s: want an RFC 3339 time such as 2026-12-01T08:00:00Z: %w", c.Path, err)
	}
	return t, nil
}

func (c *File) poll() {
	for range time.Tick(c.PollEvery) {
		t, err := c.read()
		if err != nil {
			continue
		}
		c.mu.Lock()
		c.now = t
		var due []func()
		for id, w := range c.waiters {
			if !w.at.After(t) {
				due = append(due, w.f)
				delete(c.waiters, id)
			}
		}
		c.mu.Unlock()
		for _, f := range due {
			go f()
		}
	}
}

// Now is the file's time.
func (c *File) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// At calls f once the file's time reaches t.
func (c *File) At(t time.Time, f func()) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.After(c.now) {
		go f()
		return func() {}
	}
	id := c.next
	c.next++
	c.waiters[id] = waiter{at: t, f: f}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.waiters, id)
	}
}

// Set writes t into a test clock's file (for tests).
func Set(path string, t time.Time) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(t.UTC().Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// FromFlag is the real clock for "", else the file clock of path.
func FromFlag(path string) (Clock, error) {
	if path == "" {
		return Real{}, nil
	}
	return NewFile(path)
}
