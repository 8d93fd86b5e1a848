package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/alarmrule"
	"github.com/kstack/kstack/internal/auth/decision"
)

// The "Monitoring & Alarms" pages: alarm settings (policies and silences),
// alarm and notification records, notification channels (with a
// test-send), templates, and receivers and receiver groups. A project's
// pages are under the business console and work on the project's
// namespace; the platform console's work on the tenant's shared objects in
// kstack-system (cluster policies, shared channels). Everything goes
// through the platform's API as the user: its admission checks metrics,
// references, templates and addresses, and the page shows its words.

// The record searches and the channels' test-send (internal/monitorapi,
// internal/notifyapi).
const notifyAPI = "/notify/apis/notify.tkestack.io/v1"

// alarmTabs are the pages of the menu, in order.
var alarmTabs = []struct{ Name, Title string }{
	{"settings", "Alarm settings"},
	{"records", "Alarm records"},
	{"channels", "Notification channels"},
	{"templates", "Templates"},
	{"receivers", "Receivers"},
}

func (s *Server) alarmRoutes(mux *http.ServeMux) { s.alarmRoutesWith(mux, s.authed) }

// alarmRoutesWith adds the routes with each handler wrapped by authed
// (tests serve them as a fixed user).
func (s *Server) alarmRoutesWith(mux *http.ServeMux, authed func(handlerFunc) http.Handler) {
	for _, base := range []string{"/console/business/projects/{project}/alarms", "/console/platform/alarms"} {
		mux.Handle("GET "+base, authed(s.alarmSettings))
		mux.Handle("GET "+base+"/policies/new", authed(s.policyFormPage))
		mux.Handle("POST "+base+"/policies", authed(s.savePolicy))
		mux.Handle("POST "+base+"/policies/delete", authed(s.deletePolicies))
		mux.Handle("POST "+base+"/silences", authed(s.createSilence))
		mux.Handle("POST "+base+"/silences/{name}/expire", authed(s.expireSilence))
		mux.Handle("GET "+base+"/records", authed(s.alarmRecords))
		mux.Handle("GET "+base+"/channels", authed(s.channelsPage))
		mux.Handle("POST "+base+"/channels", authed(s.createChannel))
		mux.Handle("POST "+base+"/channels/{name}/test", authed(s.testChannel))
		mux.Handle("GET "+base+"/templates", authed(s.templatesPage))
		mux.Handle("POST "+base+"/templates", authed(s.createTemplate))
		mux.Handle("GET "+base+"/receivers", authed(s.receiversPage))
		mux.Handle("POST "+base+"/receivers", authed(s.createReceiver))
		mux.Handle("POST "+base+"/receivergroups", authed(s.createReceiverGroup))
		// Channels, templates, receivers and groups are deleted alike.
		mux.Handle("POST "+base+"/{kind}/{name}/delete", authed(s.deleteNotifyObject))
	}
}

// alarmScope is where a page's objects are: a project's namespace, or the
// platform's (the tenant's shared objects).
type alarmScope struct {
	// Project is the project ID; empty on the platform console.
	Project string
	// Namespace is the project's namespace, or kstack-system.
	Namespace string
	// Base is the menu's URL; Section the console (business or platform).
	Base, Section string
	Tab           string
	Tabs          []tab
}

// scope reads the page's scope from its path, or shows a 404.
func (r *request) scope(w http.ResponseWriter, current string) (alarmScope, bool) {
	sc := alarmScope{Namespace: systemNamespace, Base: Prefix + "/platform/alarms", Section: "platform", Tab: current}
	if r.PathValue("project") != "" {
		p, ok := r.projectParam(w)
		if !ok {
			return sc, false
		}
		sc.Project, sc.Namespace, sc.Section = p, p, "business"
		sc.Base = Prefix + "/business/projects/" + url.PathEscape(p) + "/alarms"
	}
	for _, t := range alarmTabs {
		u := sc.Base
		if t.Name != "settings" {
			u += "/" + t.Name
		}
		sc.Tabs = append(sc.Tabs, tab{Name: t.Name, Title: t.Title, URL: u, Current: t.Name == current})
	}
	return sc, true
}

// title is the page's title: the tab's, and whose.
func (sc alarmScope) title() string {
	for _, t := range alarmTabs {
		if t.Name == sc.Tab {
			if sc.Project != "" {
				return t.Title + " of " + sc.Project
			}
			return t.Title + " (shared)"
		}
	}
	return "Monitoring & Alarms"
}

func (sc alarmScope) crumbs() []crumb {
	if sc.Project != "" {
		return []crumb{{"My projects", Prefix + "/business"}, {"Monitoring & Alarms", sc.Base}}
	}
	return []crumb{{"Monitoring & Alarms", sc.Base}}
}

