package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	tappv1 "github.com/kstack/kstack/addonapi/apps/v1"
	"github.com/kstack/kstack/internal/addons/tapp"
)

// The TApps of a namespace (seed 004 §4.3.1.2.6; TKEStack's TApp pages):
// a list, and a page per TApp with one row per instance (its template, its
// status, its pod) and the templates of its pool. Its actions kill or
// restore an instance, move instances to another template of the pool (a
// gray release) and scale; each is a merge patch of the TApp through the
// platform's proxy as the user. TApps are objects of the TApp add-on's CRD,
// which a cluster may not have: the pages say so instead of failing.

func (s *Server) tappRoutes(mux *http.ServeMux) { s.tappRoutesWith(mux, s.authed) }

// tappRoutesWith adds the routes with each handler wrapped by authed
// (tests serve them as a fixed user).
func (s *Server) tappRoutesWith(mux *http.ServeMux, authed func(handlerFunc) http.Handler) {
	const base = "/console/business/{cluster}/{ns}/tapps"
	mux.Handle("GET "+base, authed(s.tappsPage))
	mux.Handle("GET "+base+"/{name}", authed(s.tappPage))
	mux.Handle("POST "+base+"/{name}/{action}", authed(s.tappAction))
}

func tappsURL(base string) string { return base + "/tapps" }

func tappURL(base, name string) string { return tappsURL(base) + "/" + url.PathEscape(name) }

type tappsData struct {
	NS           nsView
	Rows         []tappRow
	Err, More    string
	AddonsURL    string
	AddonMissing bool
}

type tappRow struct{ Name, URL, Replicas, AppStatus, Templates, Images, Age string }

func (s *Server) tappsPage(w http.ResponseWriter, r *request) {
	ns := r.nsView("tapps")
	d := tappsData{NS: ns, AddonsURL: addonsURL(ns.Cluster)}
	dc, err := r.dynamicMember(ns.Cluster)
	if err != nil {
		r.fail(w, err)
		return
	}
	ctx, cancel := r.timeout()
	defer cancel()
	l, err := dc.Resource(tapp.GVR).Namespace(ns.Namespace).List(ctx, metav1.ListOptions{Limit: 500})
	switch {
	case addonMissing(err):
		d.AddonMissing = true
	case err != nil:
		msg, ok := r.refused(w, err)
		if !ok {
			return
		}
		d.Err = msg
	default:
		items := l.Items
		sort.Slice(items, func(i, j int) bool { return items[i].GetName() < items[j].GetName() })
		for i := range items {
			u := &items[i]
			// The kind's cells: Ready, Status, Templates, Images, Age.
			c := kinds["tapps"].Cells(u)
			d.Rows = append(d.Rows, tappRow{Name: u.GetName(), URL: tappURL(ns.Base, u.GetName()),
				Replicas:  fmt.Sprintf("%d / %d", num(u, "status", "readyReplicas"), num(u, "spec", "replicas")),
				AppStatus: str(u, "status", "appStatus"), Templates: c[2].Text, Images: c[3].Text, Age: ageOf(u)})
		}
		if l.GetContinue() != "" {
			d.More = "Only the first 500 TApps are shown."
		}
	}
	r.page(w, "tapps", "business", "TApps in "+ns.Namespace, d, r.crumbs()...)
}

type tappData struct {
	NS   nsView
	Name string
	// Replicas is the spec's; Ready and AppStatus the status's.
	Replicas, Ready       int32
	AppStatus, UpdateTmpl string
	Instances             []tappInstance
	Templates             []tappTemplate
	// Containers are the default template's, whose images a new template
	// of the pool may change.
	Containers             []containerImage
	AddonsURL              string
	AddonMissing, CanWrite bool
	// Err is why the TApp could not be read, PodErr why its pods could
	// not; Error why the last action was refused.
	Err, PodErr, Error string
	// Errors are the actions' problems next to their fields: "id" (an
	// instance), "ids" and "template" (the gray release), "replicas",
	// "name" and "image" (a new template of the pool).
	Errors map[string]string
	// Form is what the last action typed: "replicas", "template", "name",
	// "image.CONTAINER", and the chosen instances in Chosen.
	Form   map[string]string
	Chosen map[string]bool
}

