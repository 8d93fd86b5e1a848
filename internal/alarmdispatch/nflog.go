package alarmdispatch

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/alertmanager/notify"
	"google.golang.org/protobuf/encoding/protodelim"

	"github.com/kstack/kstack/internal/recordstore"
)

// sharedLog is Alertmanager's in-memory notification log, shared through
// the record store instead of gossip: each entry it writes goes to the
// store (keeping only the newest), and hydrate merges the stored entry of a
// (group, receiver) before DedupStage reads it, so a new leader knows what
// the old one sent.
type sharedLog struct {
	log   *nflog.Log
	state recordstore.NotifyState
	l     *slog.Logger

	// mu serialises Log and Merge, so that the broadcast the nflog makes
	// inside either lands in last for that call only.
	mu   sync.Mutex
	last []byte
}

var _ notify.NotificationLog = (*sharedLog)(nil)

func newSharedLog(nl *nflog.Log, state recordstore.NotifyState, l *slog.Logger) *sharedLog {
	s := &sharedLog{log: nl, state: state, l: l}
	// Called by nflog under its lock, inside Log or Merge, which hold mu.
	nl.SetBroadcast(func(b []byte) { s.last = append([]byte(nil), b...) })
	return s
}

// stateKey is nflog's key of a (group key, receiver).
func stateKey(gkey string, r *nflogpb.Receiver) string {
	return fmt.Sprintf("%s:%s/%s/%d", gkey, r.GroupName, r.Integration, r.Idx)
}

// storeTimeout bounds one write of the log to the store.
const storeTimeout = 10 * time.Second

func (s *sharedLog) Log(r *nflogpb.Receiver, gkey string, firing, resolved, muted []uint64, st *nflog.Store, expiry time.Duration) error {
	s.mu.Lock()
	s.last = nil
	err := s.log.Log(r, gkey, firing, resolved, muted, st, expiry)
	b := s.last
	s.last = nil
	s.mu.Unlock()
	// The store keeps the newest entry whatever order writes land in.
	if err != nil {
		return err
	}
	if b == nil {
		return nil // an entry newer than now was kept
	}
	var e nflogpb.MeshEntry
	if err := protodelim.UnmarshalFrom(bufio.NewReader(bytes.NewReader(b)), &e); err != nil {
		return fmt.Errorf("notification log entry: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	return s.state.NFLogPut(ctx, stateKey(gkey, r), b, e.GetEntry().GetTimestamp().AsTime(), e.GetExpiresAt().AsTime())
}

func (s *sharedLog) Query(params ...nflog.QueryParam) ([]*nflogpb.Entry, error) {
	return s.log.Query(params...)
}

// hydrate merges the stored entry of (group, recv) into the in-memory log.
// A store that cannot be read fails the flush: nothing is enqueued, and the
// next flush tries again (never a duplicate).
func (s *sharedLog) hydrate(recv *nflogpb.Receiver) notify.Stage {
	return notify.StageFunc(func(ctx context.Context, _ *slog.Logger, alerts ...*alert.Alert) (context.Context, []*alert.Alert, error) {
		gkey, ok := notify.GroupKey(ctx)
		if !ok {
			return ctx, nil, fmt.Errorf("group key missing")
		}
		b, ts, err := s.state.NFLogGet(ctx, stateKey(gkey, recv))
		if err != nil {
			return ctx, nil, err
		}
		// Expired entries are none to DedupStage, but the next dedup key is
		// still derived from their ts: from zero, it would be the key of the
		// group's first notification, whose outbox row may still be there.
		ctx = context.WithValue(ctx, storedTSKey{}, ts)
		if b != nil {
			s.mu.Lock()
			err := s.log.Merge(b)
			s.last = nil // came from the store: nothing to write back
			s.mu.Unlock()
			if err != nil {
				s.l.Warn("unreadable notification log entry in the record store", "key", stateKey(gkey, recv), "err", err)
			}
		}
		return ctx, alerts, nil
	})
}

type storedTSKey struct{}

// storedTS is the ts of the stored entry hydrate read (zero: none).
func storedTS(ctx context.Context) time.Time {
	ts, _ := ctx.Value(storedTSKey{}).(time.Time)
	return ts
}