// can asks whether the user may do verb ("create", "delete", "update") on
// kind ("alarmpolicy", "channel", …) in the scope's namespace.
func (r *request) canIn(sc alarmScope, verb, kind string) bool {
	action := verb + strings.ToUpper(kind[:1]) + kind[1:]
	return r.can(sc.Project, action, "namespace:"+sc.Namespace+"/"+kind+":*")
}

// show renders one of the menu's pages.
func (r *request) showAlarmPage(w http.ResponseWriter, sc alarmScope, data any) {
	r.page(w, "alarms", sc.Section, sc.title(), data, sc.crumbs()...)
}

// back redirects to a tab of the scope with a notice.
func (r *request) back(w http.ResponseWriter, sc alarmScope, tab, notice string) {
	u := sc.Base
	if tab != "settings" {
		u += "/" + tab
	}
	redirect(w, r.Request, u+"?notice="+url.QueryEscape(notice))
}

// ---- Alarm settings: policies and silences ----

type settingsData struct {
	Scope      alarmScope
	Policies   []policyRow
	Silences   []silenceRow
	Err        string
	CanCreate  bool
	CanDelete  bool
	CanSilence bool
	Silence    silenceForm
}

type policyRow struct {
	Name, DisplayName, Cluster, Namespace, Object, Period, Phase, Message string
	Conditions                                                            []string
	Rules                                                                 []monitorv1.CompiledRule
	Firing                                                                int
	EditURL, CopyURL, RecordsURL                                          string
}

type silenceRow struct {
	Name, Matchers, State, Starts, Ends, CreatedBy, Comment string
	ExpireURL                                               string
}

// silenceForm is the "New silence" form as typed.
type silenceForm struct {
	Matchers, For, Comment string
	Error                  string
}

func policyRowOf(sc alarmScope, p *monitorv1.AlarmPolicy) policyRow {
	s := &p.Spec
	row := policyRow{Name: p.Name, DisplayName: s.DisplayName, Cluster: s.ClusterName, Namespace: s.Namespace,
		Object: string(s.ObjectType), Period: fmt.Sprintf("%d min", s.PeriodMinutes), Phase: p.Status.Phase, Message: p.Status.Message,
		Rules: p.Status.Rules, Firing: p.Status.Firing}
	if row.Phase == "" {
		row.Phase = "Pending"
	}
	if w := s.Object.Workload; w != nil {
		row.Object += " of " + w.Kind + "/" + w.Name
	} else if len(s.Object.Nodes) > 0 {
		row.Object += " " + strings.Join(s.Object.Nodes, ", ")
	}
	for _, c := range s.Conditions {
		row.Conditions = append(row.Conditions, fmt.Sprintf("%s %s %s for %d period(s)", c.Metric, c.Operator, c.Threshold, c.Periods))
	}
	if s.Expr != "" {
		row.Conditions = append(row.Conditions, "expr: "+s.Expr)
	}
	row.EditURL = sc.Base + "/policies/new?edit=" + url.QueryEscape(p.Name)
	row.CopyURL = sc.Base + "/policies/new?copy=" + url.QueryEscape(p.Name)
	row.RecordsURL = sc.Base + "/records?" + url.Values{"policy": {p.Namespace + "/" + p.Name}, "cluster": {s.ClusterName}}.Encode()
	return row
}

func silenceRowOf(sc alarmScope, sil *monitorv1.AlarmSilence, now time.Time) silenceRow {
	var ms []string
	for _, m := range sil.Spec.Matchers {
		op := m.Type
		if op == "" {
			op = "="
		}
		ms = append(ms, m.Name+op+strconv.Quote(m.Value))
	}
	starts := sil.CreationTimestamp.Time
	if sil.Spec.StartsAt != nil {
		starts = sil.Spec.StartsAt.Time
	}
	row := silenceRow{Name: sil.Name, Matchers: strings.Join(ms, ", "), State: "active", Starts: utc(starts), Ends: utc(sil.Spec.EndsAt.Time),
		CreatedBy: sil.Spec.CreatedBy, Comment: sil.Spec.Comment}
	switch {
	case !sil.Spec.EndsAt.Time.After(now):
		row.State = "expired"
	case starts.After(now):
		row.State = "pending"
	}
	if row.State != "expired" {
		row.ExpireURL = sc.Base + "/silences/" + url.PathEscape(sil.Name) + "/expire"
	}
	return row
}

func utc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func (s *Server) alarmSettings(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "settings")
	if !ok {
		return
	}
	s.renderSettings(w, r, sc, silenceForm{For: "2h"})
}

