package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"

	extv1 "github.com/kstack/kstack/addonapi/extensions/v1"
	"github.com/kstack/kstack/internal/addons/cronhpa"
	"github.com/kstack/kstack/internal/cronschedule"
)

// The Autoscaling page of a namespace (seed 004 §5.3; TKEStack's HPA and
// CronHPA pages): its HorizontalPodAutoscalers, read only, and its
// CronHPAs, with a form to create and edit them and a delete. CronHPAs are
// objects of the member cluster (the CronHPA add-on's CRD), read and
// written through the platform's proxy as the user. The member's API
// server cannot check their schedules and time zone, so the console checks
// them with the add-on's own parser before anything is written.

func (s *Server) autoscalingRoutes(mux *http.ServeMux) { s.autoscalingRoutesWith(mux, s.authed) }

// autoscalingRoutesWith adds the routes with each handler wrapped by
// authed (tests serve them as a fixed user).
func (s *Server) autoscalingRoutesWith(mux *http.ServeMux, authed func(handlerFunc) http.Handler) {
	const base = "/console/business/{cluster}/{ns}/autoscaling"
	mux.Handle("GET "+base, authed(s.autoscalingPage))
	mux.Handle("POST "+base, authed(s.saveCronHPA))
	mux.Handle("GET "+base+"/cronrow", authed(s.cronRowField))
	mux.Handle("POST "+base+"/{name}", authed(s.saveCronHPA))
	mux.Handle("POST "+base+"/{name}/delete", authed(s.deleteCronHPA))
}

// maxCronRows is the CRD's limit of schedules.
const maxCronRows = 100

// cronRow is one schedule of a form as typed, and what is wrong with it.
type cronRow struct {
	Index              int
	Schedule, Replicas string
	Err                string
}

// cronFields are the schedule rows and time zone of a form (the workload
// form's and the CronHPA form's; the "cronfields" block of layout.html).
type cronFields struct {
	Rows     []cronRow
	TimeZone string
	// RowURL serves one more row (htmx, "Add row"); Next is its index.
	RowURL string
	Next   int
	// ZoneErr and Err are the time zone's and the whole list's problems.
	ZoneErr, Err string
}

func newCronFields(rowURL string) cronFields {
	c := cronFields{RowURL: rowURL}
	c.fill()
	return c
}

// fill gives a form without rows an empty one, and sets Next.
func (c *cronFields) fill() {
	if len(c.Rows) == 0 {
		c.Rows = []cronRow{{Index: 0}}
	}
	c.Next = c.Rows[len(c.Rows)-1].Index + 1
}

// parseCronFields reads rows cronN.schedule and cronN.replicas and the
// time zone; a row left empty is no row (that is how one is removed).
func parseCronFields(form url.Values, rowURL string) cronFields {
	c := cronFields{TimeZone: strings.TrimSpace(form.Get("timeZone")), RowURL: rowURL}
	for i := 0; i < maxCronRows; i++ {
		p := fmt.Sprintf("cron%d.", i)
		if _, ok := form[p+"schedule"]; !ok {
			continue
		}
		row := cronRow{Index: i, Schedule: strings.TrimSpace(form.Get(p + "schedule")), Replicas: strings.TrimSpace(form.Get(p + "replicas"))}
		if row.Schedule != "" || row.Replicas != "" {
			c.Rows = append(c.Rows, row)
		}
	}
	c.fill()
	return c
}

func (c *cronFields) failed() bool {
	if c.Err != "" || c.ZoneErr != "" {
		return true
	}
	for _, r := range c.Rows {
		if r.Err != "" {
			return true
		}
	}
	return false
}

