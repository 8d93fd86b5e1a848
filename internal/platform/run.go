// Package platform runs the kstack platform: `kstack up` (the embedded
// control plane, the platform process and optional demo clusters) and
// `kstack platform run` (the platform process alone, against any
// kube-apiserver, which is also how highly available replicas run).
package platform

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/controllers/globalcluster"
	"github.com/kstack/kstack/internal/gateway"
	"github.com/kstack/kstack/internal/version"
)

// SystemNamespace holds the platform's own objects (leases, secrets).
const SystemNamespace = "kstack-system"

// RunOptions configure the platform process.
type RunOptions struct {
	Kubeconfig  string
	Listen      string
	TLSCertFile string
	TLSKeyFile  string
	LeaderElect bool
}

// Scheme knows the built-in kinds and kstack's own.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = platformv1.AddToScheme(s)
	return s
}

// Run runs the platform process until ctx is done.
func Run(ctx context.Context, o RunOptions) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))
	cfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return fmt.Errorf("reading --kubeconfig %s: %w", o.Kubeconfig, err)
	}
	cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
	if err != nil {
		return fmt.Errorf("loading the gateway's TLS certificate (%s, %s): %w", o.TLSCertFile, o.TLSKeyFile, err)
	}
	gw := &gateway.Server{
		Listen:  o.Listen,
		TLS:     &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Version: version.Version,
		Log:     log.With("component", "gateway"),
	}
	if err := gw.Bind(); err != nil {
		return err
	}

	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := bootstrap(ctx, cs); err != nil {
		return err
	}
	if err := InstallCRDs(ctx, cfg); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        Scheme(),
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              "kstack-platform",
		LeaderElectionNamespace:       SystemNamespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("creating the controller manager: %w", err)
	}
	var synced atomic.Bool
	if err := mgr.Add(cacheSynced{mgr: mgr, synced: &synced}); err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	if err := (&globalcluster.Reconciler{Client: mgr.GetClient(), Discovery: dc}).SetupWithManager(mgr); err != nil {
		return err
	}
	gw.Checks = []gateway.Check{
		{Name: "kube-apiserver", Func: func(ctx context.Context) error {
			_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			return err
		}},
		{Name: "informers-synced", Func: func(context.Context) error {
			if !synced.Load() {
				return fmt.Errorf("caches not synced yet")
			}
			return nil
		}},
	}
	if err := mgr.Add(gw); err != nil {
		return err
	}
	log.Info("platform starting", "listen", o.Listen, "leaderElection", o.LeaderElect)
	return mgr.Start(ctx)
}

// bootstrap makes what the manager needs before it starts: the system
// namespace and the CRDs.
func bootstrap(ctx context.Context, cs kubernetes.Interface) error {
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace}}, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("creating namespace %s: %w", SystemNamespace, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil
}

type cacheSynced struct {
	mgr    ctrl.Manager
	synced *atomic.Bool
}

func (c cacheSynced) NeedLeaderElection() bool { return false }

func (c cacheSynced) Start(ctx context.Context) error {
	if c.mgr.GetCache().WaitForCacheSync(ctx) {
		c.synced.Store(true)
	}
	<-ctx.Done()
	return nil
}
