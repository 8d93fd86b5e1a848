// Package alarmdispatch turns firing and resolved alerts into queued
// notifications, on the leader: Alertmanager's dispatcher groups the
// alerts of the alert store by policy (alarm_policy) with the flag
// timings, and each flush of a group runs
//
//	MuteStage(AlarmSilences) → for each target of the policy, in parallel:
//	  hydrate (the shared notification log entry) → DedupStage → enqueue → SetNotifiesStage
//
// Targets are the policy's (channel, template) pairs, once per receiver for
// channels other than webhooks, read from the API at each flush (policy
// edits need no restart). Enqueueing is one outbox insert keyed by a dedup
// key every replica computes alike, and the notification log is kept in the
// record store, so two dispatchers on one store enqueue a notification
// once and a new leader does not repeat what the old one sent.
package alarmdispatch

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/labelset"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	"github.com/kstack/kstack/internal/alarmrule"
	"github.com/kstack/kstack/internal/alarmscope"
	"github.com/kstack/kstack/internal/notifymsg"
	"github.com/kstack/kstack/internal/notifyqueue"
	"github.com/kstack/kstack/internal/recordstore"
)

// Timing is the route's: --alarm-group-wait (30s), --alarm-group-interval
// (5m), --alarm-repeat-interval (4h; a policy's spec.repeatInterval
// overrides it).
type Timing struct{ GroupWait, GroupInterval, RepeatInterval time.Duration }

// DefaultTiming is Alertmanager's.
var DefaultTiming = Timing{GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute, RepeatInterval: 4 * time.Hour}

// Enqueuer takes notifications; *notifyqueue.Queue is one.
type Enqueuer interface {
	Enqueue(ctx context.Context, it notifyqueue.Item) (added bool, err error)
}

// Dispatcher runs Alertmanager's dispatcher over Alerts. Start it on the
// leader only.
type Dispatcher struct {
	Alerts *mem.Alerts
	// Client reads AlarmPolicy, Channel, Template, Receiver and
	// ReceiverGroup objects (the manager's cache).
	Client client.Reader
	// Muter mutes silenced alerts (alarmsilence.Muter); nil mutes none.
	Muter notify.Muter
	State recordstore.NotifyState
	Queue Enqueuer
	// Timing: all zero means DefaultTiming; otherwise a GroupWait of 0
	// flushes a new group at once, and a GroupInterval or RepeatInterval
	// of 0 takes the default.
	Timing Timing
	// ConsoleURL, when set, is where messages link to (the policy's alarm
	// records).
	ConsoleURL string
	// Registerer gets Alertmanager's notification metrics; nil = none.
	// Start registers them, so start one Dispatcher per Registerer.
	Registerer prometheus.Registerer
	Log        *slog.Logger

	log *sharedLog
	// gcEvery is how often the in-memory log drops expired entries (1m;
	// tests shorten it).
	gcEvery time.Duration

	mu    sync.Mutex
	known map[string]known // by policy key: for the resolution of a deleted policy
}

// NeedLeaderElection: only the leader dispatches.
func (d *Dispatcher) NeedLeaderElection() bool { return true }

// Route is the static route: everything grouped by policy.
func Route(t Timing) *dispatch.Route {
	gw, gi, ri := model.Duration(t.GroupWait), model.Duration(t.GroupInterval), model.Duration(t.RepeatInterval)
	return dispatch.NewRoute(&config.Route{
		Receiver:       "alarm",
		GroupBy:        []model.LabelName{alarmrule.LabelPolicy},
		GroupWait:      &gw,
		GroupInterval:  &gi,
		RepeatInterval: &ri,
	}, nil)
}

// nflogRetention bounds how long an entry lives in memory; each entry's own
// expiry (twice its repeat interval) is shorter.
const nflogRetention = 90 * 24 * time.Hour

