package components

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// runEtcd runs a single-member etcd that listens on loopback only and requires
// client certificates signed by the cluster CA on both its client and peer ports.
func runEtcd(_ context.Context, args []string) int {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	name := fs.String("name", "default", "member name")
	dataDir := fs.String("data-dir", "", "directory for etcd's data")
	clientURL := fs.String("listen-client-url", "", "https URL to serve clients on, e.g. https://127.0.0.1:2379")
	peerURL := fs.String("listen-peer-url", "", "https URL for the peer port, e.g. https://127.0.0.1:2380")
	cert := fs.String("cert-file", "", "serving certificate (also used for the peer port)")
	key := fs.String("key-file", "", "serving key")
	ca := fs.String("trusted-ca-file", "", "CA that signs client certificates")
	logFile := fs.String("log-file", "stderr", "where etcd writes its log")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dataDir == "" || *clientURL == "" || *peerURL == "" || *cert == "" || *key == "" || *ca == "" {
		fmt.Fprintln(os.Stderr, "etcd: --data-dir, --listen-client-url, --listen-peer-url, --cert-file, --key-file and --trusted-ca-file are required")
		return 2
	}
	cu, err := url.Parse(*clientURL)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd: bad --listen-client-url: %v\n", err)
		return 2
	}
	pu, err := url.Parse(*peerURL)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd: bad --listen-peer-url: %v\n", err)
		return 2
	}

	cfg := embed.NewConfig()
	cfg.Name = *name
	cfg.Dir = *dataDir
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = fmt.Sprintf("%s=%s", *name, pu.String())
	cfg.ClientTLSInfo.CertFile = *cert
	cfg.ClientTLSInfo.KeyFile = *key
	cfg.ClientTLSInfo.TrustedCAFile = *ca
	cfg.ClientTLSInfo.ClientCertAuth = true
	cfg.PeerTLSInfo = cfg.ClientTLSInfo
	cfg.LogOutputs = []string{*logFile}
	// Keep history short: a local control plane does not need old revisions,
	// and compaction keeps the database (and memory) small.
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "5m"
	cfg.QuotaBackendBytes = 2 << 30

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd: start: %v\n", err)
		return 1
	}
	defer e.Close()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		fmt.Fprintf(os.Stderr, "etcd: %v\n", err)
		return 1
	case <-time.After(2 * time.Minute):
		fmt.Fprintln(os.Stderr, "etcd: not ready after 2 minutes")
		return 1
	case <-sig:
		return 0
	}
	select {
	case err := <-e.Err():
		fmt.Fprintf(os.Stderr, "etcd: %v\n", err)
		return 1
	case <-sig:
		return 0
	}
}
