package monitorapi

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/notifyapi"
	"github.com/kstack/kstack/internal/recordsearch"
	"github.com/kstack/kstack/internal/recordstore"
)

const (
	// AlarmRecordKind is the record store's kind for alarms.
	AlarmRecordKind = "alarm"
	// MaxSilence is how far ahead a silence may end.
	MaxSilence = 30 * 24 * time.Hour
)

// Resources: alarm policies and silences, each governed by the policies
// of the project it lives in (none for the tenant-wide ones in the
// platform's namespace: cluster policies, and the silences of their alarms).
func (m *Module) Resources() []apigroup.Resource {
	project := func(a attributes.Attributes) string { return notifyapi.ProjectOf(m.Env.SystemNamespace, a.Namespace) }
	return []apigroup.Resource{
		{Kind: "alarmpolicy", TenantScoped: true, Project: project},
		// Expiring a silence is a patch of spec.endsAt.
		{Kind: "alarmsilence", TenantScoped: true, Project: project},
	}
}

var alarmFilters = map[string]func(*recordstore.Query, string){
	"namespace": func(q *recordstore.Query, v string) { q.Namespaces = []string{v} },
	// policy is "<namespace>/<name>" of the alarm policy.
	"policy": recordsearch.Set(func(q *recordstore.Query) *string { return &q.Name }),
	// status is firing or resolved.
	"status": recordsearch.Set(func(q *recordstore.Query) *string { return &q.Verb }),
}

func (m *Module) alarmRecords() *notifyapi.Records {
	return &notifyapi.Records{Env: m.Env, Store: m.Records, Kind: AlarmRecordKind, Plural: "alarms", ListKind: "AlarmList",
		APIVersion: Group + "/v1", Filters: alarmFilters}
}

// Admit completes a create or replace: a generated name (always, in the
// platform's namespace), a policy's project, a silence's author and start.
func (m *Module) Admit(ctx context.Context, r *apigroup.Request) error {
	if r.Object == nil {
		return nil
	}
	a, u, sys := r.Attributes, r.Object, m.Env.SystemNamespace
	switch a.Kind {
	case "alarmpolicy":
		if a.Verb == "create" {
			notifyapi.GenerateName(u, a.Namespace, sys, "alarm-")
		}
		ns, _, _ := unstructured.NestedString(u.Object, "spec", "namespace")
		if ns != "" && a.Namespace != sys && a.Namespace != "" {
			return unstructured.SetNestedField(u.Object, a.Namespace, "spec", "projectName")
		}
		unstructured.RemoveNestedField(u.Object, "spec", "projectName")
	case "alarmsilence":
		if a.Verb == "create" {
			notifyapi.GenerateName(u, a.Namespace, sys, "silence-")
		}
		author, starts := r.Principal.Name(), time.Now().UTC().Format(time.RFC3339)
		if a.Verb == "update" {
			// The author stays whoever made it.
			var old monitorv1.AlarmSilence
			key := client.ObjectKey{Namespace: a.Namespace, Name: a.Name}
			err := m.Env.Client.Get(ctx, key, &old)
			if apierrors.IsNotFound(err) && m.Env.Reader != nil {
				err = m.Env.Reader.Get(ctx, key, &old)
			}
			if err == nil {
				author = old.Spec.CreatedBy
				if old.Spec.StartsAt != nil {
					starts = old.Spec.StartsAt.UTC().Format(time.RFC3339)
				}
			}
		}
		if err := unstructured.SetNestedField(u.Object, author, "spec", "createdBy"); err != nil {
			return apigroup.Invalid("spec: %v", err)
		}
		if s, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "startsAt"); !ok || s == nil || s == "" {
			return unstructured.SetNestedField(u.Object, starts, "spec", "startsAt")
		}
	}
	return nil
}

// Validate checks a policy or a silence as it would be stored.
func (m *Module) Validate(ctx context.Context, r *apigroup.Request) error {
	if r.Object == nil {
		return nil
	}
	switch r.Attributes.Kind {
	case "alarmpolicy":
		var ap, old monitorv1.AlarmPolicy
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Object.Object, &ap); err != nil {
			return apigroup.Invalid("not an AlarmPolicy: %v", err)
		}
		var oldp *monitorv1.AlarmPolicy
		if r.Old != nil {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Old.Object, &old); err == nil {
				oldp = &old
			}
		}
		return m.checkPolicy(ctx, r.Principal, &ap, oldp)
	case "alarmsilence":
		var s, old monitorv1.AlarmSilence
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Object.Object, &s); err != nil {
			return apigroup.Invalid("not an AlarmSilence: %v", err)
		}
		var olds *monitorv1.AlarmSilence
		if r.Old != nil {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Old.Object, &old); err == nil {
				olds = &old
			}
		}
		if err := notifyapi.CheckNamespace(ctx, m.Env, s.Namespace, s.Spec.TenantID); err != nil {
			return err
		}
		return checkSilence(r.Principal, &s, olds, time.Now())
	}
	return nil
}