// Start dispatches until ctx ends.
func (d *Dispatcher) Start(ctx context.Context) error {
	if d.Alerts == nil || d.Client == nil || d.State == nil || d.Queue == nil {
		return errors.New("alarmdispatch: Alerts, Client, State and Queue are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.Timing == (Timing{}) {
		d.Timing = DefaultTiming
	}
	if d.Timing.GroupWait < 0 {
		d.Timing.GroupWait = 0
	}
	if d.Timing.GroupInterval <= 0 {
		d.Timing.GroupInterval = DefaultTiming.GroupInterval
	}
	if d.Timing.RepeatInterval <= 0 {
		d.Timing.RepeatInterval = DefaultTiming.RepeatInterval
	}
	reg := d.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	nl, err := nflog.New(nflog.Options{Retention: nflogRetention, Logger: d.Log, Metrics: reg})
	if err != nil {
		return err
	}
	d.log = newSharedLog(nl, d.State, d.Log)
	ff := featurecontrol.NoopFlags{}
	metrics := notify.NewMetrics(reg, ff)
	var muter notify.Muter = notify.MuteFunc(func(context.Context, labelset.LabelSet) bool { return false })
	if d.Muter != nil {
		muter = d.Muter
	}
	stage := notify.MultiStage{notify.NewMuteStage(muter, metrics), notify.StageFunc(d.fanout)}
	timeout := func(t time.Duration) time.Duration { return max(t, notify.MinTimeout) }
	disp := dispatch.NewDispatcher(d.Alerts, Route(d.Timing), stage, nil, timeout, 30*time.Second, nil,
		d.Log, eventrecorder.NopRecorder(), nil, nil)
	ran := make(chan struct{})
	go func() { disp.Run(time.Now()); close(ran) }()
	d.Log.Info("alarm dispatcher started", "groupWait", d.Timing.GroupWait, "groupInterval", d.Timing.GroupInterval, "repeatInterval", d.Timing.RepeatInterval)
	if d.gcEvery <= 0 {
		d.gcEvery = time.Minute
	}
	gc := time.NewTicker(d.gcEvery)
	defer gc.Stop()
	for {
		select {
		case <-ctx.Done():
			disp.Stop()
			<-ran
			return nil
		case <-gc.C:
			if _, err := nl.GC(); err != nil {
				d.Log.Warn("notification log GC", "err", err)
			}
			d.forgetOld(time.Now().Add(-max(time.Hour, 3*d.Timing.GroupInterval)))
		}
	}
}

// fanout runs each of the group's policy's targets.
func (d *Dispatcher) fanout(ctx context.Context, l *slog.Logger, alerts ...*alert.Alert) (context.Context, []*alert.Alert, error) {
	gl, _ := notify.GroupLabels(ctx)
	key := string(gl[alarmrule.LabelPolicy])
	p, targets, err := Targets(ctx, d.Client, key, d.Log.Warn)
	gone := apierrors.IsNotFound(err)
	switch {
	case gone:
		// Deleted while its alerts fired: its receivers hear once that
		// they are resolved, through the targets it had.
		last, ok := d.lastKnown(key)
		if !ok {
			d.Log.Debug("alerts of a policy that no longer exists are dropped", "policy", key)
			return ctx, nil, nil
		}
		p, targets = last.policy, last.targets
		now := time.Now()
		over := make([]*alert.Alert, 0, len(alerts))
		for _, a := range alerts {
			if !a.Resolved() {
				c := *a
				c.EndsAt = now
				a = &c
			}
			over = append(over, a)
		}
		alerts = over
	case err != nil:
		return ctx, nil, err
	default:
		d.remember(key, p, targets)
	}
	if p.Spec.RepeatInterval != nil && p.Spec.RepeatInterval.Duration > 0 {
		ctx = notify.WithRepeatInterval(ctx, p.Spec.RepeatInterval.Duration)
	}
	sendResolved := p.Spec.SendResolved == nil || *p.Spec.SendResolved
	fan := make(notify.FanoutStage, 0, len(targets))
	for _, t := range targets {
		recv := &nflogpb.Receiver{GroupName: key, Integration: t.ID}
		fan = append(fan, notify.MultiStage{
			d.log.hydrate(recv),
			notify.NewDedupStage(resolvedSender(sendResolved), d.log, recv),
			d.enqueue(p, t, recv, sendResolved),
			notify.NewSetNotifiesStage(d.log, recv, featurecontrol.NoopFlags{}),
		})
	}
	ctx, out, err := fan.Exec(ctx, l, alerts...)
	if gone && err == nil {
		d.forget(key)
	}
	return ctx, out, err
}

// known is a policy and its targets as of its last flush.
type known struct {
	policy  *monitorv1.AlarmPolicy
	targets []Target
	at      time.Time
}

func (d *Dispatcher) remember(key string, p *monitorv1.AlarmPolicy, targets []Target) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.known == nil {
		d.known = map[string]known{}
	}
	d.known[key] = known{policy: p, targets: targets, at: time.Now()}
}

