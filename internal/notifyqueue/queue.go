// Package notifyqueue delivers the messages the alert dispatcher enqueues:
// workers lease rows of the record store's outbox per channel, at most as
// many as the channel's concurrency has free slots (so a slow or failing
// channel ties up only its own), send them, and retry failures with
// backoff until MaxAttempts or MaxAge, when the notification is marked
// failed (a row already older than MaxAge when leased, say after the queue
// was down, is failed without an attempt). Each notification is also a record (kind "notification") whose
// status goes pending → sent or failed.
//
// The outbox is durable and shared: a new leader picks up what the old one
// left, and a lease a crashed owner held runs out and is taken over (so a
// message may go out twice only in that crash window).
package notifyqueue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/notifychannel"
	"github.com/kstack/kstack/internal/notifymsg"
	"github.com/kstack/kstack/internal/recordstore"
)

// Defaults and bounds.
const (
	DefaultMaxAttempts = 6
	DefaultMaxAge      = 10 * time.Minute
	DefaultConcurrency = 4
	MaxConcurrency     = 32
	// AttemptTimeout bounds one delivery attempt.
	AttemptTimeout = 45 * time.Second
	// TestTimeout bounds a test-send.
	TestTimeout = 15 * time.Second
	// leaseFor is how long a leased row stays with its owner: longer than
	// an attempt, so only a crashed owner's lease runs out.
	leaseFor = 2 * time.Minute
	// poll is how often the queue looks for due rows when nothing woke it.
	poll = time.Second
	// keepDone is how long sent and failed rows stay in the outbox (their
	// records stay for the record retention).
	keepDone = 24 * time.Hour
)

// Record kinds and statuses.
const (
	RecordKind     = "notification"
	StatusPending  = "pending"
	StatusSent     = "sent"
	StatusFailed   = "failed"
	VerbTest       = "test"
	ResourceKind   = "channel"
	maxErrorLength = 1000
)

// Queue is the outbox and its workers.
type Queue struct {
	State  recordstore.NotifyState
	Sender *notifychannel.Sender
	// Client reads Channels and their credentials Secrets.
	Client client.Reader
	// Records receives the notification records; nil = none.
	Records interface {
		Add(recordstore.Record) error
	}
	// MaxAttempts (default 6) and MaxAge (default 10m, from enqueueing)
	// bound the retries of a message.
	MaxAttempts int
	MaxAge      time.Duration
	// Owner names this process in leases (default host-pid-random).
	Owner string
	Log   *slog.Logger

	// backoffBase is 1s; tests shorten it.
	backoffBase time.Duration
	// finishRetry is settle's first wait (200ms; 200+400+800+1600 ms in
	// all).
	finishRetry time.Duration

	once sync.Once
	wake chan struct{}
}

// Item is one message to enqueue.
type Item struct {
	Channel types.NamespacedName
	Message notifymsg.Message
	// Record is the notification record's template: Tenant, Cluster,
	// Namespace, Project, Verb (firing/resolved) and User (the receiver)
	// are the caller's; Data may hold a JSON object (policy, groupKey) to
	// which the queue adds status, attempts, lastError and the message.
	Record recordstore.Record
	// DedupKey identifies the notification: enqueueing the same key again
	// adds nothing.
	DedupKey string
}

// payload is an outbox row's content: no credentials.
type payload struct {
	Channel types.NamespacedName `json:"channel"`
	Message notifymsg.Message    `json:"message"`
	Record  recordstore.Record   `json:"record"`
}

func (q *Queue) init() {
	q.once.Do(func() {
		q.wake = make(chan struct{}, 1)
		if q.MaxAttempts <= 0 {
			q.MaxAttempts = DefaultMaxAttempts
		}
		if q.MaxAge <= 0 {
			q.MaxAge = DefaultMaxAge
		}
		if q.Owner == "" {
			h, _ := os.Hostname()
			var b [4]byte
			_, _ = rand.Read(b[:])
			q.Owner = fmt.Sprintf("%s-%d-%s", h, os.Getpid(), hex.EncodeToString(b[:]))
		}
		if q.Log == nil {
			q.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
		}
		if q.backoffBase <= 0 {
			q.backoffBase = time.Second
		}
		if q.finishRetry <= 0 {
			q.finishRetry = 200 * time.Millisecond
		}
	})
}

func (q *Queue) kick() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Enqueue adds it to the outbox unless its DedupKey is there already, and
// then writes the pending notification record and wakes the workers.
func (q *Queue) Enqueue(ctx context.Context, it Item) (bool, error) {
	q.init()
	if it.DedupKey == "" {
		return false, errors.New("notifyqueue: an item needs a dedup key")
	}
	now := time.Now()
	if it.Record.Time.IsZero() {
		it.Record.Time = now
	}
	b, err := json.Marshal(payload{Channel: it.Channel, Message: it.Message, Record: it.Record})
	if err != nil {
		return false, err
	}
	added, err := q.State.OutboxAdd(ctx, recordstore.OutboxItem{DedupKey: it.DedupKey, Channel: it.Channel.String(),
		Payload: b, NextAt: now, Created: it.Record.Time})
	if err != nil || !added {
		return added, err
	}
	q.record(it.DedupKey, it.Channel, it.Message, it.Record, StatusPending, 0, 0, "")
	q.kick()
	return true, nil
}

