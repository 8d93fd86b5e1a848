// Package supervisor starts a set of component processes in order, waits for
// each to be ready before starting the next, restarts any that die (with
// exponential backoff), and stops them all in reverse order.
package supervisor

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process describes one supervised component.
type Process struct {
	Name    string
	Path    string // executable
	Args    []string
	Env     []string // extra environment, appended to the supervisor's
	LogFile string
	// Ready returns nil once the process serves; the supervisor waits for it
	// before starting the next process. Nil means ready once started.
	Ready func(ctx context.Context) error
	// Stopped, if set, runs as soon as the process has stopped for good
	// (when the supervisor stops, not between restarts), before the
	// processes started before it are stopped; what it returns runs once
	// all have stopped. It stands in for what the process served to them
	// (the platform's audit receiver, for the apiserver's last events).
	Stopped func() (release func())
}

// Supervisor runs processes.
type Supervisor struct {
	Processes []Process
	// StateFile, if set, receives a JSON map of component name to PID after
	// every (re)start, so that tools can see what runs.
	StateFile string
	Log       *slog.Logger
	// ReadyTimeout bounds the wait for each process to become ready.
	ReadyTimeout time.Duration
	// MaxBackoff caps the delay between restarts of a crashing process.
	MaxBackoff time.Duration

	mu   sync.Mutex
	pids map[string]int
}

// Start starts the processes in order, each after the previous is ready, and
// keeps them running until ctx is done. It returns once all are ready, or the
// first error; Wait blocks until every process has exited after ctx ends.
func (s *Supervisor) Start(ctx context.Context) (wait func(), err error) {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.ReadyTimeout == 0 {
		s.ReadyTimeout = 2 * time.Minute
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = 30 * time.Second
	}
	s.pids = map[string]int{}
	var wg sync.WaitGroup
	// Each process stops only after every process started after it has stopped
	// (reverse order), so the apiserver outlives its clients and etcd outlives
	// the apiserver.
	prevDone := make(chan struct{})
	close(prevDone)
	var stopChans []chan struct{}
	var doneChans []chan struct{}
	startErr := func(e error) (func(), error) {
		for _, c := range stopChans {
			close(c)
		}
		wg.Wait()
		return nil, e
	}
	for i := range s.Processes {
		p := s.Processes[i]
		stop := make(chan struct{})
		done := make(chan struct{})
		stopChans = append(stopChans, stop)
		doneChans = append(doneChans, done)
		started := make(chan error, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			s.keepRunning(p, stop, started)
		}()
		if err := <-started; err != nil {
			return startErr(err)
		}
		if p.Ready != nil {
			rctx, cancel := context.WithTimeout(ctx, s.ReadyTimeout)
			err := waitReady(rctx, p)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return startErr(ctx.Err())
				}
				return startErr(fmt.Errorf("%s did not become ready within %s: %w; the end of its log (%s):\n%s", p.Name, s.ReadyTimeout, err, p.LogFile, Tail(p.LogFile, 8)))
			}
		}
		s.Log.Info("component ready", "component", p.Name)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		var releases []func()
		for i := len(stopChans) - 1; i >= 0; i-- {
			close(stopChans[i])
			<-doneChans[i]
			if f := s.Processes[i].Stopped; f != nil {
				if release := f(); release != nil {
					releases = append(releases, release)
				}
			}
		}
		for _, release := range releases {
			release()
		}
	}()
	return wg.Wait, nil
}

func waitReady(ctx context.Context, p Process) error {
	var last error
	for {
		if last = p.Ready(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// keepRunning runs p until stop is closed, restarting it when it exits.
// The goroutine is locked to its OS thread because the children are started
// with Pdeathsig, which fires when the starting thread (not process) dies.
func (s *Supervisor) keepRunning(p Process, stop <-chan struct{}, started chan<- error) {
	runtime.LockOSThread()
	backoff := time.Second
	first := true
	for {
		cmd, err := s.start(p)
		if first {
			started <- err
			first = false
			if err != nil {
				return
			}
		} else if err != nil {
			s.Log.Error("restart failed", "component", p.Name, "err", err)
		}
		began := time.Now()
		exited := make(chan error, 1)
		if cmd != nil {
			go func() { exited <- cmd.Wait() }()
		} else {
			exited <- err
		}
		select {
		case <-stop:
			if cmd != nil {
				terminate(cmd, exited)
			}
			s.setPID(p.Name, 0)
			return
		case err := <-exited:
			s.setPID(p.Name, 0)
			if time.Since(began) > time.Minute {
				backoff = time.Second
			}
			s.Log.Warn("component exited; restarting", "component", p.Name, "err", err, "after", backoff)
			select {
			case <-stop:
				return
			case <-time.After(backoff):
			}
			backoff *= 2
			if backoff > s.MaxBackoff {
				backoff = s.MaxBackoff
			}
		}
	}
}

func (s *Supervisor) start(p Process) (*exec.Cmd, error) {
	if err := os.MkdirAll(filepath.Dir(p.LogFile), 0o700); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(p.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", p.Name, err)
	}
	defer logf.Close()
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", p.Name, err)
	}
	s.Log.Info("component started", "component", p.Name, "pid", cmd.Process.Pid)
	s.setPID(p.Name, cmd.Process.Pid)
	return cmd, nil
}

// terminate asks the process to stop, and kills its process group after a grace period.
func terminate(cmd *exec.Cmd, exited <-chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

func (s *Supervisor) setPID(name string, pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pid == 0 {
		delete(s.pids, name)
	} else {
		s.pids[name] = pid
	}
	if s.StateFile == "" {
		return
	}
	data, _ := json.Marshal(s.pids)
	tmp := s.StateFile + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err == nil {
		_ = os.Rename(tmp, s.StateFile)
	}
}

// PIDs returns the PIDs of the running components.
func (s *Supervisor) PIDs() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.pids))
	for k, v := range s.pids {
		out[k] = v
	}
	return out
}

// ReadState reads a state file written by a supervisor.
func ReadState(path string) (map[string]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]int{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return m, nil
}

// Alive reports whether a process with pid exists (and is not a zombie).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state is the field after the parenthesised command name.
	for i := len(data) - 1; i >= 0; i-- {
		if data[i] == ')' {
			return i+2 < len(data) && data[i+2] != 'Z'
		}
	}
	return true
}

// Tail returns the last n lines of a file, indented, for error messages.
func Tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "  (no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 400 {
			lines[i] = l[:400] + "..."
		}
	}
	return "  " + strings.Join(lines, "\n  ")
}

// HTTPProbe returns a readiness check that passes when url answers 200
// over TLS with cfg.
func HTTPProbe(url string, cfg func() (*tls.Config, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		tc, err := cfg()
		if err != nil {
			return err
		}
		c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
		defer c.CloseIdleConnections()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %d: %s", url, resp.StatusCode, body)
		}
		return nil
	}
}
