package virtualnode

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	"golang.org/x/time/rate"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// Lower is one lower cluster: its name (node label, node name suffix) and
// how to reach it.
type Lower struct {
	Name   string
	Config *rest.Config
}

// Options configure one virtual-node process.
type Options struct {
	Upper  *rest.Config
	Lowers []Lower

	NodePrefix string // node name = prefix + lower name
	NodeIP     string // address the upper kube-apiserver reaches the kubelet endpoints at
	Taint      bool   // add the virtual-kubelet.io/provider taint

	DescheduleAfter time.Duration // 0 turns the descheduler off
	MaxMoves        int
	FailoverAfter   time.Duration // 0 turns failover off
	Webhook         bool

	TLSCertFile, TLSKeyFile string // kubelet serving certificate; default: a CSR to the upper cluster
	Log                     *slog.Logger
	// Ready, if set, is called once every virtual node is registered.
	Ready func(nodes []string)
}

// Run runs the virtual nodes until ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if len(o.Lowers) == 0 {
		return errors.New("no lower cluster: give at least one --lower")
	}
	ip := net.ParseIP(o.NodeIP)
	if ip == nil {
		return fmt.Errorf("--node-ip %q is not an IP address", o.NodeIP)
	}
	upperCfg := rest.CopyConfig(o.Upper)
	upperCfg.QPS, upperCfg.Burst = 200, 400
	upper, err := kubernetes.NewForConfig(upperCfg)
	if err != nil {
		return err
	}
	version, err := serverVersion(ctx, upper)
	if err != nil {
		return fmt.Errorf("the upper cluster does not answer: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	objs := newUpperObjects(upper)
	var lowers []*lowerNode
	seen := map[string]bool{}
	for _, lo := range o.Lowers {
		name := o.NodePrefix + lo.Name
		if seen[name] {
			return fmt.Errorf("two lower clusters are both named %q; name them apart with --lower NAME=KUBECONFIG", lo.Name)
		}
		seen[name] = true
		l, err := newLowerNode(lo.Name, name, lo.Config, o.Log)
		if err != nil {
			return err
		}
		if _, err := serverVersion(ctx, l.client); err != nil {
			return fmt.Errorf("lower cluster %s does not answer: %w", lo.Name, err)
		}
		l.upper, l.upperObjs = upper, objs
		lowers = append(lowers, l)
	}
	// Upper caches first: CreatePod reads referenced objects from them.
	if err := watchReferences(ctx, objs, lowers, o.Log); err != nil {
		return err
	}
	svcSync, err := newServiceSync(objs, lowers, o.Log)
	if err != nil {
		return err
	}
	if err := objs.start(ctx); err != nil {
		return err
	}
	for _, l := range lowers {
		o.Log.Info("reading the lower cluster", "lower", l.cluster)
		if err := l.start(ctx); err != nil {
			return err
		}
	}

	serving, err := servingCertificate(ctx, o, upper, lowers[0].nodeName, ip)
	if err != nil {
		return err
	}
	clientCAs, err := upperClientCAs(ctx, upper, o.Upper)
	if err != nil {
		return err
	}
	authz := &kubeletAuthz{client: upper, cache: map[string]authzEntry{}}

	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&corev1client.EventSinkImpl{Interface: upper.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kstack-virtual-node"})

	errs := make(chan error, 2*len(lowers)+2)
	var names []string
	for _, l := range lowers {
		ln, err := net.Listen("tcp", net.JoinHostPort(o.NodeIP, "0"))
		if err != nil {
			return fmt.Errorf("listening for the kubelet endpoint of %s: %w", l.nodeName, err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		initial := l.initialNode(&o, int32(port), version)
		startNode, err := buildNode(l, initial, upper, objs, recorder)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("/", api.PodHandler(api.PodHandlerConfig{
			RunInContainer: l.RunInContainer, AttachToContainer: l.AttachToContainer, GetContainerLogs: l.GetContainerLogs,
			GetPods: l.GetPods, GetStatsSummary: l.GetStatsSummary, GetMetricsResource: l.GetMetricsResource,
			PortForward: l.PortForward, StreamIdleTimeout: 30 * time.Minute, StreamCreationTimeout: 30 * time.Second,
		}, true))
		srv := &http.Server{Handler: authz.wrap(mux), ReadHeaderTimeout: 30 * time.Second, TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{serving}, ClientCAs: clientCAs, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
		}}
		go func() { _ = srv.ServeTLS(ln, "", "") }()
		go func() { <-ctx.Done(); _ = srv.Close() }()
		if err := startNode(ctx, errs); err != nil {
			return fmt.Errorf("virtual node %s did not become ready: %w", l.nodeName, err)
		}
		go l.runStatus(ctx)
		go collectGarbage(ctx, l, 15*time.Second)
		names = append(names, l.nodeName)
		o.Log.Info("virtual node registered", "node", l.nodeName, "lower", l.cluster, "kubelet-port", port,
			"cpu", initial.Status.Allocatable.Cpu().String(), "memory", initial.Status.Allocatable.Memory().String(),
			"pods", initial.Status.Allocatable.Pods().String())
	}

	avoid := newAvoidStore(10 * time.Minute)
	if o.Webhook {
		if err := serveWebhook(ctx, o, upper, ip, avoid, objs); err != nil {
			return err
		}
	}
	m := &mover{upper: upper, lowers: lowers, avoid: avoid, recorder: recorder, log: o.Log,
		descheduleAfter: o.DescheduleAfter, maxMoves: o.MaxMoves, failoverAfter: o.FailoverAfter}
	go m.run(ctx)
	go svcSync.run(ctx)
	go svcSync.resync(ctx, time.Minute)
	if o.Ready != nil {
		o.Ready(names)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return err
	}
}

func serverVersion(ctx context.Context, cs kubernetes.Interface) (string, error) {
	type result struct {
		v   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := cs.Discovery().ServerVersion()
		if err != nil {
			ch <- result{err: err}
			return
		}
		ch <- result{v: v.GitVersion}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-time.After(15 * time.Second):
		return "", errors.New("no answer within 15 s")
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func servingCertificate(ctx context.Context, o Options, upper kubernetes.Interface, node string, ip net.IP) (tls.Certificate, error) {
	if o.TLSCertFile != "" || o.TLSKeyFile != "" {
		c, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return c, fmt.Errorf("--tls-cert-file/--tls-key-file: %w", err)
		}
		return c, nil
	}
	o.Log.Info("asking the upper cluster to sign the kubelet serving certificate")
	return kubeletServingCert(ctx, upper, node, ip)
}

// upperClientCAs is the CA the upper kube-apiserver's kubelet client
// certificate chains to: the cluster's published client CA (as kubelets and
// extension apiservers read it), else the CA of the upper kubeconfig.
func upperClientCAs(ctx context.Context, cs kubernetes.Interface, cfg *rest.Config) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	cm, err := cs.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{})
	if err == nil && pool.AppendCertsFromPEM([]byte(cm.Data["client-ca-file"])) {
		return pool, nil
	}
	ca := cfg.CAData
	if len(ca) == 0 && cfg.CAFile != "" {
		if ca, err = os.ReadFile(cfg.CAFile); err != nil {
			return nil, err
		}
	}
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("cannot tell which CA signs the upper kube-apiserver's client certificate: kube-system/extension-apiserver-authentication is unreadable and the upper kubeconfig has no CA")
	}
	return pool, nil
}

// kubeletAuthz authorises callers of the kubelet endpoint the way a kubelet
// does: a verified client certificate, then a SubjectAccessReview on
// nodes/proxy in the upper cluster (cached for a minute).
type kubeletAuthz struct {
	client kubernetes.Interface
	mu     sync.Mutex
	cache  map[string]authzEntry
}

type authzEntry struct {
	allowed bool
	at      time.Time
}

func (a *kubeletAuthz) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "a client certificate of the upper cluster is required", http.StatusUnauthorized)
			return
		}
		cert := r.TLS.VerifiedChains[0][0]
		user, groups := cert.Subject.CommonName, cert.Subject.Organization
		verb := "get"
		if r.Method != http.MethodGet {
			verb = "create"
		}
		key := user + "|" + fmt.Sprint(groups) + "|" + verb
		a.mu.Lock()
		e, ok := a.cache[key]
		a.mu.Unlock()
		if !ok || time.Since(e.at) > time.Minute {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: user, Groups: groups,
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Resource: "nodes", Subresource: "proxy"},
			}}
			res, err := a.client.AuthorizationV1().SubjectAccessReviews().Create(r.Context(), sar, metav1.CreateOptions{})
			if err != nil {
				http.Error(w, "cannot check authorisation: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			e = authzEntry{allowed: res.Status.Allowed, at: time.Now()}
			a.mu.Lock()
			a.cache[key] = e
			a.mu.Unlock()
		}
		if !e.allowed {
			http.Error(w, fmt.Sprintf("%s may not %s nodes/proxy", user, verb), http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func serveWebhook(ctx context.Context, o Options, upper kubernetes.Interface, ip net.IP, avoid *avoidStore, objs *upperObjects) error {
	cert, caPEM, err := selfSignedCA(ip)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.NodeIP, "0"))
	if err != nil {
		return fmt.Errorf("listening for the webhook: %w", err)
	}
	isVirtual := func(name string) bool {
		n, err := objs.nodes.Get(name)
		return err == nil && n.Labels[LabelType] == TypeVirtual
	}
	mux := http.NewServeMux()
	mux.Handle("/mutate", &webhook{avoid: avoid, isVirtual: isVirtual, log: o.Log})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	url := "https://" + net.JoinHostPort(o.NodeIP, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)) + "/mutate"
	if err := registerWebhook(ctx, upper, url, caPEM); err != nil {
		return fmt.Errorf("registering the webhook in the upper cluster: %w", err)
	}
	o.Log.Info("webhook registered", "url", url, "opt-in", LabelWebhook+"=enabled on a namespace or pod")
	return nil
}

