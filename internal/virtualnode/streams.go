package virtualnode

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
)

// The kubelet API of the virtual node: `kubectl logs|exec|attach|port-forward`
// on an upper pod arrive here (from the upper kube-apiserver) and are
// replayed against the lower pod through the lower kube-apiserver.

// GetContainerLogs streams the lower pod's logs.
func (l *lowerNode) GetContainerLogs(ctx context.Context, namespace, pod, container string, o api.ContainerLogOpts) (io.ReadCloser, error) {
	if _, err := l.ownLowerPod(namespace, pod); err != nil {
		return nil, err
	}
	opts := &corev1.PodLogOptions{Container: container, Follow: o.Follow, Previous: o.Previous, Timestamps: o.Timestamps}
	if o.Tail > 0 {
		t := int64(o.Tail)
		opts.TailLines = &t
	}
	if o.LimitBytes > 0 {
		b := int64(o.LimitBytes)
		opts.LimitBytes = &b
	}
	if o.SinceSeconds > 0 {
		s := int64(o.SinceSeconds)
		opts.SinceSeconds = &s
	} else if !o.SinceTime.IsZero() {
		t := metav1.NewTime(o.SinceTime)
		opts.SinceTime = &t
	}
	return l.client.CoreV1().Pods(namespace).GetLogs(pod, opts).Stream(ctx)
}

// RunInContainer runs a command in the lower pod's container.
func (l *lowerNode) RunInContainer(ctx context.Context, namespace, pod, container string, cmd []string, a api.AttachIO) error {
	opts := &corev1.PodExecOptions{
		Container: container, Command: cmd, Stdin: a.Stdin() != nil, Stdout: a.Stdout() != nil, Stderr: a.Stderr() != nil && !a.TTY(), TTY: a.TTY(),
	}
	return l.stream(ctx, namespace, pod, "exec", opts, a)
}

// AttachToContainer attaches to the lower pod's container.
func (l *lowerNode) AttachToContainer(ctx context.Context, namespace, pod, container string, a api.AttachIO) error {
	opts := &corev1.PodAttachOptions{
		Container: container, Stdin: a.Stdin() != nil, Stdout: a.Stdout() != nil, Stderr: a.Stderr() != nil && !a.TTY(), TTY: a.TTY(),
	}
	return l.stream(ctx, namespace, pod, "attach", opts, a)
}

// stream runs exec or attach against the lower kube-apiserver, over
// WebSocket with SPDY as the fallback (client-go's own choice for kubectl).
func (l *lowerNode) stream(ctx context.Context, namespace, pod, sub string, opts runtime.Object, a api.AttachIO) error {
	if _, err := l.ownLowerPod(namespace, pod); err != nil {
		return err
	}
	req := l.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource(sub).
		VersionedParams(opts, scheme.ParameterCodec)
	spdyExec, err := remotecommand.NewSPDYExecutor(l.config, http.MethodPost, req.URL())
	if err != nil {
		return err
	}
	wsExec, err := remotecommand.NewWebSocketExecutor(l.config, http.MethodGet, req.URL().String())
	if err != nil {
		return err
	}
	exec, err := remotecommand.NewFallbackExecutor(wsExec, spdyExec, httpstream.IsUpgradeFailure)
	if err != nil {
		return err
	}
	so := remotecommand.StreamOptions{Tty: a.TTY()}
	if a.Stdin() != nil {
		so.Stdin = a.Stdin()
	}
	if a.Stdout() != nil {
		so.Stdout = a.Stdout()
	}
	if a.Stderr() != nil && !a.TTY() {
		so.Stderr = a.Stderr()
	}
	if a.TTY() {
		so.TerminalSizeQueue = termSizes{ctx: ctx, ch: a.Resize()}
	}
	return exec.StreamWithContext(ctx, so)
}

// PortForward connects one upper port-forward stream to the lower pod's port
// over an SPDY connection to the lower kube-apiserver.
func (l *lowerNode) PortForward(ctx context.Context, namespace, pod string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	if _, err := l.ownLowerPod(namespace, pod); err != nil {
		return err
	}
	transport, upgrader, err := spdy.RoundTripperFor(l.config)
	if err != nil {
		return err
	}
	u := l.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	conn, _, err := dialer.Dial(portforward.PortForwardProtocolV1Name)
	if err != nil {
		return fmt.Errorf("port-forward to the lower pod: %w", err)
	}
	defer conn.Close()
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, strconv.Itoa(int(port)))
	h.Set(corev1.PortForwardRequestIDHeader, "0")
	errStream, err := conn.CreateStream(h)
	if err != nil {
		return err
	}
	_ = errStream.Close() // we only read from it
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := conn.CreateStream(h)
	if err != nil {
		return err
	}
	errc := make(chan error, 3)
	go func() {
		msg, _ := io.ReadAll(errStream)
		if len(msg) > 0 {
			errc <- fmt.Errorf("lower cluster: %s", msg)
		}
	}()
	go func() { _, err := io.Copy(data, stream); _ = data.Close(); errc <- err }()
	go func() { _, err := io.Copy(stream, data); errc <- err }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return nil
	case <-conn.CloseChan():
		return nil
	}
}

// termSizes adapts virtual-kubelet's resize channel to client-go's queue.
type termSizes struct {
	ctx context.Context
	ch  <-chan api.TermSize
}

func (t termSizes) Next() *remotecommand.TerminalSize {
	select {
	case s, ok := <-t.ch:
		if !ok {
			return nil
		}
		return &remotecommand.TerminalSize{Width: s.Width, Height: s.Height}
	case <-t.ctx.Done():
		return nil
	}
}
