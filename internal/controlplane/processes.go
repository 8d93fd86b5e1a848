package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/kstack/kstack/internal/supervisor"
)

// Options select the components of a control plane.
type Options struct {
	Binary string // the kstack binary, run as `kstack component NAME`
	Layout Layout
	Ports  Ports
	// Kubelets runs the scheduler, kwok and the volume provisioner: a cluster
	// with (simulated) nodes. The platform's own control plane runs without.
	Kubelets bool
	// EncryptSecrets makes the apiserver encrypt Secrets at rest.
	EncryptSecrets bool
	// Webhooks makes the apiserver show its webhook client certificate to
	// admission webhooks (EnsureAdmissionConfig writes the files).
	Webhooks bool
	// AuditWebhook sends the apiserver's audit events to the platform's
	// receiver too (EnsureAuditWebhook wrote its kubeconfig).
	AuditWebhook bool
	// Aggregation gives the apiserver the aggregation layer's front proxy
	// (PKIOptions.Aggregation wrote its files), for aggregated APIs such as
	// metrics-server's.
	Aggregation bool
	// NodeIP is the simulated nodes' address (default 127.0.0.1), where
	// Ports.Kubelet serves their kubelet endpoint when set, else kwok itself.
	NodeIP string
}

// ServiceCIDR is the Service range of every control plane kstack runs.
const ServiceCIDR = "10.96.0.0/16"