// crons checks the rows and the time zone as the add-on's controller reads
// them (cronhpa.Parse), each problem next to its field; nil if any.
func (c *cronFields) crons() []extv1.Cron {
	if _, err := cronschedule.LoadZone(c.TimeZone); err != nil {
		c.ZoneErr = err.Error()
	}
	var out []extv1.Cron
	for i := range c.Rows {
		row := &c.Rows[i]
		if row.Schedule == "" && row.Replicas == "" {
			continue
		}
		n, nerr := strconv.ParseInt(row.Replicas, 10, 32)
		cr := extv1.Cron{Schedule: row.Schedule, TargetReplicas: int32(n)}
		// Each row alone, so that every wrong row says so; a schedule's
		// validity does not depend on the zone.
		if _, err := cronschedule.Parse(row.Schedule, nil); err != nil {
			row.Err = err.Error()
		} else if nerr != nil || n < 0 {
			row.Err = fmt.Sprintf("the target replicas %q is not a whole number, 0 or more", row.Replicas)
		}
		out = append(out, cr)
	}
	if len(out) == 0 {
		c.Err = "give at least one schedule: a crontab, e.g. 0 23 * * 5, and the replicas to set then"
	}
	if c.failed() {
		return nil
	}
	// The whole, as the controller will read it.
	if _, _, err := cronhpa.Parse(&extv1.CronHPASpec{TimeZone: c.TimeZone, Crons: out}); err != nil {
		c.Err = err.Error()
		return nil
	}
	return out
}

// newCronHPA is a CronHPA of the given spec.
func newCronHPA(namespace, name string, labels map[string]string, spec extv1.CronHPASpec) *extv1.CronHPA {
	return &extv1.CronHPA{TypeMeta: metav1.TypeMeta{APIVersion: extv1.GroupVersion.String(), Kind: "CronHPA"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels}, Spec: spec}
}

// writeCronHPA creates hpa (or replaces the spec of the stored one, at
// hpa's resourceVersion), or with dry only tries to. It answers the object
// as the member keeps it.
func writeCronHPA(ctx context.Context, dc dynamic.Interface, hpa *extv1.CronHPA, update, dry bool) (*unstructured.Unstructured, error) {
	ri := dc.Resource(cronhpa.GVR).Namespace(hpa.Namespace)
	var dryRun []string
	if dry {
		dryRun = []string{metav1.DryRunAll}
	}
	if !update {
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(hpa)
		if err != nil {
			return nil, err
		}
		delete(obj, "status")
		return ri.Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{DryRun: dryRun})
	}
	// Only the spec changes: the labels and annotations others set stay.
	u, err := ri.Get(ctx, hpa.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	spec, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&hpa.Spec)
	if err != nil {
		return nil, err
	}
	u.Object["spec"] = spec
	if hpa.ResourceVersion != "" {
		u.SetResourceVersion(hpa.ResourceVersion)
	}
	return ri.Update(ctx, u, metav1.UpdateOptions{DryRun: dryRun})
}

// zoneDropped says the member's add-on did not keep the time zone: its
// v1.0.0 CRD has none, and the API server prunes unknown fields.
func zoneDropped(hpa *extv1.CronHPA, got *unstructured.Unstructured) string {
	if hpa.Spec.TimeZone == "" || got == nil || str(got, "spec", "timeZone") != "" {
		return ""
	}
	return "the cluster's CronHPA add-on is a version without time zones (v1.0.0): leave the time zone empty (UTC), or have it upgraded on the Extension Components page"
}

// addonMissing says a member answered 404 for the CronHPA resource itself
// (its CRD is not there), not for one object or namespace.
func addonMissing(err error) bool {
	var st apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &st) {
		return false
	}
	d := st.Status().Details
	return d == nil || d.Name == ""
}

func addonMissingText(addon, cluster string) string {
	return "the " + addon + " add-on is not installed in cluster " + cluster + ": an administrator of the cluster installs it on the Extension Components page"
}

type autoscalingData struct {
	NS        nsView
	HPAs      []hpaRow
	HPAErr    string
	CronHPAs  []cronHPARow
	CronErr   string
	More      string
	AddonsURL string
	// AddonMissing: the cluster has no CronHPA add-on (no CRD).
	AddonMissing bool
	// Form is the CronHPA form, for those who may create (or edit) one.
	Form *cronForm
}

type hpaRow struct{ Name, Target, MinMax, Replicas string }

type cronHPARow struct {
	Name, Target, TimeZone, LastSchedule string
	Crons                                []string
	Conditions                           []cronCondition
	EditURL, DeleteURL                   string
}

type cronCondition struct{ Type, Status, Reason, Message string }

// cronForm is the CronHPA form as typed.
type cronForm struct {
	Action string
	// Edit: the form changes the CronHPA Name, at ResourceVersion.
	Edit                                     bool
	Name, ResourceVersion                    string
	TargetKind, TargetAPIVersion, TargetName string
	Kinds                                    []string
	Cron                                     cronFields
	Errors                                   map[string]string
	Error                                    string
	Cancel                                   string
}