// SendNow makes one synchronous attempt (bounded by TestTimeout) to send m
// over channel ch, outside the outbox, and records it with verb "test".
func (q *Queue) SendNow(ctx context.Context, ch types.NamespacedName, m notifymsg.Message, rec recordstore.Record) notifychannel.Result {
	q.init()
	ctx, cancel := context.WithTimeout(ctx, TestTimeout)
	defer cancel()
	var r notifychannel.Result
	res, err := notifychannel.Resolve(ctx, q.Client, ch)
	if err != nil {
		r = notifychannel.Result{Err: err}
	} else {
		r = q.Sender.Send(ctx, res, m)
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	rec.Verb = VerbTest
	var id [16]byte
	_, _ = rand.Read(id[:])
	status, msg := StatusSent, ""
	if r.Err != nil {
		status, msg = StatusFailed, r.Err.Error()
	}
	q.record("test-"+hex.EncodeToString(id[:]), ch, m, rec, status, 1, r.Code, msg)
	return r
}

// record writes the notification record of uid.
func (q *Queue) record(uid string, ch types.NamespacedName, m notifymsg.Message, rec recordstore.Record, status string, attempts, code int, lastError string) {
	if q.Records == nil {
		return
	}
	data := map[string]any{}
	if len(rec.Data) > 0 {
		_ = json.Unmarshal(rec.Data, &data)
	}
	if len(lastError) > maxErrorLength {
		lastError = lastError[:maxErrorLength] + "…"
	}
	data["status"] = status
	data["attempts"] = attempts
	data["lastError"] = lastError
	data["channelType"] = m.ChannelType
	data["to"] = m.To
	data["subject"] = m.Subject
	data["body"] = m.Body
	b, _ := json.Marshal(data)
	rec.Kind = RecordKind
	rec.UID = uid
	rec.Resource = ResourceKind
	rec.Name = ch.String()
	rec.Code = code
	rec.Data = b
	if err := q.Records.Add(rec); err != nil {
		q.Log.Warn("could not record a notification", "channel", ch.String(), "status", status, "err", err)
	}
}

// Backoff is the wait after the n-th failed attempt (n >= 1): 1s·2^(n-1),
// at most a minute.
func Backoff(n int) time.Duration { return backoff(time.Second, n) }

func backoff(base time.Duration, n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := base
	for i := 1; i < n && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}

// NeedLeaderElection: only the leader delivers.
func (q *Queue) NeedLeaderElection() bool { return true }

// Start runs the workers until ctx ends, then waits for the attempts in
// flight (each bounded by AttemptTimeout).
func (q *Queue) Start(ctx context.Context) error {
	q.init()
	var (
		mu       sync.Mutex
		inFlight = map[string]int{}
		wg       sync.WaitGroup
	)
	defer wg.Wait()
	t := time.NewTimer(0)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-q.wake:
		case <-t.C:
		}
		now := time.Now()
		if now.Sub(lastPrune) > time.Hour {
			lastPrune = now
			if n, err := q.State.PruneNotifyState(ctx, now, keepDone); err != nil {
				q.Log.Warn("could not prune the notification state", "err", err)
			} else if n > 0 {
				q.Log.Debug("pruned the notification state", "deleted", n)
			}
		}
		chs, err := q.State.OutboxDueChannels(ctx, now)
		if err != nil && ctx.Err() == nil {
			q.Log.Warn("could not read the notification outbox", "err", err)
		}
		for _, ch := range chs {
			key, ok := splitKey(ch)
			if !ok {
				continue
			}
			mu.Lock()
			free := q.concurrency(ctx, key) - inFlight[ch]
			mu.Unlock()
			if free <= 0 {
				continue
			}
			items, err := q.State.OutboxLease(ctx, ch, q.Owner, free, now, leaseFor)
			if err != nil {
				if ctx.Err() == nil {
					q.Log.Warn("could not lease from the notification outbox", "channel", ch, "err", err)
				}
				continue
			}
			mu.Lock()
			inFlight[ch] += len(items)
			mu.Unlock()
			for _, it := range items {
				wg.Add(1)
				go func() {
					defer wg.Done()
					q.deliver(context.WithoutCancel(ctx), it)
					mu.Lock()
					inFlight[ch]--
					if inFlight[ch] == 0 {
						delete(inFlight, ch)
					}
					mu.Unlock()
					q.kick()
				}()
			}
		}
		t.Reset(poll)
	}
}

func splitKey(s string) (types.NamespacedName, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return types.NamespacedName{Namespace: s[:i], Name: s[i+1:]}, true
		}
	}
	return types.NamespacedName{}, false
}