func (d *Dispatcher) lastKnown(key string) (known, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k, ok := d.known[key]
	return k, ok
}

func (d *Dispatcher) forget(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.known, key)
}

// forgetOld drops what was last refreshed before cut: a policy deleted
// then has had its alerts time out and its resolution sent long since.
func (d *Dispatcher) forgetOld(cut time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, v := range d.known {
		if v.at.Before(cut) {
			delete(d.known, k)
		}
	}
}

type resolvedSender bool

func (r resolvedSender) SendResolved() bool { return bool(r) }

// DedupKey identifies one notification of one target: the same on every
// replica that saw the same previous log entry and the same alerts.
func DedupKey(stateKey string, prev time.Time, firing, resolved []uint64) string {
	h := sha256.New()
	h.Write([]byte(stateKey))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(prev.UnixNano()))
	h.Write([]byte{0})
	h.Write(b[:])
	for _, set := range [][]uint64{firing, resolved} {
		s := slices.Clone(set)
		slices.Sort(s)
		h.Write([]byte{0})
		for _, v := range s {
			binary.BigEndian.PutUint64(b[:], v)
			h.Write(b[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:40]
}

// enqueue renders the message of target t and puts it into the queue.
func (d *Dispatcher) enqueue(p *monitorv1.AlarmPolicy, t Target, recv *nflogpb.Receiver, sendResolved bool) notify.Stage {
	return notify.StageFunc(func(ctx context.Context, _ *slog.Logger, alerts ...*alert.Alert) (context.Context, []*alert.Alert, error) {
		gkey, _ := notify.GroupKey(ctx)
		firing, _ := notify.FiringAlerts(ctx)
		resolved, _ := notify.ResolvedAlerts(ctx)
		send := alerts
		if !sendResolved {
			send = nil
			for _, a := range alerts {
				if !a.Resolved() {
					send = append(send, a)
				}
			}
		}
		if len(send) == 0 {
			// Only resolutions, which this policy does not send; the log
			// still records them (SetNotifiesStage).
			return ctx, alerts, nil
		}
		// The newest entry's ts, expired or not: the key then differs from
		// every earlier notification's of this target.
		prev := storedTS(ctx)
		if es, err := d.log.Query(nflog.QGroupKey(gkey), nflog.QReceiver(recv)); err == nil && len(es) == 1 {
			if ts := es[0].GetTimestamp().AsTime(); ts.After(prev) {
				prev = ts
			}
		}
		key := DedupKey(stateKey(gkey, recv), prev, firing, resolved)
		data := d.data(p, t, send)
		msg, err := notifymsg.Render(&t.Template, data)
		if err != nil {
			d.Log.Warn("alarm message template failed; using the default template", "policy", recv.GroupName, "target", t.ID, "err", err)
			def := notifymsg.Default(t.ChannelType)
			if msg, err = notifymsg.Render(&def, data); err != nil {
				return ctx, nil, err
			}
		}
		msg.ChannelType = t.ChannelType
		if t.To != "" {
			msg.To = []string{t.To}
		}
		recData, _ := json.Marshal(map[string]any{"policy": recv.GroupName, "groupKey": gkey, "target": t.ID})
		rec := recordstore.Record{
			Time:      time.Now(),
			Tenant:    tenantOf(p),
			Cluster:   p.Spec.ClusterName,
			Namespace: p.Spec.Namespace,
			Project:   projectOf(p),
			Verb:      data.Status,
			Data:      recData,
		}
		if t.Receiver != nil {
			rec.User = t.Receiver.Name
		}
		if _, err := d.Queue.Enqueue(ctx, notifyqueue.Item{Channel: t.Channel, Message: msg, Record: rec, DedupKey: key}); err != nil {
			return ctx, nil, err
		}
		return ctx, alerts, nil
	})
}

func tenantOf(p *monitorv1.AlarmPolicy) string {
	if p.Spec.TenantID != "" {
		return p.Spec.TenantID
	}
	return authv1.DefaultTenant
}

// projectOf: a project policy lives in its project's namespace; a cluster
// policy (in kstack-system, no spec.namespace) has none.
func projectOf(p *monitorv1.AlarmPolicy) string {
	if p.Spec.ProjectName != "" {
		return p.Spec.ProjectName
	}
	if p.Spec.Namespace != "" {
		return p.Namespace
	}
	return ""
}

// Label names of the series the objects are named by.
const (
	labelPod        = "pod"
	annotationValue = "value"
)

// data is what the target's template sees.
func (d *Dispatcher) data(p *monitorv1.AlarmPolicy, t Target, alerts []*alert.Alert) *notifymsg.Data {
	out := &notifymsg.Data{
		Status: "resolved",
		Policy: notifymsg.Policy{Name: p.Name, DisplayName: p.Spec.DisplayName, Namespace: p.Spec.Namespace,
			Project: projectOf(p), Cluster: p.Spec.ClusterName, ObjectType: string(p.Spec.ObjectType)},
	}
	if t.Receiver != nil {
		out.Receiver = notifymsg.Receiver{Name: t.Receiver.Name, DisplayName: t.Receiver.Spec.DisplayName}
	}
	var common map[string]string
	for _, a := range alerts {
		st := "firing"
		if a.Resolved() {
			st = "resolved"
		} else {
			out.Status = "firing"
		}
		ls := make(map[string]string, len(a.Labels))
		for k, v := range a.Labels {
			ls[string(k)] = string(v)
		}
		if common == nil {
			common = copyMap(ls)
		} else {
			for k, v := range common {
				if ls[k] != v {
					delete(common, k)
				}
			}
		}
		metric := string(a.Annotations[alarmrule.AnnotationMetric])
		if metric == "" {
			metric = ls[alarmrule.LabelMetric]
		}
		out.Alerts = append(out.Alerts, notifymsg.Alert{
			Status:    st,
			Metric:    metric,
			Operator:  string(a.Annotations[alarmrule.AnnotationOperator]),
			Threshold: string(a.Annotations[alarmrule.AnnotationThreshold]),
			Value:     string(a.Annotations[annotationValue]),
			Object:    objectOf(ls),
			Labels:    ls,
			StartsAt:  a.StartsAt,
			EndsAt:    a.EndsAt,
		})
	}
	out.CommonLabels = common
	if d.ConsoleURL != "" {
		// The console's alarm records of the policy: a project's page, or
		// the platform's for the tenant's shared policies.
		page := "/console/platform/alarms/records"
		if p.Namespace != alarmscope.SystemNamespace {
			page = "/console/business/projects/" + url.PathEscape(p.Namespace) + "/alarms/records"
		}
		out.URL = strings.TrimRight(d.ConsoleURL, "/") + page + "?" + url.Values{"policy": {p.Namespace + "/" + p.Name}, "cluster": {p.Spec.ClusterName}}.Encode()
	}
	return out
}

func copyMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// objectOf names what an alert is about: namespace/pod, node, or cluster.
func objectOf(ls map[string]string) string {
	switch {
	case ls[labelPod] != "":
		if ns := ls[alarmrule.LabelNamespace]; ns != "" {
			return ns + "/" + ls[labelPod]
		}
		return ls[labelPod]
	case ls[alarmrule.LabelNode] != "":
		return ls[alarmrule.LabelNode]
	}
	return ls[alarmrule.LabelCluster]
}
