package clock

import (
	"path/filepath"
	"testing"
	"time"
)

func TestFileClock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "now")
	t0 := time.Date(2026, 12, 1, 7, 59, 0, 0, time.UTC)
	if _, err := NewFile(path); err == nil {
		t.Fatal("a missing file was accepted")
	}
	if err := Set(path, t0); err != nil {
		t.Fatal(err)
	}
	c, err := NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c.PollEvery = 10 * time.Millisecond
	if !c.Now().Equal(t0) {
		t.Fatalf("Now %v, want %v", c.Now(), t0)
	}
	fired := make(chan time.Time, 2)
	c.At(t0.Add(time.Minute), func() { fired <- c.Now() })
	stopped := c.At(t0.Add(time.Minute), func() { fired <- time.Time{} })
	stopped()
	select {
	case <-fired:
		t.Fatal("fired before the file's time reached it")
	case <-time.After(300 * time.Millisecond):
	}
	if err := Set(path, t0.Add(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-fired:
		if !at.Equal(t0.Add(90 * time.Second)) {
			t.Fatalf("fired at %v", at)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not fire once the file's time passed it")
	}
	select {
	case <-fired:
		t.Fatal("a stopped callback fired")
	case <-time.After(200 * time.Millisecond):
	}
	// A time already passed fires at once.
	done := make(chan struct{})
	c.At(t0, func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a past time did not fire")
	}
}