func (s *Server) renderSettings(w http.ResponseWriter, r *request, sc alarmScope, sf silenceForm) {
	d := settingsData{Scope: sc, Silence: sf, CanCreate: r.canIn(sc, "create", "alarmpolicy"), CanDelete: r.canIn(sc, "delete", "alarmpolicy"),
		CanSilence: r.canIn(sc, "create", "alarmsilence")}
	var pl monitorv1.AlarmPolicyList
	msg, ok := r.listIn(w, sc, &pl)
	if !ok {
		return
	}
	d.Err = msg
	sort.Slice(pl.Items, func(i, j int) bool { return pl.Items[i].Name < pl.Items[j].Name })
	for i := range pl.Items {
		d.Policies = append(d.Policies, policyRowOf(sc, &pl.Items[i]))
	}
	var sl monitorv1.AlarmSilenceList
	if msg, ok := r.listIn(w, sc, &sl); !ok {
		return
	} else if d.Err == "" {
		d.Err = msg
	}
	now := time.Now()
	sort.Slice(sl.Items, func(i, j int) bool { return sl.Items[i].Spec.EndsAt.After(sl.Items[j].Spec.EndsAt.Time) })
	for i := range sl.Items {
		d.Silences = append(d.Silences, silenceRowOf(sc, &sl.Items[i], now))
	}
	r.showAlarmPage(w, sc, d)
}

// deletePolicies deletes the policies ticked (batch delete), once "delete"
// is typed to confirm.
func (s *Server) deletePolicies(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "settings")
	if !ok {
		return
	}
	_ = r.ParseForm()
	names := r.PostForm["name"]
	if len(names) == 0 {
		s.fail(w, r.Request, http.StatusUnprocessableEntity, "tick the policies to delete")
		return
	}
	if r.PostFormValue("confirm") != "delete" {
		s.fail(w, r.Request, http.StatusUnprocessableEntity, "type delete to confirm deleting "+plural(len(names), "policy", "policies"))
		return
	}
	c, err := r.platform()
	if err != nil {
		r.fail(w, err)
		return
	}
	var done, failed []string
	for _, n := range names {
		if len(validation.IsDNS1123Subdomain(n)) > 0 {
			failed = append(failed, n+": not a name")
			continue
		}
		p := &monitorv1.AlarmPolicy{}
		p.Namespace, p.Name = sc.Namespace, n
		if err := c.Delete(r.Context(), p); err != nil {
			_, msg := explain(err)
			failed = append(failed, n+": "+msg)
			continue
		}
		done = append(done, n)
	}
	s.Log.Info("console alarm policies deleted", "namespace", sc.Namespace, "names", done, "by", r.user.Name())
	notice := ""
	if len(done) > 0 {
		notice = "Deleted " + strings.Join(done, ", ") + ". "
	}
	if len(failed) > 0 {
		notice += "Not deleted: " + strings.Join(failed, "; ")
	}
	r.back(w, sc, "settings", strings.TrimSpace(notice))
}

// parseMatchers reads matchers typed one per line (or with commas):
// LABEL=VALUE, LABEL!=VALUE, LABEL=~RE, LABEL!~RE.
func parseMatchers(s string) ([]monitorv1.Matcher, error) {
	var out []monitorv1.Matcher
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var m *monitorv1.Matcher
		for _, op := range []string{"!=", "=~", "!~", "="} {
			i := strings.Index(line, op)
			if i <= 0 || (op == "=" && strings.HasPrefix(line[i:], "=~")) {
				continue
			}
			name := strings.TrimSpace(line[:i])
			if name == "" || strings.ContainsAny(name, "=!~ ") {
				break
			}
			m = &monitorv1.Matcher{Name: name, Type: op, Value: strings.TrimSpace(line[i+len(op):])}
			break
		}
		if m == nil {
			return nil, fmt.Errorf("%q: write LABEL=VALUE (or !=, =~, !~), e.g. alarm_policy=%s/alarm-ab12cd34", line, "NAMESPACE")
		}
		out = append(out, *m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("give at least one matcher, e.g. alarm_policy=NAMESPACE/NAME")
	}
	return out, nil
}

func (s *Server) createSilence(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "settings")
	if !ok {
		return
	}
	_ = r.ParseForm()
	f := silenceForm{Matchers: r.PostFormValue("matchers"), For: strings.TrimSpace(r.PostFormValue("for")), Comment: strings.TrimSpace(r.PostFormValue("comment"))}
	ms, err := parseMatchers(f.Matchers)
	var d time.Duration
	if err == nil {
		d, err = time.ParseDuration(f.For)
		if err != nil || d <= 0 {
			err = fmt.Errorf("for %q: give a duration such as 30m or 2h", f.For)
		}
	}
	if err == nil {
		now := time.Now().UTC().Truncate(time.Second)
		start := metav1.NewTime(now)
		sil := &monitorv1.AlarmSilence{TypeMeta: metav1.TypeMeta{APIVersion: monitorv1.GroupVersion.String(), Kind: "AlarmSilence"},
			ObjectMeta: metav1.ObjectMeta{Namespace: sc.Namespace, GenerateName: "asil-"},
			Spec:       monitorv1.AlarmSilenceSpec{Matchers: ms, StartsAt: &start, EndsAt: metav1.NewTime(now.Add(d)), Comment: f.Comment}}
		if err = r.create(sil); err == nil {
			s.Log.Info("console alarm silence created", "namespace", sc.Namespace, "name", sil.Name, "by", r.user.Name())
			r.back(w, sc, "settings", "Silence "+sil.Name+" created: matching alarms do not notify until "+utc(sil.Spec.EndsAt.Time)+" UTC")
			return
		}
		_, msg := explain(err)
		err = fmt.Errorf("%s", msg)
	}
	f.Error = err.Error()
	s.renderSettings(w, r, sc, f)
}