type tappInstance struct {
	ID, Template, Status, Desired string
	Killed                        bool
	Pod, PodURL, Phase            string
	PodTemplate                   string
	Images                        []string
}

type tappTemplate struct {
	Name      string
	Images    []string
	Instances int
}

// readTApp gets the TApp the path names.
func readTApp(ctx context.Context, r *request, ns nsView, name string) (*tappv1.TApp, error) {
	dc, err := r.dynamicMember(ns.Cluster)
	if err != nil {
		return nil, err
	}
	u, err := dc.Resource(tapp.GVR).Namespace(ns.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var t tappv1.TApp
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &t); err != nil {
		return nil, fmt.Errorf("the console cannot read TApp %s: %w", name, err)
	}
	return &t, nil
}

func (s *Server) tappPage(w http.ResponseWriter, r *request) {
	s.renderTApp(w, r, &tappData{Errors: map[string]string{}, Form: map[string]string{}, Chosen: map[string]bool{}})
}

// renderTApp shows the TApp's page with d's errors and form.
func (s *Server) renderTApp(w http.ResponseWriter, r *request, d *tappData) {
	ns := r.nsView("tapps")
	d.NS, d.Name, d.AddonsURL = ns, r.PathValue("name"), addonsURL(ns.Cluster)
	ctx, cancel := r.timeout()
	defer cancel()
	t, err := readTApp(ctx, r, ns, d.Name)
	switch {
	case addonMissing(err):
		d.AddonMissing = true
	case err != nil:
		msg, ok := r.refused(w, err)
		if !ok {
			return
		}
		d.Err = msg
	default:
		pods, perr := tappPods(ctx, r, ns, t.Name)
		if perr != nil {
			msg, ok := r.refused(w, perr)
			if !ok {
				return
			}
			d.PodErr = msg
		}
		d.fill(t, pods)
		d.CanWrite = r.canMember(ns.Cluster, http.MethodPatch, "/apis/"+tappv1.GroupVersion.String()+"/namespaces/"+ns.Namespace+"/tapps/"+t.Name)
	}
	if d.Form["replicas"] == "" {
		d.Form["replicas"] = strconv.Itoa(int(d.Replicas))
	}
	for _, c := range d.Containers {
		if d.Form["image."+c.Container] == "" {
			d.Form["image."+c.Container] = c.Image
		}
	}
	r.page(w, "tapp", "business", "TApp "+d.Name, d, append(r.crumbs(), crumb{"TApps", tappsURL(ns.Base)})...)
}

// tappPods are the TApp's pods by instance id.
func tappPods(ctx context.Context, r *request, ns nsView, name string) (map[string]*corev1.Pod, error) {
	cs, err := r.member(ns.Cluster)
	if err != nil {
		return nil, err
	}
	l, err := cs.CoreV1().Pods(ns.Namespace).List(ctx, metav1.ListOptions{LabelSelector: tapp.LabelTApp + "=" + name})
	if err != nil {
		return nil, err
	}
	out := map[string]*corev1.Pod{}
	for i := range l.Items {
		p := &l.Items[i]
		if id := p.Labels[tapp.LabelInstance]; id != "" {
			out[id] = p
		}
	}
	return out, nil
}

func podImages(spec *corev1.PodSpec) []string {
	var out []string
	for _, c := range spec.Containers {
		out = append(out, c.Name+": "+c.Image)
	}
	return out
}

// inPool says whether name is a template of t's pool ("default" is the
// spec's template).
func inPool(t *tappv1.TApp, name string) bool {
	if name == tappv1.DefaultTemplateName {
		return true
	}
	_, ok := t.Spec.TemplatePool[name]
	return ok
}

