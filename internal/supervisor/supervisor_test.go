package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func shProcess(dir, name, script string) Process {
	return Process{Name: name, Path: "/bin/sh", Args: []string{"-c", script}, LogFile: filepath.Join(dir, name+".log")}
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRestartAndOrderedStop(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "first-ready")
	// Each process notes in order when it is asked to stop: the stop must
	// come to second before first (reverse order); second's Stopped runs
	// between the two, its release after both.
	order := filepath.Join(dir, "stop-order")
	stopNoted := func(name string) string {
		return "trap 'echo " + name + " >> " + order + "; exit 0' TERM; "
	}
	first := shProcess(dir, "first", stopNoted("first")+"touch "+marker+"; while :; do sleep 0.1; done")
	first.Ready = func(context.Context) error {
		if _, err := os.Stat(marker); err != nil {
			return err
		}
		return nil
	}
	second := shProcess(dir, "second", stopNoted("second")+"echo started; while :; do sleep 0.1; done")
	second.Ready = func(context.Context) error {
		if log, _ := os.ReadFile(second.LogFile); !strings.Contains(string(log), "started") {
			return errors.New("not started")
		}
		return nil
	}
	note := func(line string) {
		f, err := os.OpenFile(order, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Error(err)
			return
		}
		fmt.Fprintln(f, line)
		f.Close()
	}
	second.Stopped = func() func() {
		note("second stopped")
		return func() { note("released") }
	}
	s := &Supervisor{Processes: []Process{first, second}, StateFile: filepath.Join(dir, "state.json"), MaxBackoff: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := s.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pids := s.PIDs()
	if pids["first"] == 0 || pids["second"] == 0 {
		t.Fatalf("pids %v", pids)
	}
	state, err := ReadState(s.StateFile)
	if err != nil || state["second"] != pids["second"] {
		t.Fatalf("state file %v %v", state, err)
	}

	old := pids["second"]
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a restart", func() bool { p := s.PIDs()["second"]; return p != 0 && p != old })
	waitFor(t, "the restarted process to log", func() bool {
		log, _ := os.ReadFile(second.LogFile)
		return strings.Count(string(log), "started") == 2
	})

	all := s.PIDs()
	cancel()
	wait()
	for name, pid := range all {
		if Alive(pid) {
			t.Errorf("%s (pid %d) still alive after stop", name, pid)
		}
	}
	if got, err := os.ReadFile(order); err != nil || string(got) != "second\nsecond stopped\nfirst\nreleased\n" {
		t.Errorf("stop order %q (%v), want second, its Stopped, first, the release", got, err)
	}
}

func TestReadyTimeoutStopsEverything(t *testing.T) {
	dir := t.TempDir()
	ok := shProcess(dir, "ok", "exec sleep 600")
	never := shProcess(dir, "never", "echo 'listening failed: port in use'; exec sleep 600")
	never.Ready = func(context.Context) error { return errors.New("not serving") }
	s := &Supervisor{Processes: []Process{ok, never}, ReadyTimeout: 500 * time.Millisecond}
	_, err := s.Start(context.Background())
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"never did not become ready", "not serving", "port in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if len(s.PIDs()) != 0 {
		t.Fatalf("processes left: %v", s.PIDs())
	}
}

func TestStartFailure(t *testing.T) {
	s := &Supervisor{Processes: []Process{{Name: "x", Path: "/nonexistent/binary", LogFile: filepath.Join(t.TempDir(), "x.log")}}}
	if _, err := s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "starting x") {
		t.Fatalf("got %v", err)
	}
}

func TestTail(t *testing.T) {
	f := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(f, []byte("1\n2\n3\n4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := Tail(f, 2); got != "  3\n  4" {
		t.Fatalf("got %q", got)
	}
}