func (s *Server) expireSilence(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "settings")
	if !ok {
		return
	}
	name := r.PathValue("name")
	if len(validation.IsDNS1123Subdomain(name)) > 0 {
		s.fail(w, r.Request, http.StatusNotFound, fmt.Sprintf("no silence %q", name))
		return
	}
	c, err := r.platform()
	if err == nil {
		sil := &monitorv1.AlarmSilence{}
		sil.Namespace, sil.Name = sc.Namespace, name
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"endsAt": metav1.NewTime(time.Now().UTC().Truncate(time.Second))}})
		err = c.Patch(r.Context(), sil, client.RawPatch("application/merge-patch+json", patch))
	}
	if err != nil {
		r.fail(w, err)
		return
	}
	s.Log.Info("console alarm silence expired", "namespace", sc.Namespace, "name", name, "by", r.user.Name())
	r.back(w, sc, "settings", "Silence "+name+" expired")
}

// ---- The policy form: create, edit, copy ----

// maxConditionRows is how many condition rows the form offers.
const maxConditionRows = 3

// notifyRows is how many (channel, template) rows the form offers.
const notifyRows = 3

type policyForm struct {
	Scope alarmScope
	// Edit is the policy being edited (its name); empty for a new one.
	Edit                              string
	ResourceVersion                   string
	DisplayName, Target, ObjectType   string
	WorkloadKind, WorkloadName, Nodes string
	PeriodMinutes, Expr, ExprPeriods  string
	RepeatInterval                    string
	SendResolved                      bool
	Conditions                        []conditionRow
	Notifications                     []notifyRow
	Receivers, ReceiverGroups         map[string]bool
	Error                             string
	Errors                            map[string]string
	// The choices.
	Targets                           []ruleTarget
	ObjectTypes                       []string
	Metrics                           []alarmrule.Metric
	Channels, Templates, AllReceivers []choice
	AllGroups                         []choice
	WorkloadKinds                     []string
}

type conditionRow struct{ Metric, Operator, Threshold, Periods string }
type notifyRow struct{ Channel, Template string }

func refValue(r monitorv1.ObjectRef) string {
	if r.Namespace != "" {
		return r.Namespace + "/" + r.Name
	}
	return r.Name
}

func refOf(v string) monitorv1.ObjectRef {
	if ns, name, ok := strings.Cut(v, "/"); ok {
		return monitorv1.ObjectRef{Namespace: ns, Name: name}
	}
	return monitorv1.ObjectRef{Name: v}
}

// policyFormOf is the form showing p.
func policyFormOf(p *monitorv1.AlarmPolicy) policyForm {
	s := &p.Spec
	f := policyForm{DisplayName: s.DisplayName, Target: s.ClusterName + "/" + s.Namespace, ObjectType: string(s.ObjectType),
		PeriodMinutes: strconv.Itoa(s.PeriodMinutes), Expr: s.Expr, Nodes: strings.Join(s.Object.Nodes, ", "),
		SendResolved: s.SendResolved == nil || *s.SendResolved, Receivers: map[string]bool{}, ReceiverGroups: map[string]bool{}, Errors: map[string]string{}}
	if s.ExprPeriods > 0 {
		f.ExprPeriods = strconv.Itoa(s.ExprPeriods)
	}
	if w := s.Object.Workload; w != nil {
		f.WorkloadKind, f.WorkloadName = w.Kind, w.Name
	}
	if s.RepeatInterval != nil {
		f.RepeatInterval = s.RepeatInterval.Duration.String()
	}
	for _, c := range s.Conditions {
		f.Conditions = append(f.Conditions, conditionRow{c.Metric, c.Operator, c.Threshold, strconv.Itoa(c.Periods)})
	}
	for _, n := range s.Notifications {
		f.Notifications = append(f.Notifications, notifyRow{refValue(n.Channel), refValue(n.Template)})
	}
	for _, r := range s.Receivers {
		f.Receivers[refValue(r)] = true
	}
	for _, g := range s.ReceiverGroups {
		f.ReceiverGroups[refValue(g)] = true
	}
	return f
}

