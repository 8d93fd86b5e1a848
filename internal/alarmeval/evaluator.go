// Package alarmeval evaluates alarm policies on every replica, with
// Prometheus's rule manager (github.com/prometheus/prometheus/rules) as a
// library: each policy is one rule group, loaded from the AlarmPolicy
// objects rather than from files, whose queries run on the metric store
// under the policy's own scope (internal/alarmscope). Alerts go into this
// replica's Alertmanager alert store (provider/mem); the leader also writes
// alarm records when an alert fires or resolves, and the policies' status.
package alarmeval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	"github.com/kstack/kstack/internal/alarmrule"
	"github.com/kstack/kstack/internal/alarmscope"
	"github.com/kstack/kstack/internal/metricstore"
	"github.com/kstack/kstack/internal/recordstore"
)

// Phases of a policy's status.
const (
	PhaseActive = "Active"
	PhaseError  = "Error"
)

// DefaultUnit is the length of one "minute" of a policy's periodMinutes.
const DefaultUnit = time.Minute

// resync is how often the policies are read again even without a change
// (the scopes depend on Namespaces and Clusters, which the controller also
// watches; this is the safety net).
const resync = 30 * time.Second

// Evaluator runs the alarm policies' rules. Store, Client and Alerts are
// required; the zero value of the rest works (Unit 1m, no records, always
// leader, no metrics, no logs).
type Evaluator struct {
	Store  *metricstore.Store
	Client client.Reader // the manager's cache
	// Unit is the length of one "minute" of periodMinutes (--alarm-period-unit; tests shorten it).
	Unit time.Duration
	// Alerts is this replica's alert store (*mem.Alerts).
	Alerts interface {
		Put(context.Context, ...*alert.Alert) error
	}
	// Records takes alarm records (kind "alarm"); nil writes none.
	Records interface {
		Add(recordstore.Record) error
	}
	// OpenRecords finds the alarm records still open (verb firing) in the
	// store that Records writes to: the record store itself
	// (recordstore.Store). When this replica becomes the leader it adopts
	// them before it writes any record, so that one firing of one alert is
	// one record whichever replica leads when it fires and when it
	// resolves, and it resolves those whose alert no longer fires here. nil
	// knows only this replica's own records (a single replica, tests).
	OpenRecords RecordSearcher
	// IsLeader: records and status are written only while it returns true;
	// nil means always.
	IsLeader func() bool
	// AdoptGrace is how long an open record adopted from the store (written
	// by another leader) stays open though no alert of it is pending or
	// firing here: a replica whose metric store has not got the member's
	// newest samples yet (it just started, or just connected the member)
	// would otherwise resolve what still fires. The platform gives it two
	// collection intervals; zero adopts with no grace.
	AdoptGrace time.Duration
	// Registerer takes the rule manager's metrics (prometheus_rule_*); nil registers none.
	Registerer prometheus.Registerer
	// ExternalURL is the console's address, for the alerts' generator URL
	// (optional).
	ExternalURL string
	Log         *slog.Logger

	once    sync.Once
	mgr     *rules.Manager
	runCtx  context.Context
	stopRun context.CancelFunc
	started atomic.Bool
	extURL  string

	syncMu sync.Mutex  // one Sync at a time
	dirty  atomic.Bool // a watched object changed since the last Sync

	mu       sync.RWMutex
	policies map[string]*policyState // by alarmrule.PolicyKey

	recMu    sync.Mutex
	recorded map[string]*recordState // by RecordUID of this replica's firing of an alert
	open     map[string]*openRecord  // the alarm records open in the store, by openKey
	leading  bool                    // leader when last looked at
	loaded   bool                    // open holds the store's open records for this leadership
	nextLoad time.Time               // when the store's open records are read again
}

// policyState is what the last Sync made of one policy.
type policyState struct {
	key     string
	policy  *monitorv1.AlarmPolicy
	period  time.Duration
	rules   []alarmrule.Rule
	scope   *metricstore.Scope // nil reads nothing
	phase   string
	message string
}