func (d *tappData) fill(t *tappv1.TApp, pods map[string]*corev1.Pod) {
	d.Replicas, d.Ready, d.AppStatus, d.UpdateTmpl = t.Spec.Replicas, t.Status.ReadyReplicas, string(t.Status.AppStatus), t.Spec.UpdateStrategy.Template
	uses := map[string]int{}
	for i := 0; i < int(t.Spec.Replicas); i++ {
		id := strconv.Itoa(i)
		in := tappInstance{ID: id, Template: tapp.TemplateOf(&t.Spec, i), Status: string(t.Status.Statuses[id]), Desired: string(tappv1.InstanceRunning),
			Pod: tapp.PodName(t.Name, i)}
		if in.Status == "" {
			in.Status = string(tappv1.InstanceNotCreated)
		}
		if t.Spec.Statuses[id] == tappv1.InstanceKilled {
			in.Desired, in.Killed = string(tappv1.InstanceKilled), true
		}
		uses[in.Template]++
		if p := pods[id]; p != nil {
			in.Pod, in.PodURL, in.Phase, in.Images = p.Name, d.NS.Base+"/pods/"+url.PathEscape(p.Name), string(p.Status.Phase), podImages(&p.Spec)
			if pt := p.Labels[tapp.LabelTemplate]; pt != in.Template {
				in.PodTemplate = pt
			}
		}
		d.Instances = append(d.Instances, in)
	}
	for _, c := range t.Spec.Template.Spec.Containers {
		d.Containers = append(d.Containers, containerImage{c.Name, c.Image})
	}
	d.Templates = []tappTemplate{{Name: tappv1.DefaultTemplateName, Images: podImages(&t.Spec.Template.Spec), Instances: uses[tappv1.DefaultTemplateName]}}
	var names []string
	for n := range t.Spec.TemplatePool {
		if n != tappv1.DefaultTemplateName {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		spec := t.Spec.TemplatePool[n].Spec
		d.Templates = append(d.Templates, tappTemplate{Name: n, Images: podImages(&spec), Instances: uses[n]})
	}
	// Templates the instances name but the pool has not (the controller
	// reports them): shown, without images.
	var missing []string
	for n := range uses {
		if !inPool(t, n) {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	for _, n := range missing {
		d.Templates = append(d.Templates, tappTemplate{Name: n, Instances: uses[n]})
	}
}

// tappPatch is the merge patch of an action on t as the form asks, or nil
// with the problems in d.Errors; notice says what it did.
func tappPatch(r *request, t *tappv1.TApp, action string, d *tappData) (patch map[string]any, notice string) {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	instance := func(id string) bool {
		n, err := strconv.Atoi(id)
		return err == nil && n >= 0 && n < int(t.Spec.Replicas) && strconv.Itoa(n) == id
	}
	spec := map[string]any{}
	switch action {
	case "kill", "restore":
		id := v("id")
		if !instance(id) {
			d.Errors["id"] = fmt.Sprintf("instance %q is not one of this TApp's: they are 0 to %d", id, t.Spec.Replicas-1)
			return nil, ""
		}
		if action == "kill" {
			spec["statuses"] = map[string]any{id: string(tappv1.InstanceKilled)}
			return map[string]any{"spec": spec}, "Killing instance " + id
		}
		// Running is what an instance without a status is.
		spec["statuses"] = map[string]any{id: nil}
		return map[string]any{"spec": spec}, "Restoring instance " + id
	case "gray":
		_ = r.ParseForm()
		ids := r.PostForm["ids"]
		name := v("template")
		d.Form["template"] = name
		for _, id := range ids {
			d.Chosen[id] = true
		}
		var bad []string
		for _, id := range ids {
			if !instance(id) {
				bad = append(bad, strconv.Quote(id))
			}
		}
		switch {
		case len(ids) == 0:
			d.Errors["ids"] = "choose the instances to move, with the boxes of the instances table"
		case len(bad) > 0:
			d.Errors["ids"] = fmt.Sprintf("not instances of this TApp (0 to %d): %s", t.Spec.Replicas-1, strings.Join(bad, ", "))
		}
		if name == "" || !inPool(t, name) {
			d.Errors["template"] = fmt.Sprintf("template %q is not in the TApp's pool", name)
		}
		if len(d.Errors) > 0 {
			return nil, ""
		}
		m := map[string]any{}
		for _, id := range ids {
			if name == tappv1.DefaultTemplateName {
				m[id] = nil
			} else {
				m[id] = name
			}
		}
		spec["templates"] = m
		return map[string]any{"spec": spec}, fmt.Sprintf("Moving %s to template %s", plural(len(ids), "instance", "instances"), name)
	case "template":
		// A new template of the pool: the default one with other images,
		// for a gray release of some instances to it.
		name := v("name")
		d.Form["name"] = name
		switch {
		case len(validation.IsDNS1123Label(name)) > 0:
			d.Errors["name"] = "a template's name is lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"
		case inPool(t, name):
			d.Errors["name"] = fmt.Sprintf("the pool already has a template %q", name)
		}
		tmpl := t.Spec.Template.DeepCopy()
		for i := range tmpl.Spec.Containers {
			c := &tmpl.Spec.Containers[i]
			img := v("image." + c.Name)
			d.Form["image."+c.Name] = img
			if img == "" || strings.ContainsAny(img, " \t") {
				d.Errors["image"] = fmt.Sprintf("give container %s an image, e.g. nginx:1.27", c.Name)
			}
			c.Image = img
		}
		if len(d.Errors) > 0 {
			return nil, ""
		}
		spec["templatePool"] = map[string]any{name: tmpl}
		return map[string]any{"spec": spec}, "Added template " + name + " to the pool"
	case "scale":
		d.Form["replicas"] = v("replicas")
		n, err := strconv.Atoi(v("replicas"))
		if err != nil || n < 0 || n > 10000 {
			d.Errors["replicas"] = "replicas must be a whole number from 0 to 10000"
			return nil, ""
		}
		spec["replicas"] = n
		return map[string]any{"spec": spec}, fmt.Sprintf("Scaled to %d", n)
	}
	d.Error = fmt.Sprintf("the console has no TApp action %q", action)
	return nil, ""
}

// tappAction checks the form against the stored TApp, then merge-patches
// it as the user; refusals and bad input are shown on the page.
func (s *Server) tappAction(w http.ResponseWriter, r *request) {
	ns := r.nsView("tapps")
	name, action := r.PathValue("name"), r.PathValue("action")
	d := &tappData{Errors: map[string]string{}, Form: map[string]string{}, Chosen: map[string]bool{}}
	ctx, cancel := r.timeout()
	defer cancel()
	t, err := readTApp(ctx, r, ns, name)
	if err != nil {
		msg, ok := r.refused(w, err)
		if !ok {
			return
		}
		if addonMissing(err) {
			msg = addonMissingText("TApp", ns.Cluster)
		}
		d.Error = msg
		s.renderTApp(w, r, d)
		return
	}
	patch, notice := tappPatch(r, t, action, d)
	if patch == nil {
		if d.Error == "" {
			d.Error = "Nothing was changed: see the message next to the field."
		}
		s.renderTApp(w, r, d)
		return
	}
	body, err := json.Marshal(patch)
	if err == nil {
		err = patchTApp(ctx, r, ns, name, body)
	}
	if err != nil {
		msg, ok := r.refused(w, err)
		if !ok {
			return
		}
		d.Error = "The cluster refused: " + msg
		s.renderTApp(w, r, d)
		return
	}
	s.Log.Info("console patched a TApp", "cluster", ns.Cluster, "namespace", ns.Namespace, "name", name, "action", action, "patch", string(body), "by", r.user.Name())
	redirect(w, r.Request, tappURL(ns.Base, name)+"?notice="+url.QueryEscape(notice))
}

func patchTApp(ctx context.Context, r *request, ns nsView, name string, body []byte) error {
	dc, err := r.dynamicMember(ns.Cluster)
	if err != nil {
		return err
	}
	_, err = dc.Resource(tapp.GVR).Namespace(ns.Namespace).Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{})
	return err
}
