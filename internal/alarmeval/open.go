package alarmeval

import (
	"context"
	"encoding/json"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"

	"github.com/kstack/kstack/internal/recordstore"
)

// RecordSearcher finds records: recordstore.Store is one.
type RecordSearcher interface {
	Search(ctx context.Context, q recordstore.Query) (recordstore.Page, error)
}

// Timings of the leader's open records.
const (
	// openEvery is how often the open records are checked against the
	// alerts (and, after a change of leader, read).
	openEvery = time.Second
	// openRetry is how soon a failed read of the store is tried again.
	openRetry = 5 * time.Second
	// keepOwn is how long a record this replica wrote stays known as open
	// when a new leadership reads the store: the writer may not have
	// stored it yet.
	keepOwn = time.Minute
	// searchTimeout bounds one read of the store's open records.
	searchTimeout = 15 * time.Second
)

// openRecord is an alarm record the store holds open (verb firing): the
// record of one firing of one alert, the same on every replica.
type openRecord struct {
	uid     string
	firedAt time.Time
	rec     recordstore.Record // as stored, to resolve it without the alert
	since   time.Time          // known from then on
	own     bool               // written by this replica
}

// openKey identifies an alert across replicas: its policy and the
// fingerprint of its labels (Alertmanager's, the same everywhere).
func openKey(policyKey string, fp model.Fingerprint) string {
	return policyKey + "\x00" + fp.String()
}

// leadingLocked says whether this replica leads; when that changed, the
// store's open records are to be read again before any record is written
// (another replica led meanwhile). recMu is held.
func (e *Evaluator) leadingLocked() bool {
	l := e.leader()
	if l != e.leading {
		e.leading = l
		if e.OpenRecords != nil {
			e.loaded = false
		}
	}
	return l
}

// tickOpen runs every openEvery on every replica: on the leader, it reads
// the store's open records when the leadership begins and every resync
// after, and resolves those whose alert no longer fires here.
func (e *Evaluator) tickOpen(ctx context.Context, now time.Time) {
	if e.Records == nil {
		return
	}
	e.recMu.Lock()
	leading := e.leadingLocked()
	load := leading && e.OpenRecords != nil && (!e.loaded || !now.Before(e.nextLoad))
	check := leading && e.loaded && len(e.open) > 0
	e.recMu.Unlock()
	if load {
		sctx, cancel := context.WithTimeout(ctx, searchTimeout)
		err := e.loadOpen(sctx, now)
		cancel()
		e.recMu.Lock()
		if err != nil {
			e.nextLoad = now.Add(openRetry)
		} else {
			e.nextLoad = now.Add(resync)
		}
		e.recMu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				e.log().Warn("alarm records: reading the open ones (no record is written until they are read)", "err", err)
			}
			return
		}
		check = true
	}
	if check {
		e.checkOpen()
	}
}

// loadOpen reads the store's open alarm records. The first read of a
// leadership replaces what this replica knew (but for what it wrote in
// the last minute); later ones add what it did not know (a record of the
// previous leader that reached the store late) and resolve a second open
// record of one alert.
func (e *Evaluator) loadOpen(ctx context.Context, now time.Time) error {
	var stored []recordstore.Record
	q := recordstore.Query{Kind: RecordKind, Resource: RecordResource, Verb: StatusFiring, Limit: recordstore.MaxLimit}
	for {
		p, err := e.OpenRecords.Search(ctx, q)
		if err != nil {
			return err
		}
		stored = append(stored, p.Records...)
		if p.Continue == "" {
			break
		}
		q.Continue = p.Continue
	}
	e.recMu.Lock()
	defer e.recMu.Unlock()
	if !e.leadingLocked() {
		return nil
	}
	if !e.loaded {
		kept := make(map[string]*openRecord, len(e.open))
		for k, o := range e.open {
			if o.own && now.Sub(o.since) < keepOwn {
				kept[k] = o
			}
		}
		e.open = kept
	}
	var dup []recordstore.Record
	for _, r := range stored {
		d := storedData(r)
		k := openKey(r.Name, labelSet(d.Labels).Fingerprint())
		switch o := e.open[k]; {
		case o == nil:
			firedAt := d.FiredAt.UTC()
			if firedAt.IsZero() {
				firedAt = r.Time.UTC()
			}
			e.open[k] = &openRecord{uid: r.UID, firedAt: firedAt, rec: r, since: now}
		case o.uid != r.UID:
			dup = append(dup, r)
		}
	}
	e.loaded = true
	for _, r := range dup {
		e.resolveStored(r, now)
	}
	return nil
}

// checkOpen resolves the open records whose alert does not fire here: its
// policy is gone (or has no rules), or its group evaluated since the
// record was known (and AdoptGrace after, for a record another leader
// wrote) and has no pending or firing alert of it. Pending
// counts as firing: a replica that has just started evaluating keeps the
// record open until its own alert fires (and then adopts it) or clears.
func (e *Evaluator) checkOpen() {
	snap := time.Now()
	type group struct {
		evaluated time.Time
		active    map[model.Fingerprint]bool
	}
	groups := map[string]group{}
	for _, g := range e.mgr.RuleGroups() {
		// The time first, then the alerts: they are at least that evaluation's.
		gr := group{evaluated: g.GetLastEvaluation(), active: map[model.Fingerprint]bool{}}
		for _, ar := range g.AlertingRules() {
			for _, a := range ar.ActiveAlerts() {
				if a.State != rules.StateInactive {
					gr.active[fingerprint(a.Labels)] = true
				}
			}
		}
		groups[g.File()] = gr
	}
	e.mu.RLock()
	policies := e.policies
	e.mu.RUnlock()
	if policies == nil {
		return // not synced yet
	}

	e.recMu.Lock()
	defer e.recMu.Unlock()
	if !e.leadingLocked() || !e.loaded {
		return
	}
	for k, o := range e.open {
		if o.since.After(snap) {
			continue // newer than what was looked at
		}
		st := policies[o.rec.Name]
		if st != nil && len(st.rules) > 0 {
			g, ok := groups[o.rec.Name]
			since := o.since
			if !o.own {
				since = since.Add(e.AdoptGrace)
			}
			if !ok || !g.evaluated.After(since) {
				continue // not evaluated since (with fresh samples, for an adopted record)
			}
			if g.active[labelSet(storedData(o.rec).Labels).Fingerprint()] {
				continue
			}
		}
		if e.resolveStored(o.rec, snap) {
			delete(e.open, k)
		}
	}
}

// resolveStored writes r, an open record, resolved at. A record that
// could not be written stays open in the store: the next read finds it.
func (e *Evaluator) resolveStored(r recordstore.Record, at time.Time) bool {
	d := storedData(r)
	t := at.UTC()
	d.Status, d.ResolvedAt = StatusResolved, &t
	data, err := json.Marshal(d)
	if err != nil {
		e.log().Warn("alarm record: encode", "err", err)
		return false
	}
	r.ID, r.Verb, r.Data = 0, StatusResolved, data
	if err := e.Records.Add(r); err != nil {
		e.log().Warn("alarm record: add", "err", err, "policy", r.Name)
		return false
	}
	return true
}

// storedData is a stored record's data; a record whose data does not
// decode has none (it still resolves).
func storedData(r recordstore.Record) RecordData {
	var d RecordData
	_ = json.Unmarshal(r.Data, &d)
	return d
}

// fingerprint is the fingerprint of an alert's labels, as Alertmanager
// computes it.
func fingerprint(ls labels.Labels) model.Fingerprint {
	return labelSet(ls.Map()).Fingerprint()
}

func labelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}