// scaleKinds are the targets offered, the seed's, with their apiVersions;
// another kind of a CronHPA being edited is offered too.
var scaleKinds = []string{"Deployment", "StatefulSet", "TApp"}

var scaleAPIVersions = map[string]string{"Deployment": "apps/v1", "StatefulSet": "apps/v1", "TApp": "apps.tkestack.io/v1"}

func autoscalingURL(base string) string { return base + "/autoscaling" }

func newCronForm(base string) *cronForm {
	return &cronForm{Action: autoscalingURL(base), TargetKind: "Deployment", TargetAPIVersion: "apps/v1", Kinds: scaleKinds,
		Cron: newCronFields(autoscalingURL(base) + "/cronrow"), Errors: map[string]string{}, Cancel: autoscalingURL(base)}
}

func parseCronForm(r *http.Request, base, editing string) *cronForm {
	_ = r.ParseForm()
	v := func(k string) string { return strings.TrimSpace(r.PostForm.Get(k)) }
	f := newCronForm(base)
	f.Name, f.TargetKind, f.TargetAPIVersion, f.TargetName = v("name"), v("targetKind"), v("targetAPIVersion"), v("targetName")
	if editing != "" {
		f.Edit, f.Name, f.ResourceVersion = true, editing, v("resourceVersion")
		f.Action += "/" + url.PathEscape(editing)
	}
	f.Cron = parseCronFields(r.PostForm, f.Cron.RowURL)
	f.withKind()
	return f
}

// withKind offers the target's kind, and knows the apiVersion of those
// the console offers.
func (f *cronForm) withKind() {
	if v, ok := scaleAPIVersions[f.TargetKind]; ok {
		f.TargetAPIVersion = v
		return
	}
	if f.TargetKind != "" {
		f.Kinds = append(append([]string{}, scaleKinds...), f.TargetKind)
	}
}

// build is the CronHPA of the form, or nil with each problem next to its
// field.
func (f *cronForm) build(namespace string) *extv1.CronHPA {
	if errs := validation.IsDNS1123Subdomain(f.Name); f.Name == "" || len(errs) > 0 {
		f.Errors["name"] = "a name is lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	}
	if f.TargetKind == "" || f.TargetAPIVersion == "" {
		f.Errors["targetKind"] = "choose the kind of workload to scale"
	}
	if errs := validation.IsDNS1123Subdomain(f.TargetName); f.TargetName == "" || len(errs) > 0 {
		f.Errors["targetName"] = "name the workload to scale, in this namespace"
	}
	crons := f.Cron.crons()
	if len(f.Errors) > 0 || crons == nil {
		f.Error = "Some fields need attention: see the messages next to them."
		return nil
	}
	hpa := newCronHPA(namespace, f.Name, nil, extv1.CronHPASpec{Crons: crons, TimeZone: f.Cron.TimeZone})
	hpa.Spec.ScaleTargetRef.APIVersion, hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name = f.TargetAPIVersion, f.TargetKind, f.TargetName
	hpa.ResourceVersion = f.ResourceVersion
	return hpa
}

// editFormOf is the form that edits the stored CronHPA u.
func editFormOf(base string, u *unstructured.Unstructured) (*cronForm, error) {
	var hpa extv1.CronHPA
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &hpa); err != nil {
		return nil, err
	}
	f := newCronForm(base)
	f.Edit, f.Name, f.ResourceVersion = true, hpa.Name, hpa.ResourceVersion
	f.Action += "/" + url.PathEscape(hpa.Name)
	f.TargetKind, f.TargetAPIVersion, f.TargetName = hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.APIVersion, hpa.Spec.ScaleTargetRef.Name
	f.Cron.TimeZone, f.Cron.Rows = hpa.Spec.TimeZone, nil
	for i, c := range hpa.Spec.Crons {
		f.Cron.Rows = append(f.Cron.Rows, cronRow{Index: i, Schedule: c.Schedule, Replicas: strconv.Itoa(int(c.TargetReplicas))})
	}
	f.Cron.fill()
	f.withKind()
	return f, nil
}

func (s *Server) autoscalingPage(w http.ResponseWriter, r *request) {
	var f *cronForm
	if name := r.URL.Query().Get("edit"); name != "" {
		f = &cronForm{Edit: true, Name: name}
	}
	s.renderAutoscaling(w, r, f)
}