// checkPolicy: the spec is well formed (alarmrule.CheckSpec); its cluster
// is the tenant's, monitored; its scope is one the writer may see (a
// namespace of the policy's project whose pods they may list, or, for a
// cluster policy in the platform's namespace, every pod of the cluster);
// and what it names is of its tenant, in its namespace or the platform's,
// and the writer's to use.
func (m *Module) checkPolicy(ctx context.Context, p *directory.Principal, ap, old *monitorv1.AlarmPolicy) error {
	s, sys := &ap.Spec, m.Env.SystemNamespace
	if old != nil {
		// Also a CEL invariant of the store; said here with the reason.
		for _, f := range []struct{ name, was, is string }{
			{"clusterName", old.Spec.ClusterName, s.ClusterName},
			{"namespace", old.Spec.Namespace, s.Namespace},
			{"objectType", string(old.Spec.ObjectType), string(s.ObjectType)},
		} {
			if f.was != f.is {
				return apigroup.Refuse(http.StatusForbidden, "spec.%s of an alarm policy cannot change (it decides what the policy reads): make a new policy", f.name)
			}
		}
	}
	if len(s.DisplayName) == 0 || len([]rune(s.DisplayName)) > 60 {
		return apigroup.Invalid("spec.displayName: give the policy's name, 1 to 60 characters")
	}
	if err := checkSpec(s); err != nil {
		return apigroup.Invalid("%v", err)
	}
	var cl platformv1.Cluster
	if err := m.Env.Client.Get(ctx, client.ObjectKey{Name: s.ClusterName}, &cl); err != nil || !sameTenantID(cl.Spec.TenantID, s.TenantID) {
		return apigroup.Invalid("spec.clusterName: no cluster %q", s.ClusterName)
	}
	if old == nil && !cl.Spec.Features.Monitoring {
		return apigroup.Invalid("spec.clusterName: cluster %s has monitoring off (spec.features.monitoring), so there is nothing to alarm on", s.ClusterName)
	}
	if s.Namespace == "" {
		switch {
		case ap.Namespace != sys:
			return apigroup.Invalid("a cluster policy (no spec.namespace) lives in namespace %s, not %s; a project's policy names a namespace of the project in spec.namespace", sys, ap.Namespace)
		case s.ProjectName != "":
			return apigroup.Invalid("spec.projectName: a cluster policy belongs to no project")
		case !notifyapi.MayListPods(ctx, m.Env.Decider, p, s.ClusterName, cl.Spec.TenantID, ""):
			return apigroup.Refuse(http.StatusForbidden, "spec.namespace: %s may not list every pod of cluster %s, so may not make a cluster policy; name a namespace of your project in spec.namespace", p.Name(), s.ClusterName)
		}
	} else {
		if ap.Namespace == sys {
			return apigroup.Invalid("a policy of namespace %s lives in its project's namespace, not %s", s.Namespace, sys)
		}
		if s.ProjectName != ap.Namespace {
			return apigroup.Invalid("spec.projectName: the policy lives in project %s's namespace, not %q", ap.Namespace, s.ProjectName)
		}
		var ns businessv1.Namespace
		err := m.Env.Client.Get(ctx, client.ObjectKey{Namespace: ap.Namespace, Name: businessv1.ObjectName(s.ClusterName, s.Namespace)}, &ns)
		if err != nil || !sameTenantID(ns.Spec.TenantID, s.TenantID) || ns.Spec.ClusterName != s.ClusterName || ns.Spec.Namespace != s.Namespace {
			return apigroup.Invalid("spec.namespace: %s is not a namespace of project %s in cluster %s", s.Namespace, ap.Namespace, s.ClusterName)
		}
		if !notifyapi.MayListPods(ctx, m.Env.Decider, p, s.ClusterName, cl.Spec.TenantID, s.Namespace) {
			return apigroup.Refuse(http.StatusForbidden, "spec.namespace: %s may not list the pods of namespace %s, so may not alarm on them", p.Name(), s.Namespace)
		}
	}
	if err := m.checkPolicyRefs(ctx, p, ap); err != nil {
		return err
	}
	if ri := s.RepeatInterval; ri != nil {
		if ri.Duration <= 0 {
			return apigroup.Invalid("spec.repeatInterval %s: give a positive duration such as 4h", ri.Duration)
		}
		if m.GroupInterval > 0 && ri.Duration < m.GroupInterval {
			return apigroup.Invalid("spec.repeatInterval %s is shorter than the group interval %s: a firing alarm is sent again at most once a group interval", ri.Duration, m.GroupInterval)
		}
	}
	return nil
}