// parsePolicyForm reads the form into a policy of namespace. Only what the
// console must know to build the object is checked: the API checks the
// rest (metrics, thresholds, periods, the expression, references).
func parsePolicyForm(form url.Values, namespace string) (policyForm, *monitorv1.AlarmPolicy) {
	get := func(k string) string { return strings.TrimSpace(form.Get(k)) }
	f := policyForm{Edit: get("edit"), ResourceVersion: get("resourceVersion"), DisplayName: get("displayName"), Target: get("target"),
		ObjectType: get("objectType"), WorkloadKind: get("workload.kind"), WorkloadName: get("workload.name"), Nodes: get("nodes"),
		PeriodMinutes: get("periodMinutes"), Expr: get("expr"), ExprPeriods: get("exprPeriods"), RepeatInterval: get("repeatInterval"),
		SendResolved: form.Get("sendResolved") != "", Receivers: map[string]bool{}, ReceiverGroups: map[string]bool{}, Errors: map[string]string{}}
	p := &monitorv1.AlarmPolicy{TypeMeta: metav1.TypeMeta{APIVersion: monitorv1.GroupVersion.String(), Kind: "AlarmPolicy"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: f.Edit, ResourceVersion: f.ResourceVersion}}
	if f.Edit == "" {
		p.GenerateName = "alarm-"
	}
	s := &p.Spec
	s.DisplayName = f.DisplayName
	if f.DisplayName == "" {
		f.Errors["displayName"] = "give the policy a name (up to 60 characters)"
	}
	cluster, ns, ok := strings.Cut(f.Target, "/")
	if !ok || cluster == "" {
		f.Errors["target"] = "choose the cluster (and namespace) to watch"
	}
	s.ClusterName, s.Namespace = cluster, ns
	s.ObjectType = monitorv1.ObjectType(f.ObjectType)
	switch s.ObjectType {
	case monitorv1.ObjectPod:
		if f.WorkloadName != "" {
			s.Object.Workload = &monitorv1.WorkloadRef{Kind: canonicalKind(f.WorkloadKind), Name: f.WorkloadName}
		}
	case monitorv1.ObjectNode:
		s.Object.Nodes = fieldsOf(f.Nodes)
	case monitorv1.ObjectCluster:
	default:
		f.Errors["objectType"] = "choose what to watch: Cluster, Node or Pod"
	}
	if n, err := strconv.Atoi(f.PeriodMinutes); err == nil {
		s.PeriodMinutes = n
	} else {
		f.Errors["periodMinutes"] = "choose the period: 1 to 5 minutes"
	}
	metrics, ops, thresholds, periods := form["cond.metric"], form["cond.operator"], form["cond.threshold"], form["cond.periods"]
	for i := range metrics {
		row := conditionRow{Metric: strings.TrimSpace(metrics[i])}
		if i < len(ops) {
			row.Operator = ops[i]
		}
		if i < len(thresholds) {
			row.Threshold = strings.TrimSpace(thresholds[i])
		}
		if i < len(periods) {
			row.Periods = strings.TrimSpace(periods[i])
		}
		if row.Metric == "" && row.Threshold == "" {
			continue
		}
		f.Conditions = append(f.Conditions, row)
		n, err := strconv.Atoi(row.Periods)
		if err != nil {
			f.Errors["conditions"] = fmt.Sprintf("condition %d: periods %q is not a whole number (1 to 10)", len(f.Conditions), row.Periods)
		}
		// The threshold stays a string: the API says what is wrong with it.
		s.Conditions = append(s.Conditions, monitorv1.AlarmCondition{Metric: row.Metric, Operator: row.Operator, Threshold: row.Threshold, Periods: n})
	}
	s.Expr = f.Expr
	if f.ExprPeriods != "" {
		if n, err := strconv.Atoi(f.ExprPeriods); err == nil {
			s.ExprPeriods = n
		} else {
			f.Errors["expr"] = fmt.Sprintf("periods of the expression %q is not a whole number", f.ExprPeriods)
		}
	}
	chans, tpls := form["notify.channel"], form["notify.template"]
	for i := range chans {
		row := notifyRow{Channel: strings.TrimSpace(chans[i])}
		if i < len(tpls) {
			row.Template = strings.TrimSpace(tpls[i])
		}
		if row.Channel == "" && row.Template == "" {
			continue
		}
		f.Notifications = append(f.Notifications, row)
		if row.Channel == "" || row.Template == "" {
			f.Errors["notifications"] = "choose both a channel and a template on each line"
			continue
		}
		s.Notifications = append(s.Notifications, monitorv1.NotifyMethod{Channel: refOf(row.Channel), Template: refOf(row.Template)})
	}
	for _, v := range form["receivers"] {
		f.Receivers[v] = true
		s.Receivers = append(s.Receivers, refOf(v))
	}
	for _, v := range form["receiverGroups"] {
		f.ReceiverGroups[v] = true
		s.ReceiverGroups = append(s.ReceiverGroups, refOf(v))
	}
	if f.RepeatInterval != "" {
		d, err := time.ParseDuration(f.RepeatInterval)
		if err != nil || d <= 0 {
			f.Errors["repeatInterval"] = fmt.Sprintf("%q is not a duration: write e.g. 4h or 30m", f.RepeatInterval)
		} else {
			s.RepeatInterval = &metav1.Duration{Duration: d}
		}
	}
	sr := f.SendResolved
	s.SendResolved = &sr
	if len(f.Errors) > 0 {
		return f, nil
	}
	return f, p
}

