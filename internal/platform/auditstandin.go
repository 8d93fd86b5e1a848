package platform

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/kstack/kstack/internal/audit"
	"github.com/kstack/kstack/internal/controlplane"
	"github.com/kstack/kstack/internal/diskqueue"
	"github.com/kstack/kstack/internal/recordstore"
)

// defaultRecordQueueDir is where up puts the platform's record queue.
func defaultRecordQueueDir(l controlplane.Layout) string {
	return filepath.Join(l.Dir, "records", "queue")
}

// recordQueueDir is the platform's record queue: up's default, or the
// one --platform-arg gives it.
func (u *upRun) recordQueueDir() string {
	dir := defaultRecordQueueDir(u.l)
	for _, a := range u.o.PlatformArgs {
		if v, ok := strings.CutPrefix(a, "--record-queue-dir="); ok {
			dir = v
		}
	}
	return dir
}

// auditReceiver is where and how the platform receives the apiserver's
// audit events (the platform's flags; the stand-in's server).
func (u *upRun) auditReceiver() *audit.ReceiverServer {
	return &audit.ReceiverServer{
		Listen:   fmt.Sprintf("127.0.0.1:%d", u.st.Ports.AuditWebhook),
		CertFile: u.l.PKI(controlplane.AuditWebhookServing + ".crt"), KeyFile: u.l.PKI(controlplane.AuditWebhookServing + ".key"),
		ClientCAFile: u.l.PKI("ca.crt"), ClientName: controlplane.WebhookClient.CommonName,
	}
}

// auditStandIn takes the platform's place as the apiserver's audit
// receiver from the moment the platform has stopped until the apiserver
// has: the apiserver sends the last writes it saw (the platform's own,
// on its way out) as it stops, and would otherwise retry a receiver that
// is gone for 16 s and then drop them. They go into the record queue,
// which the platform drains into the store at its next start.
func (u *upRun) auditStandIn() (release func()) {
	log := u.log.With("component", "audit-stand-in")
	q, err := diskqueue.Open(u.recordQueueDir(), diskqueue.Options{})
	if err != nil {
		log.Warn("the apiserver's last audit events are not kept", "err", err)
		return nil
	}
	rs := u.auditReceiver()
	// Only queued: the writer that drains it is the next platform's.
	rs.Handler, rs.Log = &audit.Receiver{Sink: recordstore.NewWriter(q, nil, log), Log: log}, log
	if err := rs.Bind(); err != nil {
		q.Close()
		log.Warn("the apiserver's last audit events are not kept", "err", err)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = rs.Start(ctx)
	}()
	return func() {
		cancel()
		select {
		case <-served:
		case <-time.After(6 * time.Second):
		}
		q.Close()
	}
}