// renderAutoscaling shows the page with form (a new one when nil; with
// Edit and no Action, the stored CronHPA Name's), or for htmx the form
// alone.
func (s *Server) renderAutoscaling(w http.ResponseWriter, r *request, f *cronForm) {
	ns := r.nsView("autoscaling")
	if f != nil && f.Action != "" && isHTMX(r.Request) {
		r.fragment(w, http.StatusOK, "autoscaling", "cronform", autoscalingData{NS: ns, Form: f})
		return
	}
	ctx, cancel := r.timeout()
	defer cancel()
	d := autoscalingData{NS: ns, AddonsURL: addonsURL(ns.Cluster)}
	cs, err := r.member(ns.Cluster)
	if err != nil {
		r.fail(w, err)
		return
	}
	hpas, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns.Namespace).List(ctx, metav1.ListOptions{Limit: 500})
	if err != nil {
		msg, ok := r.refused(w, err)
		if !ok {
			return
		}
		d.HPAErr = msg
	} else {
		for _, h := range hpas.Items {
			row := hpaRow{Name: h.Name, Target: h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name,
				Replicas: fmt.Sprintf("%d / %d", h.Status.CurrentReplicas, h.Status.DesiredReplicas)}
			lo := int32(1)
			if h.Spec.MinReplicas != nil {
				lo = *h.Spec.MinReplicas
			}
			row.MinMax = fmt.Sprintf("%d – %d", lo, h.Spec.MaxReplicas)
			d.HPAs = append(d.HPAs, row)
		}
		if hpas.Continue != "" {
			d.More = "Only the first 500 HorizontalPodAutoscalers are shown."
		}
	}
	dc, err := r.dynamicMember(ns.Cluster)
	if err != nil {
		r.fail(w, err)
		return
	}
	l, err := dc.Resource(cronhpa.GVR).Namespace(ns.Namespace).List(ctx, metav1.ListOptions{Limit: 500})
	switch {
	case addonMissing(err):
		// No CRD: the page says so instead of failing.
		d.AddonMissing = true
	case err != nil:
		_, d.CronErr = explain(err)
	default:
		d.CronHPAs = cronHPARows(r, ns, l.Items)
		if l.GetContinue() != "" {
			d.More += " Only the first 500 CronHPAs are shown."
		}
	}
	if !d.AddonMissing && d.CronErr == "" {
		d.Form = s.cronFormFor(ctx, r, dc, ns, f)
	}
	r.page(w, "autoscaling", "business", "Autoscaling in "+ns.Namespace, d, r.crumbs()...)
}

// cronFormFor is the form to show: f as typed, the stored CronHPA to
// edit, or a new one; nil when the user may not write CronHPAs.
func (s *Server) cronFormFor(ctx context.Context, r *request, dc dynamic.Interface, ns nsView, f *cronForm) *cronForm {
	if f != nil && f.Action != "" {
		return f
	}
	if f != nil && f.Edit {
		u, err := dc.Resource(cronhpa.GVR).Namespace(ns.Namespace).Get(ctx, f.Name, metav1.GetOptions{})
		if err == nil {
			if ef, err := editFormOf(ns.Base, u); err == nil {
				return ef
			}
		}
		nf := newCronForm(ns.Base)
		_, msg := explain(err)
		nf.Error = "CronHPA " + f.Name + " cannot be edited: " + msg
		return nf
	}
	if !r.canMember(ns.Cluster, http.MethodPost, "/apis/"+extv1.GroupVersion.String()+"/namespaces/"+ns.Namespace+"/cronhpas") {
		return nil
	}
	return newCronForm(ns.Base)
}