var _ manager.LeaderElectionRunnable = (*Evaluator)(nil)

// NeedLeaderElection is false: every replica evaluates and feeds its own
// alert store.
func (e *Evaluator) NeedLeaderElection() bool { return false }

func (e *Evaluator) unit() time.Duration {
	if e.Unit <= 0 {
		return DefaultUnit
	}
	return e.Unit
}

func (e *Evaluator) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

func (e *Evaluator) leader() bool { return e.IsLeader == nil || e.IsLeader() }

// init builds the rule manager once; Sync may run before Start (groups
// wait for Run to evaluate).
func (e *Evaluator) init() {
	e.once.Do(func() {
		e.runCtx, e.stopRun = context.WithCancel(context.Background())
		e.recorded = map[string]*recordState{}
		e.open = map[string]*openRecord{}
		e.loaded = e.OpenRecords == nil // nothing to read
		ext, err := url.Parse(e.ExternalURL)
		if err != nil || e.ExternalURL == "" {
			ext = &url.URL{Scheme: "http", Host: "localhost"}
		}
		e.extURL = ext.String()
		e.mgr = rules.NewManager(&rules.ManagerOptions{
			ExternalURL:  ext,
			QueryFunc:    e.query,
			NotifyFunc:   e.notify,
			Context:      e.runCtx,
			AppendableV2: discard{},
			// Nothing to restore (ALERTS_FOR_STATE is never written).
			Queryable:   noopQueryable{},
			Logger:      e.log().With("component", "alarm-rules"),
			Registerer:  e.Registerer,
			ResendDelay: 0, // every evaluation re-sends the active alerts (they expire at ValidUntil)
			GroupLoader: loader{e},
			Parser:      exprParser,
		})
		// The first Update decides that groups restore their "for" state
		// from ALERTS_FOR_STATE series; an empty one first means none do.
		if err := e.mgr.Update(e.unit(), nil, labels.EmptyLabels(), e.extURL, nil); err != nil {
			e.log().Error("alarm rules: initial update", "err", err)
		}
	})
}

// Start runs the rule manager until ctx ends, reading the policies again
// every 30 seconds besides the controller's Syncs.
func (e *Evaluator) Start(ctx context.Context) error {
	if e.Store == nil || e.Client == nil {
		return errors.New("alarmeval: Store and Client are required")
	}
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("alarmeval: already started")
	}
	e.init()
	done := make(chan struct{})
	go func() {
		e.mgr.Run()
		close(done)
	}()
	if err := e.Sync(ctx); err != nil && ctx.Err() == nil {
		e.log().Warn("alarm policies: sync", "err", err)
	}
	t := time.NewTicker(resync)
	defer t.Stop()
	// The leader's open records: read when it becomes the leader, checked
	// against the alerts every second.
	lead := time.NewTicker(openEvery)
	defer lead.Stop()
	for {
		select {
		case <-lead.C:
			e.tickOpen(ctx, time.Now())
		case <-ctx.Done():
			e.stopRun() // in-flight queries end
			e.mgr.Stop()
			<-done
			return nil
		case <-t.C:
			if err := e.Sync(ctx); err != nil && ctx.Err() == nil {
				e.log().Warn("alarm policies: sync", "err", err)
			}
			e.forgetRecorded(time.Now().Add(-forgetAfter))
		}
	}
}

