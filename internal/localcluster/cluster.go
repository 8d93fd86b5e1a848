// Package localcluster runs local Kubernetes clusters for trying and testing:
// a real control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) with kwok simulating the nodes and metrics-server serving
// their usage, supervised by a small detached process per cluster and kept
// under the data dir.
package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kstack/kstack/internal/controlplane"
	"github.com/kstack/kstack/internal/supervisor"
	"github.com/kstack/kstack/internal/version"
)

// Phases of a local cluster, as `kstack local list` shows them.
const (
	PhaseStarting = "Starting"
	PhaseRunning  = "Running"
	PhaseFailed   = "Failed"
	PhaseStopped  = "Stopped"
)

// Cluster is what kstack keeps about one local cluster (cluster.json).
type Cluster struct {
	Name              string             `json:"name"`
	Nodes             int                `json:"nodes"`
	Ports             controlplane.Ports `json:"ports"`
	KubernetesVersion string             `json:"kubernetesVersion"`
	Created           time.Time          `json:"created"`
}

// Status is written by the cluster's supervisor as it works (run/status.json).
type Status struct {
	Phase   string    `json:"phase"`
	Message string    `json:"message,omitempty"`
	Updated time.Time `json:"updated"`
	// ScratchDir is where simulated exec commands run; removed on stop.
	ScratchDir string `json:"scratchDir,omitempty"`
}

// Info is one row of `kstack local list`.
type Info struct {
	Name       string `json:"name"`
	Phase      string `json:"phase"`
	Nodes      int    `json:"nodes"`
	Version    string `json:"version"`
	Server     string `json:"server"`
	Kubeconfig string `json:"kubeconfig"`
	Created    string `json:"created"`
	Message    string `json:"message,omitempty"`
}

// ValidateName checks that name can be a cluster name.
func ValidateName(name string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("invalid cluster name %q: %s (use lowercase letters, digits and '-', starting and ending with a letter or digit, e.g. dev-1)", name, strings.Join(errs, "; "))
	}
	if len(name) > 40 {
		return fmt.Errorf("invalid cluster name %q: at most 40 characters, so that node names derived from it stay valid", name)
	}
	return nil
}

// paths of one cluster's files.
type paths struct {
	controlplane.Layout
}

func (p paths) meta() string          { return filepath.Join(p.Dir, "cluster.json") }
func (p paths) status() string        { return filepath.Join(p.Dir, "run", "status.json") }
func (p paths) supervisorPID() string { return filepath.Join(p.Dir, "run", "supervisor.pid") }
func (p paths) supervisorLog() string { return p.Log("supervisor") }

func readCluster(p paths) (*Cluster, error) {
	data, err := os.ReadFile(p.meta())
	if err != nil {
		return nil, err
	}
	var c Cluster
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v); delete the cluster and create it again", p.meta(), err)
	}
	return &c, nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readStatus(p paths) (*Status, error) {
	data, err := os.ReadFile(p.status())
	if err != nil {
		return nil, err
	}
	var s Status
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// supervisorAlive returns the PID of the cluster's supervisor if it runs.
func supervisorAlive(p paths) int {
	data, err := os.ReadFile(p.supervisorPID())
	if err != nil {
		return 0
	}
	var pid int
	if _, err := fmt.Sscan(string(data), &pid); err != nil {
		return 0
	}
	if supervisor.Alive(pid) && isKstackSupervisor(pid) {
		return pid
	}
	return 0
}

// isKstackSupervisor guards against a stale PID file naming a process that
// reused the PID.
func isKstackSupervisor(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return strings.Contains(string(data), "supervise")
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

func defaultVersion() string { return version.Kubernetes }