// policyFormPage is the form of a new policy, of a copy (?copy=NAME) or of
// an edit (?edit=NAME).
func (s *Server) policyFormPage(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "settings")
	if !ok {
		return
	}
	q := r.URL.Query()
	f := policyForm{ObjectType: string(monitorv1.ObjectPod), PeriodMinutes: "1", SendResolved: true, WorkloadKind: "Deployment",
		Receivers: map[string]bool{}, ReceiverGroups: map[string]bool{}, Errors: map[string]string{}}
	if sc.Project == "" {
		f.ObjectType = string(monitorv1.ObjectNode)
	}
	if name := q.Get("edit") + q.Get("copy"); name != "" {
		c, err := r.platform()
		var p monitorv1.AlarmPolicy
		if err == nil {
			err = c.Get(r.Context(), client.ObjectKey{Namespace: sc.Namespace, Name: name}, &p)
		}
		if err != nil {
			r.fail(w, err)
			return
		}
		f = policyFormOf(&p)
		if q.Get("edit") != "" {
			f.Edit, f.ResourceVersion = p.Name, p.ResourceVersion
		} else {
			f.DisplayName = "Copy of " + f.DisplayName
			if len(f.DisplayName) > 60 {
				f.DisplayName = f.DisplayName[:60]
			}
		}
	}
	s.renderPolicyForm(w, r, sc, f)
}

func (s *Server) renderPolicyForm(w http.ResponseWriter, r *request, sc alarmScope, f policyForm) {
	f.Scope = sc
	f.ObjectTypes = []string{string(monitorv1.ObjectPod)}
	if sc.Project == "" {
		f.ObjectTypes = []string{string(monitorv1.ObjectCluster), string(monitorv1.ObjectNode), string(monitorv1.ObjectPod)}
	}
	for _, ot := range f.ObjectTypes {
		f.Metrics = append(f.Metrics, alarmrule.Metrics(monitorv1.ObjectType(ot))...)
	}
	f.WorkloadKinds = ruleWorkloadKinds[:5]
	for len(f.Conditions) < maxConditionRows {
		f.Conditions = append(f.Conditions, conditionRow{Operator: ">", Periods: "1"})
	}
	for len(f.Notifications) < notifyRows {
		f.Notifications = append(f.Notifications, notifyRow{})
	}
	f.Targets = r.alarmTargets(sc)
	f.Channels, f.Templates, f.AllReceivers, f.AllGroups = r.notifyChoices(sc)
	// What the policy names stays a choice even when the user cannot list
	// it (a shared object), so that an edit does not drop it.
	for _, n := range f.Notifications {
		f.Channels = withChoice(f.Channels, n.Channel)
		f.Templates = withChoice(f.Templates, n.Template)
	}
	for v := range f.Receivers {
		f.AllReceivers = withChoice(f.AllReceivers, v)
	}
	for v := range f.ReceiverGroups {
		f.AllGroups = withChoice(f.AllGroups, v)
	}
	title := "New alarm policy"
	if f.Edit != "" {
		title = "Edit alarm policy " + f.Edit
	}
	if isHTMX(r.Request) && (f.Error != "" || len(f.Errors) > 0) {
		r.fragment(w, http.StatusOK, "alarmpolicy", "policyform", f)
		return
	}
	r.page(w, "alarmpolicy", sc.Section, title, f, append(sc.crumbs(), crumb{"Alarm settings", sc.Base})...)
}

// alarmTargets are the form's choices of what to watch: a project's
// namespaces (CLUSTER/NAMESPACE), or on the platform console every cluster
// (CLUSTER/, a cluster policy).
func (r *request) alarmTargets(sc alarmScope) []ruleTarget {
	var out []ruleTarget
	if sc.Project != "" {
		var d logRulesData
		for _, t := range r.ruleTargets(sc.Project, false, &d) {
			// ruleTargets' values are PROJECT/CLUSTER/NAMESPACE.
			_, rest, _ := strings.Cut(t.Value, "/")
			out = append(out, ruleTarget{Value: rest, Label: t.Label})
		}
		return out
	}
	if r.s.Clusters != nil {
		if items, err := r.listClusters(); err == nil {
			for i := range items {
				if items[i].Name != "global" {
					out = append(out, ruleTarget{Value: items[i].Name + "/", Label: "cluster " + items[i].Name})
				}
			}
		}
	}
	return out
}

