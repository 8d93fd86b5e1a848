package platform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kstack/kstack/internal/audit"
	"github.com/kstack/kstack/internal/controlplane"
	"github.com/kstack/kstack/internal/diskqueue"
	"github.com/kstack/kstack/internal/recordstore"
)

// RecordOptions configure the record store: audit records, persisted
// events, and later alarm and notification records.
type RecordOptions struct {
	// Store is the DSN: sqlite:/path/records.db or postgres://...; "" runs
	// without one (no audit, no event persistence).
	Store string
	// QueueDir holds the on-disk queue between writers and the store
	// (default: beside a SQLite file, or under the OS's temp dir).
	QueueDir string
	// QueueBytes bounds the queue; what it refuses is counted and logged.
	QueueBytes int64
	// MaxAge and MaxRecords (per kind) are the retention.
	MaxAge     time.Duration
	MaxRecords int64
	// AuditPolicyFile is a Kubernetes audit policy for the gateway's
	// records ("" keeps audit.DefaultPolicy).
	AuditPolicyFile string
	// AuditWebhookListen, with its certificate, serves the kube-apiserver's
	// audit webhook backend (writes that did not come through the gateway).
	AuditWebhookListen, AuditWebhookCertFile, AuditWebhookKeyFile string
}

// DefaultRecordOptions are the defaults of the flags.
func DefaultRecordOptions() RecordOptions {
	return RecordOptions{QueueBytes: 256 << 20, MaxAge: 90 * 24 * time.Hour, MaxRecords: 20_000_000}
}

// records is the record store as one phase hands it to the next.
type records struct {
	store    recordstore.Store
	queue    *diskqueue.Queue
	writer   *recordstore.Writer
	recorder *audit.Recorder
	receiver *audit.ReceiverServer
}

// openRecords opens the store (a PostgreSQL that is down is an error now,
// not a silent loss later), the queue and the writer.
func (r *runner) openRecords(ctx context.Context) error {
	o := r.o.Records
	if o.Store == "" {
		r.log.Warn("no --record-store: audit records and persisted events are off")
		return nil
	}
	policy := audit.MustDefault()
	if o.AuditPolicyFile != "" {
		data, err := os.ReadFile(o.AuditPolicyFile)
		if err != nil {
			return fmt.Errorf("reading --audit-policy-file: %w", err)
		}
		if policy, err = audit.ParsePolicy(data); err != nil {
			return fmt.Errorf("--audit-policy-file %s: %w", o.AuditPolicyFile, err)
		}
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	store, err := recordstore.Open(octx, o.Store, r.log.With("component", "recordstore"))
	if err != nil {
		return fmt.Errorf("opening the record store (--record-store): %w", err)
	}
	dir := o.QueueDir
	if dir == "" {
		if p, ok := strings.CutPrefix(o.Store, "sqlite:"); ok {
			dir = filepath.Join(filepath.Dir(p), "record-queue")
		} else {
			dir = filepath.Join(os.TempDir(), "kstack-record-queue")
		}
	}
	q, err := diskqueue.Open(dir, diskqueue.Options{MaxBytes: o.QueueBytes, SyncInterval: 100 * time.Millisecond})
	if err != nil {
		store.Close()
		return fmt.Errorf("opening the record queue (--record-queue-dir %s): %w", dir, err)
	}
	w := recordstore.NewWriter(q, store, r.log.With("component", "record-writer"))
	rec := &records{store: store, queue: q, writer: w, recorder: &audit.Recorder{Policy: policy, Sink: w}}
	if o.AuditWebhookListen != "" {
		rec.receiver = &audit.ReceiverServer{
			Listen: o.AuditWebhookListen, CertFile: o.AuditWebhookCertFile, KeyFile: o.AuditWebhookKeyFile,
			ClientCAFile: r.o.WebhookClientCAFile, ClientName: controlplane.WebhookClient.CommonName,
			Handler: &audit.Receiver{Sink: w, Log: r.log}, Log: r.log.With("component", "audit-receiver"),
		}
		if err := rec.receiver.Bind(); err != nil {
			q.Close()
			store.Close()
			return err
		}
	}
	r.records = rec
	r.log.Info("record store open", "dialect", store.Dialect(), "queue", dir)
	return nil
}

// startRecords adds the writer, the receiver and retention to the manager.
func (r *runner) startRecords() error {
	rec := r.records
	observe := r.self.Observe
	if rec == nil {
		r.gw.Audit = observe
		return nil
	}
	r.gw.Audit = func(e audit.Entry) {
		observe(e)
		rec.recorder.Record(e)
	}
	log := r.log.With("component", "record-writer")
	if err := r.mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		err := rec.writer.Run(ctx)
		rec.queue.Close()
		rec.store.Close()
		return err
	})); err != nil {
		return err
	}
	if rec.receiver != nil {
		if err := r.mgr.Add(rec.receiver); err != nil {
			return err
		}
	}
	// Every replica says, once a minute while it lasts, that its full queue
	// refuses records (they are counted, never dropped in silence).
	if err := r.mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		var refused int64
		every(ctx, time.Minute, func() {
			if s := rec.writer.Stats(); s.Refused > refused {
				log.Error("the record queue is full: records were refused", "refused", s.Refused-refused, "refusedTotal", s.Refused, "queuedBytes", s.QueuedBytes)
				refused = s.Refused
			}
		})
		return nil
	})); err != nil {
		return err
	}
	// Retention, on the leader.
	ret := recordstore.Retention{MaxAge: r.o.Records.MaxAge, MaxRecords: r.o.Records.MaxRecords}
	return r.mgr.Add(leaderRunnable(func(ctx context.Context) {
		every(ctx, time.Hour, func() {
			if n, err := rec.store.Prune(ctx, ret); err != nil {
				log.Warn("pruning the record store", "err", err)
			} else if n > 0 {
				log.Info("pruned the record store", "deleted", n)
			}
		})
	}))
}

// every runs f now and then every d until ctx is done.
func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// leaderRunnable runs f on the elected leader only.
type leaderRunnable func(ctx context.Context)

func (f leaderRunnable) Start(ctx context.Context) error { f(ctx); return nil }
func (f leaderRunnable) NeedLeaderElection() bool        { return true }