// Sync reads every AlarmPolicy, compiles it and derives its scope, and
// hands the rule groups to the rule manager: unchanged groups keep running,
// changed ones keep their alerts' state, removed ones stop. A policy that
// does not compile is left out and one whose scope does not stand reads
// nothing; neither stops the others (their status says why).
func (e *Evaluator) Sync(ctx context.Context) error {
	if e.Client == nil {
		return errors.New("alarmeval: Client is required")
	}
	e.init()
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	var list monitorv1.AlarmPolicyList
	if err := e.Client.List(ctx, &list); err != nil {
		return fmt.Errorf("listing alarm policies: %w", err)
	}
	e.mu.RLock()
	prev := e.policies
	e.mu.RUnlock()
	next := make(map[string]*policyState, len(list.Items))
	for i := range list.Items {
		p := &list.Items[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		st := e.build(ctx, p, prev[alarmrule.PolicyKey(p.Namespace, p.Name)])
		next[st.key] = st
	}
	e.mu.Lock()
	e.policies = next
	e.mu.Unlock()
	files := make([]string, 0, len(next))
	for k, st := range next {
		if len(st.rules) > 0 {
			files = append(files, k)
		}
	}
	slices.Sort(files)
	ending := e.firingOfRemoved(prev, next)
	if err := e.mgr.Update(e.unit(), files, labels.EmptyLabels(), e.extURL, nil); err != nil {
		return err
	}
	// A policy deleted, or no longer compiling, ends its alarms now rather
	// than letting them expire: resolved alerts, resolved records.
	now := time.Now()
	for _, en := range ending {
		for _, a := range en.alerts {
			a.State = rules.StateInactive
			a.ResolvedAt = now
		}
		e.send(e.runCtx, "", en.st, en.alerts)
	}
	return nil
}

type ending struct {
	st     *policyState
	alerts []*rules.Alert
}

// firingOfRemoved is the firing alerts of the policies whose rules the
// next Update removes.
func (e *Evaluator) firingOfRemoved(prev, next map[string]*policyState) []ending {
	removed := map[string]*policyState{}
	for k, st := range prev {
		if n := next[k]; len(st.rules) > 0 && (n == nil || len(n.rules) == 0) {
			removed[k] = st
		}
	}
	if len(removed) == 0 {
		return nil
	}
	var out []ending
	for _, g := range e.mgr.RuleGroups() {
		st := removed[g.File()]
		if st == nil {
			continue
		}
		en := ending{st: st}
		for _, ar := range g.AlertingRules() {
			for _, a := range ar.ActiveAlerts() { // copies
				if a.State == rules.StateFiring {
					en.alerts = append(en.alerts, a)
				}
			}
		}
		if len(en.alerts) > 0 {
			out = append(out, en)
		}
	}
	return out
}

// build compiles one policy and derives its scope.
func (e *Evaluator) build(ctx context.Context, p *monitorv1.AlarmPolicy, prev *policyState) *policyState {
	st := &policyState{
		key:    alarmrule.PolicyKey(p.Namespace, p.Name),
		policy: p.DeepCopy(),
		period: alarmrule.Period(&p.Spec, e.unit()),
		scope:  &metricstore.Scope{},
		phase:  PhaseActive,
	}
	rs, err := alarmrule.Compile(p, e.unit())
	if err == nil {
		// The manager parses the printed rules again; a rule it could not
		// parse would fail every group's load.
		for _, r := range rs {
			if _, perr := exprParser.ParseExpr(r.Expr); perr != nil {
				err = fmt.Errorf("rule %s does not parse: %w", r.Name, perr)
				break
			}
		}
	}
	if err != nil {
		st.phase, st.message = PhaseError, err.Error()
		return st
	}
	st.rules = rs
	sc, err := alarmscope.Of(ctx, e.Client, p)
	var denied *alarmscope.DeniedError
	switch {
	case err == nil:
		st.scope = sc
	case errors.As(err, &denied):
		// Keep the rules with an empty scope: what fired resolves.
		st.phase, st.message = PhaseError, err.Error()
	case prev != nil && prev.scope != nil && prev.phase == PhaseActive:
		// A failed read: keep the scope the policy had.
		st.scope = prev.scope
		e.log().Warn("alarm policy scope: keeping the previous one", "policy", st.key, "err", err)
	default:
		st.phase, st.message = PhaseError, "reading the policy's scope: "+err.Error()
	}
	return st
}

func (e *Evaluator) state(key string) *policyState {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.policies[key]
}

// query runs a rule's expression on the store as the rule's policy may
// read it. The policy comes from the rule's own labels (the rule manager
// puts the rule in the context before it queries); a query without one
// reads nothing.
func (e *Evaluator) query(ctx context.Context, q string, t time.Time) (promql.Vector, error) {
	key := rules.FromOriginContext(ctx).Labels.Get(alarmrule.LabelPolicy)
	var sc *metricstore.Scope
	if st := e.state(key); st != nil {
		sc = st.scope
	}
	return rules.EngineQueryFunc(e.Store.Engine(), e.Store.Scoped(sc))(ctx, q, t)
}

// Status is what the evaluation says of a policy now; ok is false for a
// policy the last Sync did not see.
func (e *Evaluator) Status(key string) (monitorv1.AlarmPolicyStatus, bool) {
	st := e.state(key)
	if st == nil {
		return monitorv1.AlarmPolicyStatus{}, false
	}
	out := monitorv1.AlarmPolicyStatus{Phase: st.phase, Message: st.message}
	for _, r := range st.rules {
		out.Rules = append(out.Rules, monitorv1.CompiledRule{Name: r.Name, Expr: r.Expr, For: model.Duration(r.For).String()})
	}
	e.init()
	for _, g := range e.mgr.RuleGroups() {
		if g.File() != key {
			continue
		}
		if last := g.GetLastEvaluation(); !last.IsZero() {
			out.LastEvaluationTime = metav1Time(last.Truncate(time.Second)) // as stored
		}
		for _, ar := range g.AlertingRules() {
			for _, a := range ar.ActiveAlerts() {
				if a.State == rules.StateFiring {
					out.Firing++
				}
			}
		}
	}
	return out, true
}

// loader hands the rule manager the groups of the last Sync: one group per
// policy, identified by its key. It never fails: a policy that is gone
// gives no group.
type loader struct{ e *Evaluator }

func (l loader) Load(identifier string, _ bool, _ model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	st := l.e.state(identifier)
	if st == nil || len(st.rules) == 0 {
		return &rulefmt.RuleGroups{}, nil
	}
	g := rulefmt.RuleGroup{Name: identifier, Interval: model.Duration(st.period)}
	for _, r := range st.rules {
		g.Rules = append(g.Rules, rulefmt.Rule{
			Alert:       st.policy.Name,
			Expr:        r.Expr,
			For:         model.Duration(r.For),
			Labels:      literalTemplates(r.Labels),
			Annotations: literalTemplates(r.Annotations),
		})
	}
	return &rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{g}}, nil
}

func (l loader) Parse(query string) (parser.Expr, error) { return exprParser.ParseExpr(query) }

var exprParser = parser.NewParser(parser.Options{})

// literalTemplates makes the rule manager's template expansion of label
// and annotation values print them as they are: "{{" becomes an action
// that prints "{{".
func literalTemplates(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if strings.Contains(v, "{{") {
			v = strings.ReplaceAll(v, "{{", "{{`{{`}}")
		}
		out[k] = v
	}
	return out
}

// discard takes the rule manager's ALERTS series and keeps nothing: the
// metric store holds only what the collector writes.
type discard struct{}

func (discard) AppenderV2(context.Context) storage.AppenderV2 { return discardAppender{} }

type discardAppender struct{}

func (discardAppender) Append(storage.SeriesRef, labels.Labels, int64, int64, float64, *histogram.Histogram, *histogram.FloatHistogram, storage.AppendV2Options) (storage.SeriesRef, error) {
	return 0, nil
}
func (discardAppender) Commit() error   { return nil }
func (discardAppender) Rollback() error { return nil }

type noopQueryable struct{}

func (noopQueryable) Querier(int64, int64) (storage.Querier, error) {
	return storage.NoopQuerier(), nil
}