// notifyChoices are the channels, templates, receivers and groups a policy
// of the scope may name: its own, and (for a project) the tenant's shared
// ones in kstack-system that the user may read.
func (r *request) notifyChoices(sc alarmScope) (chans, tpls, rcvs, groups []choice) {
	c, err := r.platform()
	if err != nil {
		return
	}
	ctx, cancel := r.timeout()
	defer cancel()
	nss := []string{sc.Namespace}
	if sc.Namespace != systemNamespace {
		nss = append(nss, systemNamespace)
	}
	for _, ns := range nss {
		prefix, suffix := "", ""
		if ns != sc.Namespace {
			prefix, suffix = ns+"/", " (shared)"
		}
		var cl notifyv1.ChannelList
		if c.List(ctx, &cl, client.InNamespace(ns)) == nil {
			for _, x := range cl.Items {
				chans = append(chans, choice{Value: prefix + x.Name, Label: labelOf(x.Name, x.Spec.DisplayName) + " · " + x.Spec.Type + suffix})
			}
		}
		var tl notifyv1.TemplateList
		if c.List(ctx, &tl, client.InNamespace(ns)) == nil {
			for _, x := range tl.Items {
				tpls = append(tpls, choice{Value: prefix + x.Name, Label: labelOf(x.Name, x.Spec.DisplayName) + " · " + x.Spec.ChannelType + suffix})
			}
		}
		var rl notifyv1.ReceiverList
		if c.List(ctx, &rl, client.InNamespace(ns)) == nil {
			for _, x := range rl.Items {
				rcvs = append(rcvs, choice{Value: prefix + x.Name, Label: labelOf(x.Name, x.Spec.DisplayName) + suffix})
			}
		}
		var gl notifyv1.ReceiverGroupList
		if c.List(ctx, &gl, client.InNamespace(ns)) == nil {
			for _, x := range gl.Items {
				groups = append(groups, choice{Value: prefix + x.Name, Label: labelOf(x.Name, x.Spec.DisplayName) + suffix})
			}
		}
	}
	return
}

// withChoice is cs with v among its values.
func withChoice(cs []choice, v string) []choice {
	if v == "" {
		return cs
	}
	for _, c := range cs {
		if c.Value == v {
			return cs
		}
	}
	return append(cs, choice{Value: v, Label: v})
}

func labelOf(name, display string) string {
	if display == "" {
		return name
	}
	return display + " (" + name + ")"
}

// savePolicy creates a policy (a new one or a copy), or replaces the one
// edited, from the form; the API's refusal is shown next to the form.
func (s *Server) savePolicy(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "settings")
	if !ok {
		return
	}
	_ = r.ParseForm()
	f, p := parsePolicyForm(r.PostForm, sc.Namespace)
	if p != nil {
		c, err := r.platform()
		if err == nil {
			if f.Edit != "" {
				var cur monitorv1.AlarmPolicy
				if err = c.Get(r.Context(), client.ObjectKey{Namespace: sc.Namespace, Name: f.Edit}, &cur); err == nil {
					// The form edits the spec; the rest stays as stored.
					tenant, prj := cur.Spec.TenantID, cur.Spec.ProjectName
					cur.Spec = p.Spec
					cur.Spec.TenantID, cur.Spec.ProjectName = tenant, prj
					if f.ResourceVersion != "" {
						cur.ResourceVersion = f.ResourceVersion
					}
					err = c.Update(r.Context(), &cur)
					p = &cur
				}
			} else {
				err = c.Create(r.Context(), p)
			}
		}
		if err == nil {
			verb := "created"
			if f.Edit != "" {
				verb = "saved"
			}
			s.Log.Info("console alarm policy "+verb, "namespace", sc.Namespace, "name", p.Name, "by", r.user.Name())
			r.back(w, sc, "settings", "Alarm policy "+p.Name+" "+verb+": the platform evaluates it from its next period")
			return
		}
		_, f.Error = explain(err)
	}
	if f.Error == "" {
		f.Error = "the policy could not be saved: see the fields marked"
	}
	s.renderPolicyForm(w, r, sc, f)
}

// ---- Alarm and notification records ----

var (
	alarmRecordFilters        = []string{"policy", "status", "namespace"}
	notificationRecordFilters = []string{"channel", "receiver", "verb", "result", "namespace"}
)

type recordsData struct {
	Scope alarmScope
	// Kind is "alarms" or "notifications" (the page's tab).
	Kind     string
	Cluster  string
	Clusters []string
	recordResults
	Alarms        []alarmRecordRow
	Notifications []notificationRecordRow
	AlarmsURL     string
	NotifyURL     string
}

// apiRecord is a record as the record searches serve it.
type apiRecord struct {
	Time      time.Time       `json:"time"`
	User      string          `json:"user"`
	Cluster   string          `json:"cluster"`
	Namespace string          `json:"namespace"`
	Name      string          `json:"name"`
	Verb      string          `json:"verb"`
	Code      int             `json:"code"`
	Data      json.RawMessage `json:"data"`
}

type apiRecordList struct {
	Items    []apiRecord `json:"items"`
	Continue string      `json:"continue"`
}

type alarmRecordRow struct {
	Fired, Status, Policy, PolicyName, Cluster, Namespace, Object, Metric, Value, Resolved string
	Labels                                                                                 []string
}

type notificationRecordRow struct {
	Time, Verb, Channel, Type, Receiver, To, Status, Code, Attempts, Detail string
	Failed                                                                  bool
}

