package alarmeval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/util/strutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	"github.com/kstack/kstack/internal/alarmrule"
	"github.com/kstack/kstack/internal/recordstore"
)

// Record kind, resource and verbs of alarm records.
const (
	RecordKind     = "alarm"
	RecordResource = "alarmpolicy"
	StatusFiring   = "firing"
	StatusResolved = "resolved"
	// AnnotationValue is the alert's value at the last evaluation, formatted.
	AnnotationValue = "value"
)

// forgetAfter is how long a recorded alert is remembered after it was last
// seen: longer than the rule manager keeps a resolved alert (15 minutes),
// so a resolved alert is not recorded again while it is still sent.
const forgetAfter = 30 * time.Minute

type recordState struct {
	status string // what was recorded last
	seen   time.Time
}

// notify is the rule manager's NotifyFunc: it gets, at every evaluation,
// each firing alert and each resolved one for 15 minutes after. It puts them
// into the alert store as Prometheus sends them to Alertmanager (StartsAt
// the firing time, EndsAt the resolution or ValidUntil), and the leader
// records each one when it fires and when it resolves.
func (e *Evaluator) notify(ctx context.Context, expr string, alerts ...*rules.Alert) {
	e.send(ctx, expr, nil, alerts)
}

// send puts alerts into the alert store and records them. st is their
// policy; nil looks it up by the alerts' LabelPolicy.
func (e *Evaluator) send(ctx context.Context, expr string, st *policyState, alerts []*rules.Alert) {
	if len(alerts) == 0 {
		return
	}
	now := time.Now()
	out := make([]*alert.Alert, 0, len(alerts))
	for _, a := range alerts {
		if a.FiredAt.IsZero() {
			continue // pending: never sent
		}
		ls := make(model.LabelSet, a.Labels.Len())
		a.Labels.Range(func(l labels.Label) { ls[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
		ann := make(model.LabelSet, a.Annotations.Len()+1)
		a.Annotations.Range(func(l labels.Label) { ann[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
		ann[AnnotationValue] = model.LabelValue(FormatValue(a.Value))
		ma := model.Alert{Labels: ls, Annotations: ann, StartsAt: a.FiredAt}
		if e.ExternalURL != "" && expr != "" {
			ma.GeneratorURL = e.extURL + strutil.TableLinkForExpression(expr)
		}
		if !a.ResolvedAt.IsZero() {
			ma.EndsAt = a.ResolvedAt
		} else {
			ma.EndsAt = a.ValidUntil
		}
		am := alert.New(ma, now, false)
		out = append(out, am)
		e.record(st, a, am.Fingerprint(), now)
	}
	if len(out) == 0 || e.Alerts == nil {
		return
	}
	if err := e.Alerts.Put(ctx, out...); err != nil {
		e.log().Warn("alarm alerts: put", "err", err, "alerts", len(out))
	}
}

// FormatValue prints an alert's value as people read it: at most two
// decimals.
func FormatValue(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	if r := math.Round(v*100) / 100; !math.IsInf(r, 0) {
		v = r
	}
	if v == 0 {
		v = 0 // not -0
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// RecordUID is the UID of the alarm record that the leader opens when an
// alert of a policy fires and no record of it is open: one per firing, so
// that its resolution replaces it. firedAt is the leader's own; a replica
// that leads later adopts the open record's UID from the store
// (Evaluator.OpenRecords) rather than computing its own.
func RecordUID(policyKey string, fp model.Fingerprint, firedAt time.Time) string {
	h := sha256.New()
	h.Write([]byte(policyKey))
	h.Write([]byte{0})
	h.Write([]byte(fp.String()))
	h.Write([]byte{0})
	h.Write([]byte(firedAt.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// RecordPolicy names the policy in a record's data.
type RecordPolicy struct {
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
}

// RecordData is the Data of an alarm record.
type RecordData struct {
	Policy     RecordPolicy      `json:"policy"`
	ObjectType string            `json:"objectType"`
	Condition  string            `json:"condition"`        // "0".."9" or "expr"
	Metric     string            `json:"metric,omitempty"` // "" for expr
	Operator   string            `json:"operator,omitempty"`
	Threshold  string            `json:"threshold,omitempty"`
	Labels     map[string]string `json:"labels"`
	Value      string            `json:"value"`
	FiredAt    time.Time         `json:"firedAt"`
	ResolvedAt *time.Time        `json:"resolvedAt,omitempty"`
	Status     string            `json:"status"` // firing | resolved
}

// record writes an alarm record when a's state is not the one recorded
// for it, while this replica leads. One firing of one alert is one record
// in the store, whichever replica writes it: its UID is that of the open
// record of the alert (policy and fingerprint) when the store holds one —
// written by this replica or by a leader before it, whose FiredAt differs
// from this replica's — and a firing with no open record opens one.
// Tenant, cluster, namespace and project come from the policy, never from
// the alert's labels.
func (e *Evaluator) record(st *policyState, a *rules.Alert, fp model.Fingerprint, now time.Time) {
	key := a.Labels.Get(alarmrule.LabelPolicy)
	local := RecordUID(key, fp, a.FiredAt) // this replica's firing of the alert
	status := StatusFiring
	if !a.ResolvedAt.IsZero() {
		status = StatusResolved
	}
	e.recMu.Lock()
	defer e.recMu.Unlock()
	rs := e.recorded[local]
	if rs == nil {
		rs = &recordState{}
		e.recorded[local] = rs
	}
	rs.seen = now
	if rs.status == status || e.Records == nil || !e.leadingLocked() {
		return
	}
	if !e.loaded {
		return // the store's open records are not read yet: the next evaluation sends it again
	}
	ok := openKey(key, fp)
	o := e.open[ok]
	switch {
	case status == StatusFiring && o != nil:
		// Open already: by this replica, or by the leader before it.
		rs.status = status
		return
	case status == StatusResolved && o == nil:
		// Nothing open: resolved already (by the leader before, or because
		// it stopped firing here), or its firing was never recorded.
		rs.status = status
		return
	}
	if st == nil {
		st = e.state(key)
	}
	if st == nil {
		return // the policy is gone: nothing to attribute the record to (checkOpen resolves it)
	}
	uid, firedAt := local, a.FiredAt.UTC()
	if o != nil {
		uid, firedAt = o.uid, o.firedAt
	}
	rec, err := alarmRecord(st.policy, a, status, uid, firedAt)
	if err != nil {
		e.log().Warn("alarm record: encode", "err", err)
		return
	}
	if err := e.Records.Add(rec); err != nil {
		e.log().Warn("alarm record: add", "err", err, "policy", key)
		return
	}
	rs.status = status
	if status == StatusFiring {
		e.open[ok] = &openRecord{uid: uid, firedAt: firedAt, rec: rec, since: now, own: true}
	} else {
		delete(e.open, ok)
	}
}

// alarmRecord is the record of a's firing (uid, firedAt) in status.
func alarmRecord(p *monitorv1.AlarmPolicy, a *rules.Alert, status, uid string, firedAt time.Time) (recordstore.Record, error) {
	tenant := p.Spec.TenantID
	if tenant == "" {
		tenant = authv1.DefaultTenant
	}
	project := ""
	if p.Spec.Namespace != "" {
		project = p.Namespace
	}
	d := RecordData{
		Policy:     RecordPolicy{Namespace: p.Namespace, Name: p.Name, DisplayName: p.Spec.DisplayName},
		ObjectType: string(p.Spec.ObjectType),
		Condition:  a.Labels.Get(alarmrule.LabelCondition),
		Metric:     a.Labels.Get(alarmrule.LabelMetric),
		Operator:   a.Annotations.Get(alarmrule.AnnotationOperator),
		Threshold:  a.Annotations.Get(alarmrule.AnnotationThreshold),
		Labels:     a.Labels.Map(),
		Value:      FormatValue(a.Value),
		FiredAt:    firedAt,
		Status:     status,
	}
	if status == StatusResolved {
		t := a.ResolvedAt.UTC()
		d.ResolvedAt = &t
	}
	data, err := json.Marshal(d)
	if err != nil {
		return recordstore.Record{}, err
	}
	return recordstore.Record{
		Kind:      RecordKind,
		Time:      firedAt,
		Tenant:    tenant,
		Cluster:   p.Spec.ClusterName,
		Namespace: p.Spec.Namespace,
		Project:   project,
		Resource:  RecordResource,
		Name:      alarmrule.PolicyKey(p.Namespace, p.Name),
		Verb:      status,
		UID:       uid,
		Data:      data,
	}, nil
}

// forgetRecorded drops what was recorded of alerts not seen since before.
func (e *Evaluator) forgetRecorded(before time.Time) {
	e.recMu.Lock()
	defer e.recMu.Unlock()
	for uid, rs := range e.recorded {
		if rs.seen.Before(before) {
			delete(e.recorded, uid)
		}
	}
}

func metav1Time(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}