func cronHPARows(r *request, ns nsView, items []unstructured.Unstructured) []cronHPARow {
	sort.Slice(items, func(i, j int) bool { return items[i].GetName() < items[j].GetName() })
	var out []cronHPARow
	for i := range items {
		var h extv1.CronHPA
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(items[i].Object, &h); err != nil {
			out = append(out, cronHPARow{Name: items[i].GetName(), Conditions: []cronCondition{{Type: "Valid", Status: "False", Message: "the console cannot read it: " + err.Error()}}})
			continue
		}
		row := cronHPARow{Name: h.Name, Target: h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name, TimeZone: h.Spec.TimeZone,
			LastSchedule: pushedAt(h.Status.LastScheduleTime)}
		if row.TimeZone == "" {
			row.TimeZone = "UTC"
		}
		for _, c := range h.Spec.Crons {
			row.Crons = append(row.Crons, fmt.Sprintf("%s → %d", c.Schedule, c.TargetReplicas))
		}
		for _, c := range h.Status.Conditions {
			if c.Type == cronhpa.CondValid || c.Type == cronhpa.CondScaled {
				row.Conditions = append(row.Conditions, cronCondition{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message})
			}
		}
		path := "/apis/" + extv1.GroupVersion.String() + "/namespaces/" + ns.Namespace + "/cronhpas/" + h.Name
		if r.canMember(ns.Cluster, http.MethodPut, path) {
			row.EditURL = autoscalingURL(ns.Base) + "?" + url.Values{"edit": {h.Name}}.Encode() + "#cronhpa-form"
		}
		if r.canMember(ns.Cluster, http.MethodDelete, path) {
			row.DeleteURL = autoscalingURL(ns.Base) + "/" + url.PathEscape(h.Name) + "/delete"
		}
		out = append(out, row)
	}
	return out
}

// cronRowField is one more schedule row (htmx, "Add row"), of this page's
// form or of the workload form.
func (s *Server) cronRowField(w http.ResponseWriter, r *request) {
	i, err := strconv.Atoi(r.URL.Query().Get("i"))
	if err != nil || i < 0 || i >= maxCronRows {
		s.fail(w, r.Request, http.StatusUnprocessableEntity, fmt.Sprintf("a CronHPA has at most %d schedules", maxCronRows))
		return
	}
	r.fragment(w, http.StatusOK, "autoscaling", "cronrowadd", map[string]any{"Row": cronRow{Index: i}, "Next": i + 1, "RowURL": r.URL.Path})
}

// saveCronHPA creates a CronHPA, or changes the one the path names: a dry
// run first, so that what the member would refuse or drop is said before
// anything is written.
func (s *Server) saveCronHPA(w http.ResponseWriter, r *request) {
	ns := r.nsView("autoscaling")
	f := parseCronForm(r.Request, ns.Base, r.PathValue("name"))
	hpa := f.build(ns.Namespace)
	if hpa == nil {
		s.renderAutoscaling(w, r, f)
		return
	}
	dc, err := r.dynamicMember(ns.Cluster)
	if err != nil {
		r.fail(w, err)
		return
	}
	ctx, cancel := r.timeout()
	defer cancel()
	for _, dry := range []bool{true, false} {
		got, err := writeCronHPA(ctx, dc, hpa, f.Edit, dry)
		if err != nil {
			msg, ok := r.refused(w, err)
			if !ok {
				return
			}
			if addonMissing(err) {
				msg = addonMissingText("CronHPA", ns.Cluster)
			}
			f.Error = msg
			s.renderAutoscaling(w, r, f)
			return
		}
		if msg := zoneDropped(hpa, got); dry && msg != "" {
			f.Cron.ZoneErr = msg
			s.renderAutoscaling(w, r, f)
			return
		}
	}
	verb := "Created"
	if f.Edit {
		verb = "Saved"
	}
	s.Log.Info("console wrote a CronHPA", "cluster", ns.Cluster, "namespace", ns.Namespace, "name", hpa.Name, "edit", f.Edit, "by", r.user.Name())
	redirect(w, r.Request, autoscalingURL(ns.Base)+"?notice="+url.QueryEscape(verb+" CronHPA "+hpa.Name))
}

func (s *Server) deleteCronHPA(w http.ResponseWriter, r *request) {
	ns := r.nsView("autoscaling")
	name := r.PathValue("name")
	dc, err := r.dynamicMember(ns.Cluster)
	if err != nil {
		r.fail(w, err)
		return
	}
	ctx, cancel := r.timeout()
	defer cancel()
	if err := dc.Resource(cronhpa.GVR).Namespace(ns.Namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		r.fail(w, err)
		return
	}
	s.Log.Info("console deleted a CronHPA", "cluster", ns.Cluster, "namespace", ns.Namespace, "name", name, "by", r.user.Name())
	redirect(w, r.Request, autoscalingURL(ns.Base)+"?notice="+url.QueryEscape("Deleted CronHPA "+name+": the workload keeps its replicas"))
}