// buildNode assembles one virtual node from virtual-kubelet's node package.
// nodeutil.NewNode would do it too, but it leaves the pod controller's
// queues at client-go's default limit of 10 items/s overall, which capped a
// burst of pods at 10/s; these queues allow 500/s (tensile-kube ran 100/s).
// The upper ConfigMap, Secret and Service informers are the shared ones.
func buildNode(l *lowerNode, spec corev1.Node, upper kubernetes.Interface, objs *upperObjects, recorder record.EventRecorder) (func(context.Context, chan<- error) error, error) {
	pods := informers.NewSharedInformerFactoryWithOptions(upper, 0, nodeutil.PodInformerFilter(l.nodeName))
	podInformer := pods.Core().V1().Pods()
	if err := podInformer.Informer().SetTransform(dropManagedFields); err != nil {
		return nil, err
	}
	l.upperPods = podInformer.Lister()
	l.mu.Lock()
	l.node = spec.DeepCopy()
	l.mu.Unlock()
	nodeSpec := spec.DeepCopy()
	nc, err := node.NewNodeController(l, nodeSpec, upper.CoreV1().Nodes(),
		node.WithNodeEnableLeaseV1(nodeutil.NodeLeaseV1Client(upper), node.DefaultLeaseDuration))
	if err != nil {
		return nil, err
	}
	limiter := func() workqueue.TypedRateLimiter[any] {
		return workqueue.NewTypedMaxOfRateLimiter[any](
			workqueue.NewTypedItemExponentialFailureRateLimiter[any](5*time.Millisecond, 30*time.Second),
			&workqueue.TypedBucketRateLimiter[any]{Limiter: rate.NewLimiter(rate.Limit(500), 1000)})
	}
	pc, err := node.NewPodController(node.PodControllerConfig{
		PodClient: upper.CoreV1(), EventRecorder: recorder, Provider: l, PodInformer: podInformer,
		SecretInformer: objs.factory.Core().V1().Secrets(), ConfigMapInformer: objs.factory.Core().V1().ConfigMaps(),
		ServiceInformer:                      objs.factory.Core().V1().Services(),
		SkipDownwardAPIResolution:            true, // env resolves below, from the copies
		SyncPodsFromKubernetesRateLimiter:    limiter(),
		DeletePodsFromKubernetesRateLimiter:  limiter(),
		SyncPodStatusFromProviderRateLimiter: limiter(),
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, errs chan<- error) error {
		pods.Start(ctx.Done())
		go func() {
			if err := pc.Run(ctx, 20); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("virtual node %s: pod controller: %w", l.nodeName, err)
			}
		}()
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		select {
		case <-pc.Ready():
		case <-pc.Done():
			return pc.Err()
		case <-wctx.Done():
			return errors.New("the pod controller did not start within 2 minutes")
		}
		go func() {
			if err := nc.Run(ctx); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("virtual node %s: node controller: %w", l.nodeName, err)
			}
		}()
		select {
		case <-nc.Ready():
			return nil
		case <-nc.Done():
			return nc.Err()
		case <-wctx.Done():
			return errors.New("the node was not registered within 2 minutes")
		}
	}, nil
}

// dropManagedFields slims cached objects: managed fields are most of a pod's
// size and nothing here reads them.
func dropManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}