func (m *Module) checkPolicyRefs(ctx context.Context, p *directory.Principal, ap *monitorv1.AlarmPolicy) error {
	s := &ap.Spec
	refs := &notifyapi.Refs{Env: m.Env, Principal: p, Namespace: ap.Namespace, Tenant: s.TenantID}
	for i, ref := range s.Receivers {
		if err := refs.Check(ctx, fmt.Sprintf("spec.receivers[%d]", i), "receiver", ref.Namespace, ref.Name, &notifyv1.Receiver{}); err != nil {
			return err
		}
	}
	for i, ref := range s.ReceiverGroups {
		if err := refs.Check(ctx, fmt.Sprintf("spec.receiverGroups[%d]", i), "receivergroup", ref.Namespace, ref.Name, &notifyv1.ReceiverGroup{}); err != nil {
			return err
		}
	}
	if len(s.Notifications) == 0 {
		return apigroup.Invalid("spec.notifications: give at least one channel and the template its messages are made with")
	}
	for i, n := range s.Notifications {
		f := fmt.Sprintf("spec.notifications[%d]", i)
		var ch notifyv1.Channel
		if err := refs.Check(ctx, f+".channel", "channel", n.Channel.Namespace, n.Channel.Name, &ch); err != nil {
			return err
		}
		var t notifyv1.Template
		if err := refs.Check(ctx, f+".template", "template", n.Template.Namespace, n.Template.Name, &t); err != nil {
			return err
		}
		if t.Spec.ChannelType != ch.Spec.Type {
			return apigroup.Invalid("%s.template: template %s is for %s, channel %s is %s", f, t.Name, t.Spec.ChannelType, ch.Name, ch.Spec.Type)
		}
	}
	return nil
}

func sameTenantID(a, b string) bool {
	if a == "" {
		a = apigroup.DefaultTenant
	}
	if b == "" {
		b = apigroup.DefaultTenant
	}
	return a == b
}

var (
	labelName     = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	matcherTypes  = map[string]amlabels.MatchType{"=": amlabels.MatchEqual, "!=": amlabels.MatchNotEqual, "=~": amlabels.MatchRegexp, "!~": amlabels.MatchNotRegexp}
	maxComment    = 1024
	expireLeeway  = time.Minute
	futureLeeway  = 5 * time.Minute
	createdByNote = "the platform sets it to who made the silence"
)

// checkSilence: matchers that parse (regexes compile), an end after the
// start and at most 30 days ahead, and the author the platform set.
func checkSilence(p *directory.Principal, s, old *monitorv1.AlarmSilence, now time.Time) error {
	sp := &s.Spec
	if len(sp.Matchers) == 0 {
		return apigroup.Invalid("spec.matchers: give at least one matcher, e.g. {name: alarm_policy, value: %s/<policy>}", s.Namespace)
	}
	for i, mt := range sp.Matchers {
		f := fmt.Sprintf("spec.matchers[%d]", i)
		typ := mt.Type
		if typ == "" {
			typ = "="
		}
		t, ok := matcherTypes[typ]
		if !ok {
			return apigroup.Invalid("%s.type %q: use =, !=, =~ or !~", f, mt.Type)
		}
		if !labelName.MatchString(mt.Name) {
			return apigroup.Invalid("%s.name %q is not a label name (letters, digits and _, not starting with a digit)", f, mt.Name)
		}
		if _, err := amlabels.NewMatcher(t, mt.Name, mt.Value); err != nil {
			return apigroup.Invalid("%s.value %q: %v", f, mt.Value, err)
		}
	}
	if len(sp.Comment) > maxComment {
		return apigroup.Invalid("spec.comment: at most %d characters", maxComment)
	}
	if sp.StartsAt == nil {
		return apigroup.Invalid("spec.startsAt: give when the silence starts")
	}
	start, end := sp.StartsAt.Time, sp.EndsAt.Time
	if end.IsZero() {
		return apigroup.Invalid("spec.endsAt: give when the silence ends (at most 30 days ahead)")
	}
	// Expiring a silence sets its end to now, whatever its start.
	expiring := old != nil && !end.After(now.Add(expireLeeway))
	if !end.After(start) && !expiring {
		return apigroup.Invalid("spec.endsAt %s is not after spec.startsAt %s", end.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
	}
	if old == nil && !end.After(now) {
		return apigroup.Invalid("spec.endsAt %s is in the past: a silence ends in the future", end.UTC().Format(time.RFC3339))
	}
	if end.After(now.Add(MaxSilence + futureLeeway)) {
		return apigroup.Invalid("spec.endsAt %s is more than 30 days ahead: silence for at most 30 days, then make a new silence", end.UTC().Format(time.RFC3339))
	}
	switch {
	case old == nil && sp.CreatedBy != p.Name():
		return apigroup.Invalid("spec.createdBy %q: %s", sp.CreatedBy, createdByNote)
	case old != nil && sp.CreatedBy != old.Spec.CreatedBy:
		return apigroup.Refuse(http.StatusForbidden, "spec.createdBy cannot change: %s", createdByNote)
	}
	return nil
}