// concurrency is the channel's spec.concurrency (default 4, at most 32);
// a channel that cannot be read gets 1, enough to fail its rows.
func (q *Queue) concurrency(ctx context.Context, key types.NamespacedName) int {
	ch := &notifyv1.Channel{}
	if err := q.Client.Get(ctx, key, ch); err != nil {
		return 1
	}
	switch n := ch.Spec.Concurrency; {
	case n <= 0:
		return DefaultConcurrency
	case n > MaxConcurrency:
		return MaxConcurrency
	default:
		return n
	}
}

// deliver makes one attempt at a leased row and settles it.
func (q *Queue) deliver(ctx context.Context, it recordstore.OutboxItem) {
	var p payload
	if err := json.Unmarshal(it.Payload, &p); err != nil {
		q.finish(ctx, it, p, notifychannel.Result{Err: fmt.Errorf("unreadable outbox row: %v", err)})
		return
	}
	if age := time.Since(it.Created); age > q.MaxAge {
		// Due for longer than MaxAge (the queue was down or backed up): too
		// late to be worth sending.
		msg := fmt.Sprintf("not delivered within --notify-max-age (%s): enqueued %s ago", q.MaxAge, age.Round(time.Second))
		if it.LastError != "" {
			msg += "; last error: " + it.LastError
		}
		q.finish(ctx, it, p, notifychannel.Result{Err: errors.New(msg)})
		return
	}
	if it.Attempts > q.MaxAttempts {
		// Leased more often than allowed: its owners crashed mid-attempt.
		q.finish(ctx, it, p, notifychannel.Result{Err: fmt.Errorf("gave up after %d attempts: %s", it.Attempts-1, it.LastError)})
		return
	}
	actx, cancel := context.WithTimeout(ctx, AttemptTimeout)
	defer cancel()
	var r notifychannel.Result
	ch, err := notifychannel.Resolve(actx, q.Client, p.Channel)
	switch {
	case apierrors.IsNotFound(err):
		r = notifychannel.Result{Err: err} // deleted: no point retrying
	case err != nil:
		r = notifychannel.Result{Retry: true, Err: err}
	default:
		r = q.Sender.Send(actx, ch, p.Message)
	}
	q.finish(ctx, it, p, r)
}

func (q *Queue) finish(ctx context.Context, it recordstore.OutboxItem, p payload, r notifychannel.Result) {
	now := time.Now()
	res := recordstore.OutboxResult{Status: recordstore.OutboxSent, Code: r.Code}
	if r.Err != nil {
		res.LastError = r.Err.Error()
		wait := backoff(q.backoffBase, it.Attempts)
		switch {
		case !r.Retry:
			res.Status = recordstore.OutboxFailed
		case it.Attempts >= q.MaxAttempts:
			res.Status = recordstore.OutboxFailed
			res.LastError = fmt.Sprintf("gave up after %d attempts: %s", it.Attempts, res.LastError)
		case now.Add(wait).Sub(it.Created) > q.MaxAge:
			res.Status = recordstore.OutboxFailed
			res.LastError = fmt.Sprintf("gave up after %s (%d attempts): %s", now.Sub(it.Created).Round(time.Second), it.Attempts, res.LastError)
		default:
			res.Status = recordstore.OutboxPending
			res.NextAt = now.Add(wait)
		}
	}
	if err := q.settle(ctx, it.ID, res); err != nil {
		// Lost the lease (it ran out and another owner took the row): the
		// new owner records the outcome. Or the store stayed down: the
		// lease runs out and the row is tried again.
		q.Log.Warn("could not settle a notification", "channel", it.Channel, "err", err)
		return
	}
	status := map[string]string{recordstore.OutboxSent: StatusSent, recordstore.OutboxFailed: StatusFailed, recordstore.OutboxPending: StatusPending}[res.Status]
	q.record(it.DedupKey, p.Channel, p.Message, p.Record, status, it.Attempts, r.Code, res.LastError)
	switch res.Status {
	case recordstore.OutboxFailed:
		q.Log.Warn("notification failed", "channel", it.Channel, "attempts", it.Attempts, "err", res.LastError)
	case recordstore.OutboxPending:
		q.Log.Debug("notification will be retried", "channel", it.Channel, "attempts", it.Attempts, "at", res.NextAt, "err", res.LastError)
	}
}

// settleTries bounds the tries of settle.
const settleTries = 5

// settle ends the lease of row id with res, trying again with short
// backoff (finishRetry, then doubled) when the store fails briefly: a row
// left leased is sent again once the lease runs out.
func (q *Queue) settle(ctx context.Context, id int64, res recordstore.OutboxResult) error {
	wait := q.finishRetry
	var err error
	for i := 0; i < settleTries; i++ {
		if i > 0 {
			time.Sleep(wait)
			wait *= 2
		}
		if err = q.State.OutboxFinish(ctx, id, q.Owner, res); err == nil || errors.Is(err, recordstore.ErrLeaseLost) {
			return err
		}
	}
	return err
}