func alarmRecordRowOf(rec *apiRecord) alarmRecordRow {
	var d struct {
		Policy     struct{ Namespace, Name, DisplayName string } `json:"policy"`
		Metric     string                                        `json:"metric"`
		Condition  string                                        `json:"condition"`
		Labels     map[string]string                             `json:"labels"`
		Value      string                                        `json:"value"`
		FiredAt    time.Time                                     `json:"firedAt"`
		ResolvedAt time.Time                                     `json:"resolvedAt"`
		Status     string                                        `json:"status"`
	}
	_ = json.Unmarshal(rec.Data, &d)
	row := alarmRecordRow{Fired: utc(d.FiredAt), Status: d.Status, Policy: d.Policy.DisplayName, PolicyName: rec.Name, Cluster: rec.Cluster,
		Namespace: rec.Namespace, Metric: d.Metric, Value: d.Value, Resolved: utc(d.ResolvedAt)}
	if row.Fired == "" {
		row.Fired = utc(rec.Time)
	}
	if row.Status == "" {
		row.Status = rec.Verb
	}
	if row.Metric == "" {
		row.Metric = d.Condition
	}
	row.Object = d.Labels["pod"]
	if row.Object == "" {
		row.Object = d.Labels["node"]
	}
	for k, v := range d.Labels {
		row.Labels = append(row.Labels, k+"="+v)
	}
	sort.Strings(row.Labels)
	return row
}

func notificationRecordRowOf(rec *apiRecord) notificationRecordRow {
	var d struct {
		Status, LastError, ChannelType, Subject string
		Attempts                                int
		To                                      []string
	}
	_ = json.Unmarshal(rec.Data, &d)
	row := notificationRecordRow{Time: utc(rec.Time), Verb: rec.Verb, Channel: rec.Name, Type: d.ChannelType, Receiver: rec.User,
		To: strings.Join(d.To, ", "), Status: d.Status, Attempts: strconv.Itoa(d.Attempts), Detail: d.LastError, Failed: d.Status == "failed"}
	if rec.Code != 0 {
		row.Code = strconv.Itoa(rec.Code)
	}
	if row.Detail == "" {
		row.Detail = d.Subject
	}
	return row
}

// alarmRecords is the records page: alarms, or with ?kind=notifications
// the messages sent. A project's are its own; on the platform console a
// cluster's (chosen in the form).
func (s *Server) alarmRecords(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "records")
	if !ok {
		return
	}
	q := r.URL.Query()
	d := recordsData{Scope: sc, Kind: "alarms", Cluster: strings.TrimSpace(q.Get("cluster"))}
	if q.Get("kind") == "notifications" {
		d.Kind = "notifications"
	}
	d.AlarmsURL = withQuery(withoutKey(r.URL, "continue"), "kind", "")
	d.NotifyURL = withQuery(withoutKey(r.URL, "continue"), "kind", "notifications")
	if sc.Project == "" && r.s.Clusters != nil {
		if items, err := r.listClusters(); err == nil {
			for i := range items {
				if items[i].Name != "global" {
					d.Clusters = append(d.Clusters, items[i].Name)
				}
			}
		}
		if d.Cluster == "" && len(d.Clusters) > 0 {
			d.Cluster = d.Clusters[0]
		}
	}
	group, filters := monitorAPI, alarmRecordFilters
	if d.Kind == "notifications" {
		group, filters = notifyAPI, notificationRecordFilters
	}
	path := group + "/namespaces/" + url.PathEscape(sc.Project) + "/" + d.Kind
	if sc.Project == "" {
		if d.Cluster == "" || len(validation.IsDNS1123Label(d.Cluster)) > 0 {
			d.recordResults = recordResults{Form: recordForm{Range: "24h", Values: map[string]string{}, Errors: map[string]string{}, Ranges: timeRanges,
				Error: "choose a cluster"}}
			r.showAlarmPage(w, sc, d)
			return
		}
		path = group + "/clusters/" + url.PathEscape(d.Cluster) + "/" + d.Kind
	}
	var list apiRecordList
	// The console has no export route of its own for these: the export
	// link goes through the search's own /export as the user.
	d.recordResults = r.searchRecords(path, "", filters, &list, func() string { return list.Continue })
	d.recordResults.Export = ""
	for i := range list.Items {
		if d.Kind == "alarms" {
			d.Alarms = append(d.Alarms, alarmRecordRowOf(&list.Items[i]))
		} else {
			d.Notifications = append(d.Notifications, notificationRecordRowOf(&list.Items[i]))
		}
	}
	r.showAlarmPage(w, sc, d)
}

// sharedAlarms: the platform console links its Monitoring & Alarms pages
// for those who may see the shared policies; the API decides anyway.
func (r *request) sharedAlarms() bool {
	return decision.Admin(r.user) || r.can("", "listAlarmpolicy", "namespace:"+systemNamespace+"/alarmpolicy:*")
}
