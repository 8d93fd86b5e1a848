// Package controlplane lays out and describes one Kubernetes control plane on
// disk (PKI, kubeconfigs, etcd data, logs) and the component processes that
// serve it. Local clusters and the platform's own embedded control plane both
// use it; they differ only in which components run.
package controlplane

import (
	"fmt"
	"path/filepath"
)

// Ports are the loopback ports of one control plane. They are chosen once, at
// creation, and kept so that kubeconfigs stay valid across restarts.
type Ports struct {
	EtcdClient        int `json:"etcdClient"`
	EtcdPeer          int `json:"etcdPeer"`
	APIServer         int `json:"apiServer"`
	ControllerManager int `json:"controllerManager,omitempty"`
	Scheduler         int `json:"scheduler,omitempty"`
	Kwok              int `json:"kwok,omitempty"`
	PodServer         int `json:"podServer,omitempty"`
	// Kubelet is the simulated nodes' kubelet endpoint as the apiserver and
	// metrics-server reach it (on the node address, in front of kwok).
	Kubelet int `json:"kubelet,omitempty"`
	// MetricsServer is metrics-server's secure port (the metrics API).
	MetricsServer int `json:"metricsServer,omitempty"`
	// AuditWebhook is the platform's receiver of the apiserver's audit events.
	AuditWebhook int `json:"auditWebhook,omitempty"`
}

// All lists the ports with a name each, for error messages.
func (p Ports) All() map[string]int {
	m := map[string]int{
		"etcd client": p.EtcdClient, "etcd peer": p.EtcdPeer, "kube-apiserver": p.APIServer,
		"kube-controller-manager": p.ControllerManager, "kube-scheduler": p.Scheduler,
		"kwok": p.Kwok, "simulated pod server": p.PodServer, "audit receiver": p.AuditWebhook,
		"kubelet endpoint": p.Kubelet, "metrics-server": p.MetricsServer,
	}
	for k, v := range m {
		if v == 0 {
			delete(m, k)
		}
	}
	return m
}

// Layout names the files of a control plane rooted at Dir.
type Layout struct{ Dir string }

func (l Layout) PKIDir() string         { return filepath.Join(l.Dir, "pki") }
func (l Layout) PKI(name string) string { return filepath.Join(l.Dir, "pki", name) }
func (l Layout) EtcdDir() string        { return filepath.Join(l.Dir, "etcd") }
func (l Layout) LogDir() string         { return filepath.Join(l.Dir, "logs") }
func (l Layout) Log(component string) string {
	return filepath.Join(l.Dir, "logs", component+".log")
}
func (l Layout) RunDir() string    { return filepath.Join(l.Dir, "run") }
func (l Layout) StateFile() string { return filepath.Join(l.Dir, "run", "processes.json") }
func (l Layout) KubeconfigDir() string {
	return filepath.Join(l.Dir, "kubeconfig")
}

// Kubeconfig is the path of the kubeconfig for one identity (admin, scheduler, ...).
func (l Layout) Kubeconfig(who string) string {
	return filepath.Join(l.Dir, "kubeconfig", who+".kubeconfig")
}
func (l Layout) AdminKubeconfig() string { return l.Kubeconfig("admin") }
func (l Layout) VolumeDir() string       { return filepath.Join(l.Dir, "volumes") }
func (l Layout) KwokConfig() string      { return filepath.Join(l.Dir, "kwok", "kwok.yaml") }

// PodLogsDir holds the simulated containers' CRI log files, laid out as a
// kubelet's /var/log/pods: NAMESPACE_POD_UID/CONTAINER/0.log.
func (l Layout) PodLogsDir() string { return filepath.Join(l.Dir, "var", "log", "pods") }

// ContainerRoot holds one directory per simulated container
// (NAMESPACE_POD_UID/CONTAINER/), standing in for its root file system.
func (l Layout) ContainerRoot() string { return filepath.Join(l.Dir, "containers") }

// LogAgentStateDir is where the log agent keeps its read positions.
func (l Layout) LogAgentStateDir() string { return filepath.Join(l.Dir, "logagent") }

func (l Layout) EncryptionConfig() string {
	return filepath.Join(l.Dir, "pki", "encryption-config.yaml")
}

// APIServerURL is the loopback URL of the kube-apiserver.
func (p Ports) APIServerURL() string { return fmt.Sprintf("https://127.0.0.1:%d", p.APIServer) }