// Processes returns the supervised processes, in start order.
func Processes(o Options) []supervisor.Process {
	l, p := o.Layout, o.Ports
	comp := func(name string, args ...string) supervisor.Process {
		return supervisor.Process{
			Name: name, Path: o.Binary,
			Args:    append([]string{"component", name}, args...),
			LogFile: l.Log(name),
		}
	}
	etcd := comp("etcd",
		"--name=kstack",
		"--data-dir="+l.EtcdDir(),
		fmt.Sprintf("--listen-client-url=https://127.0.0.1:%d", p.EtcdClient),
		fmt.Sprintf("--listen-peer-url=https://127.0.0.1:%d", p.EtcdPeer),
		"--cert-file="+l.PKI("etcd-server.crt"),
		"--key-file="+l.PKI("etcd-server.key"),
		"--trusted-ca-file="+l.PKI("ca.crt"),
		"--log-file="+l.Log("etcd"),
	)
	etcd.Ready = httpsReady(fmt.Sprintf("https://127.0.0.1:%d/health", p.EtcdClient), l, EtcdClient.File)

	apiArgs := []string{
		"--advertise-address=127.0.0.1",
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(p.APIServer),
		fmt.Sprintf("--etcd-servers=https://127.0.0.1:%d", p.EtcdClient),
		"--etcd-cafile=" + l.PKI("ca.crt"),
		"--etcd-certfile=" + l.PKI(EtcdClient.File+".crt"),
		"--etcd-keyfile=" + l.PKI(EtcdClient.File+".key"),
		"--tls-cert-file=" + l.PKI("apiserver.crt"),
		"--tls-private-key-file=" + l.PKI("apiserver.key"),
		"--client-ca-file=" + l.PKI("ca.crt"),
		"--service-account-key-file=" + l.PKI("sa.pub"),
		"--service-account-signing-key-file=" + l.PKI("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--authorization-mode=Node,RBAC",
		"--allow-privileged=true",
		"--profiling=false",
		"--enable-priority-and-fairness=false",
		"--storage-backend=etcd3",
		// The Service "kubernetes" cannot point at a loopback address.
		"--endpoint-reconciler-type=none",
		"--audit-policy-file=" + l.AuditPolicy(),
		"--audit-log-path=" + l.AuditLog(),
		"--audit-log-maxsize=50",
		"--audit-log-maxbackup=2",
		// On SIGTERM: answer 429 until the requests in flight are done,
		// then close the connections left (watches of clients that are
		// still running, such as the platform's of a member) within 2 s,
		// instead of waiting up to a minute for them to go idle.
		"--shutdown-send-retry-after=true",
		"--v=1",
	}
	if o.Kubelets {
		apiArgs = append(apiArgs,
			"--kubelet-client-certificate="+l.PKI(KubeletClient.File+".crt"),
			"--kubelet-client-key="+l.PKI(KubeletClient.File+".key"),
			"--kubelet-certificate-authority="+l.PKI("ca.crt"),
			"--kubelet-preferred-address-types=InternalIP",
		)
	}
	if o.Aggregation {
		apiArgs = append(apiArgs,
			"--requestheader-client-ca-file="+l.PKI(FrontProxyCA+".crt"),
			"--requestheader-allowed-names="+FrontProxyClient.CommonName,
			"--requestheader-username-headers=X-Remote-User",
			"--requestheader-group-headers=X-Remote-Group",
			"--requestheader-extra-headers-prefix=X-Remote-Extra-",
			"--proxy-client-cert-file="+l.PKI(FrontProxyClient.File+".crt"),
			"--proxy-client-key-file="+l.PKI(FrontProxyClient.File+".key"),
		)
	}
	if o.EncryptSecrets {
		apiArgs = append(apiArgs, "--encryption-provider-config="+l.EncryptionConfig())
	}
	if o.Webhooks {
		apiArgs = append(apiArgs, "--admission-control-config-file="+l.AdmissionConfig())
	}
	if o.AuditWebhook {
		// Batches leave within a second (the default waits 30 s); a
		// receiver that is down is retried, then the batch is dropped by
		// the apiserver, as its flag reference says.
		apiArgs = append(apiArgs, "--audit-webhook-config-file="+l.AuditWebhookKubeconfig(),
			"--audit-webhook-batch-max-wait=1s", "--audit-webhook-initial-backoff=2s")
	}
	api := comp("kube-apiserver", apiArgs...)
	api.Ready = httpsReady(p.APIServerURL()+"/readyz", l, AdminIdentity.File)

	cmKubeconfig := l.Kubeconfig(ControllerManager.File)
	cm := comp("kube-controller-manager",
		"--kubeconfig="+cmKubeconfig,
		"--authentication-kubeconfig="+cmKubeconfig,
		"--authorization-kubeconfig="+cmKubeconfig,
		// Only loopback clients with the cluster's certificates call it: it
		// needs no request-header CA, whose lookup logs an error every few
		// seconds where the apiserver runs no front proxy.
		"--authentication-skip-lookup=true",
		"--client-ca-file="+l.PKI("ca.crt"),
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(p.ControllerManager),
		"--cert-dir="+l.Dir+"/run/controller-manager",
		"--leader-elect=false",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+l.PKI("sa.key"),
		"--root-ca-file="+l.PKI("ca.crt"),
		"--cluster-signing-cert-file="+l.PKI("ca.crt"),
		"--cluster-signing-key-file="+l.PKI("ca.key"),
		"--service-cluster-ip-range="+ServiceCIDR,
		"--profiling=false",
		"--v=1",
	)
	cm.Ready = httpsReady(fmt.Sprintf("https://127.0.0.1:%d/healthz", p.ControllerManager), l, "")
	procs := []supervisor.Process{etcd, api, cm}
	if !o.Kubelets {
		return procs
	}

	schedKubeconfig := l.Kubeconfig(Scheduler.File)
	sched := comp("kube-scheduler",
		"--kubeconfig="+schedKubeconfig,
		"--authentication-kubeconfig="+schedKubeconfig,
		"--authorization-kubeconfig="+schedKubeconfig,
		"--authentication-skip-lookup=true",
		"--client-ca-file="+l.PKI("ca.crt"),
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(p.Scheduler),
		"--cert-dir="+l.Dir+"/run/scheduler",
		"--leader-elect=false",
		"--profiling=false",
		"--v=1",
	)
	sched.Ready = httpsReady(fmt.Sprintf("https://127.0.0.1:%d/healthz", p.Scheduler), l, "")

	nodeIP, nodePort := o.NodeIP, p.Kubelet
	if nodeIP == "" {
		nodeIP = "127.0.0.1"
	}
	if nodePort == 0 {
		nodePort = p.Kwok
	}
	kwok := comp("kwok",
		"--config="+l.KwokConfig(),
		"--kubeconfig="+l.Kubeconfig(KwokIdentity.File),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+KwokNodeAnnotation+"=fake",
		// The address and port that nodes advertise; kwok itself listens
		// on loopback (--server-address).
		"--node-ip="+nodeIP,
		"--node-port="+strconv.Itoa(nodePort),
		fmt.Sprintf("--server-address=127.0.0.1:%d", p.Kwok),
		"--tls-cert-file="+l.PKI("kubelet-serving.crt"),
		"--tls-private-key-file="+l.PKI("kubelet-serving.key"),
		"--node-lease-duration-seconds=40",
		"--cidr=10.244.0.0/16",
		// Each pod's logs come from its own Logs object, which the local
		// cluster's supervisor writes; its usage from a ResourceUsage or a
		// ClusterResourceUsage, which tests set at run time. The supervisor
		// installs their CRDs. The Metric is fixed, in --config.
		"--enable-crds="+strings.Join(KwokCRDs, ","),
	)
	kwok.Ready = httpsReady(fmt.Sprintf("https://127.0.0.1:%d/healthz", p.Kwok), l, "")

	prov := comp("provisioner",
		"--kubeconfig="+l.Kubeconfig(AdminIdentity.File),
		"--volume-dir="+l.VolumeDir(),
	)
	return append(procs, sched, kwok, prov)
}

// KwokNodeAnnotation marks the nodes that kwok simulates (only kstack's own).
const KwokNodeAnnotation = "kwok.x-k8s.io/node"

// KwokCRDs are the kinds kwok reads from the cluster rather than its config.
var KwokCRDs = []string{"Logs", "ResourceUsage", "ClusterResourceUsage"}

// MetricsServer is metrics-server for a control plane with kubelets and the
// aggregation layer: it scrapes every node's kubelet endpoint (the port in
// the node's status, the path in its metrics.k8s.io/resource-metrics-path
// annotation) and serves the metrics API to the aggregator on loopback.
func MetricsServer(o Options) supervisor.Process {
	l, p := o.Layout, o.Ports
	admin := l.Kubeconfig(AdminIdentity.File)
	proc := supervisor.Process{
		Name: "metrics-server", Path: o.Binary, LogFile: l.Log("metrics-server"),
		Args: []string{"component", "metrics-server",
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(p.MetricsServer),
			"--tls-cert-file=" + l.PKI(MetricsServerServing+".crt"),
			"--tls-private-key-file=" + l.PKI(MetricsServerServing+".key"),
			"--kubeconfig=" + admin,
			"--authentication-kubeconfig=" + admin,
			"--authorization-kubeconfig=" + admin,
			"--kubelet-use-node-status-port",
			"--kubelet-preferred-address-types=InternalIP",
			"--kubelet-certificate-authority=" + l.PKI("ca.crt"),
			// Its least: `kubectl top` has figures after two scrapes.
			"--metric-resolution=10s",
			"--kubelet-request-timeout=5s",
			"--profiling=false",
		},
	}
	// Not /readyz: that waits for a first scrape, which needs the nodes the
	// supervisor registers once every process is up.
	proc.Ready = httpsReady(fmt.Sprintf("https://127.0.0.1:%d/livez", p.MetricsServer), l, AdminIdentity.File)
	return proc
}

// httpsReady probes url until it answers 200, presenting the named client
// certificate (none when client is empty; then the server is not verified,
// as the controller-manager and scheduler serve self-signed certificates).
func httpsReady(url string, l Layout, client string) func(context.Context) error {
	return supervisor.HTTPProbe(url, func() (*tls.Config, error) {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if client == "" {
			cfg.InsecureSkipVerify = true //nolint:gosec // loopback health probe of a self-signed component
			return cfg, nil
		}
		pair, err := tls.LoadX509KeyPair(l.PKI(client+".crt"), l.PKI(client+".key"))
		if err != nil {
			return nil, err
		}
		caPEM, err := os.ReadFile(l.PKI("ca.crt"))
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		cfg.Certificates = []tls.Certificate{pair}
		cfg.RootCAs = pool
		return cfg, nil
	})
}
