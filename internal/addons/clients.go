package addons

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// Clients are an add-on controller's clients of its member and its event
// recorder, whose events name component as their source.
type Clients struct {
	Dynamic  dynamic.Interface
	Kube     kubernetes.Interface
	Recorder record.EventRecorder
	events   record.EventBroadcaster
}

// NewClients makes the clients of member m; Close ends the recorder.
func NewClients(ctx context.Context, m Member, component string) (*Clients, error) {
	dyn, err := dynamic.NewForConfig(m.Config)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(m.Config)
	if err != nil {
		return nil, err
	}
	b := record.NewBroadcaster(record.WithContext(ctx))
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	return &Clients{Dynamic: dyn, Kube: cs, events: b,
		Recorder: b.NewRecorder(runtime.NewScheme(), corev1.EventSource{Component: component})}, nil
}

// Close stops sending events.
func (c *Clients) Close() { c.events.Shutdown() }
