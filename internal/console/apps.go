package console

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	applicationv1 "github.com/kstack/kstack/api/application/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	registryv1 "github.com/kstack/kstack/api/registry/v1"
)

// The "Helm applications" pages (seed 004 §4.2.8.1): a project's
// applications (each a Helm v3 release of a chart, in a namespace of a
// member cluster), the form of a new one (with a dry run that shows the
// rendered manifest), and an application's page: its resources and their
// state, its history with a values diff between two revisions and a
// rollback, an upgrade, and the uninstall. Every operation runs in the
// application group's API as the user (internal/applicationapi), and its
// refusal (a values schema, a name taken, an operation under way) is shown
// next to the form. With htmx, a refusal or a dry run replaces only the
// result under the form, so nothing typed is lost; without it, the form
// comes back filled in, except the secret values, which the console never
// sends back to a browser.

const (
	applicationAPI = "/application/apis/application.tkestack.io/v1"
	businessAPI    = "/business/apis/business.tkestack.io/v1"
)

func appsAPI(project string) string {
	return applicationAPI + "/namespaces/" + url.PathEscape(project) + "/apps"
}

func appAPI(project, name string) string { return appsAPI(project) + "/" + url.PathEscape(name) }

// appNameRE is the API's rule for an application's name.
var appNameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// ---- The list ----

type appsData struct {
	Scope helmScope
	// Project is the project shown; "" every project the user may see (All).
	Project   string
	All       bool
	CanAll    bool
	Projects  []choice
	Rows      []appRow
	Err       string
	CanCreate bool
	NewURL    string
}

type appRow struct {
	Name, Project, Cluster, Namespace, Group, Chart, Version string
	Revision                                                 int
	Phase, ReleaseStatus, Message, Operation                 string
	URL, NamespaceURL, ChartURL                              string
}

// appProjects are the projects the user may choose: theirs, and on the
// platform console every project they may list.
func (r *request) appProjects(section string) []choice {
	var out []choice
	seen := map[string]bool{}
	if p, err := r.portal(); err == nil {
		for _, prj := range p.Projects {
			seen[prj.Name] = true
			out = append(out, choice{Value: prj.Name, Label: projectLabel(prj.Name, prj.DisplayName)})
		}
	}
	if section == "platform" && r.can("", "listProject", "project:*") {
		var l businessv1.ProjectList
		if code, _ := r.getJSON(businessAPI+"/projects", &l); code == http.StatusOK {
			for _, prj := range l.Items {
				if !seen[prj.Name] {
					seen[prj.Name] = true
					out = append(out, choice{Value: prj.Name, Label: projectLabel(prj.Name, prj.Spec.DisplayName)})
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out
}

func validProject(p string) bool { return p != "" && len(validation.IsDNS1123Label(p)) == 0 }

func (s *Server) appsPage(w http.ResponseWriter, r *request) {
	sc := r.helmScope()
	d := appsData{Scope: sc, Projects: r.appProjects(sc.Section), CanAll: r.can("", "listApp", "namespace:*/app:*")}
	q := r.URL.Query()
	d.Project = q.Get("project")
	switch {
	case d.Project == "" && d.CanAll && sc.Section == "platform", d.Project == "*" && d.CanAll:
		d.Project, d.All = "", true
	case d.Project == "" || d.Project == "*":
		d.Project = ""
		if len(d.Projects) > 0 {
			d.Project = d.Projects[0].Value
		}
	case !validProject(d.Project):
		s.fail(w, r.Request, http.StatusNotFound, fmt.Sprintf("no project %q", d.Project))
		return
	}
	if d.Project != "" {
		found := false
		for _, c := range d.Projects {
			found = found || c.Value == d.Project
		}
		if !found {
			d.Projects = append(d.Projects, choice{Value: d.Project, Label: d.Project})
		}
		d.CanCreate = r.can(d.Project, "createApp", "namespace:"+d.Project+"/app:*")
		d.NewURL = sc.Apps() + "/new?" + url.Values{"project": {d.Project}}.Encode()
	} else if d.All {
		d.CanCreate = len(d.Projects) > 0
		d.NewURL = sc.Apps() + "/new"
	}
	var l applicationv1.AppList
	path := ""
	switch {
	case d.All:
		path = applicationAPI + "/apps"
	case d.Project != "":
		path = appsAPI(d.Project)
	}
	if path != "" {
		if code, msg := r.getJSON(path, &l); code == http.StatusUnauthorized {
			s.fail(w, r.Request, code, msg)
			return
		} else if msg != "" {
			d.Err = msg
		}
	}
	sort.Slice(l.Items, func(i, j int) bool {
		a, b := &l.Items[i], &l.Items[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	for i := range l.Items {
		d.Rows = append(d.Rows, appRowOf(sc, &l.Items[i]))
	}
	r.page(w, "apps", sc.Section, "Helm applications", d, crumb{"Helm applications", sc.Apps()})
}

func appRowOf(sc helmScope, a *applicationv1.App) appRow {
	s := a.Spec
	row := appRow{Name: a.Name, Project: a.Namespace, Cluster: s.TargetCluster, Namespace: s.TargetNamespace,
		Group: s.Chart.ChartGroupName, Chart: s.Chart.ChartName, Version: s.Chart.ChartVersion, Revision: a.Status.Revision,
		Phase: string(a.Status.Phase), ReleaseStatus: a.Status.ReleaseStatus, Message: a.Status.Message,
		URL: sc.App(a.Namespace, a.Name)}
	if row.Phase == "" {
		row.Phase = "Pending"
	}
	if op := a.Status.Operation; op != nil {
		row.Operation = op.Type + " by " + op.User + " since " + op.StartedAt.UTC().Format("2006-01-02 15:04:05") + " UTC"
	}
	if s.TargetCluster != "" && s.TargetNamespace != "" {
		row.NamespaceURL = nsURL(s.TargetCluster, s.TargetNamespace)
	}
	if s.Chart.ChartGroupName != "" && s.Chart.ChartName != "" {
		row.ChartURL = sc.Chart(s.Chart.ChartGroupName, s.Chart.ChartName, s.Chart.ChartVersion)
	}
	return row
}

// ---- The new application's form ----

// appFields are the form's fields that an error may be shown next to,
// each in a span of its own (app-err-FIELD) that a refusal replaces.
var appFields = []string{"name", "target", "chart", "version", "values", "secretValues", "timeout"}

// appForm is the new application's form as typed. The secret values are
// never put back into it.
type appForm struct {
	Scope helmScope
	Name  string
	// Target is PROJECT/CLUSTER/NAMESPACE (from the select), or the three
	// fields typed when there is nothing to choose from.
	Target, Project, Cluster, Namespace string
	// Chart is GROUP/CHART.
	Chart, Version, Values string
	Wait                   bool
	Timeout                string
	// SecretGiven: secret values were typed, and must be typed again.
	SecretGiven bool
	Error       string
	Errors      map[string]string

	// The choices.
	Targets     []targetGroup
	Charts      []choice
	Versions    []choice
	VersionsErr string
	// Defaults is the chosen chart version, for its default values.
	Defaults *registryv1.ChartDetail
	ChartURL string

	// The dry run's result.
	Manifest, DryRunMessage string
}

// targetGroup is a project's namespaces in the target select.
type targetGroup struct {
	Label   string
	Options []choice
}

// FieldErrors are the error spans of every field, for a refusal that
// replaces only the result under the form (htmx out-of-band swaps).
func (f appForm) FieldErrors() [][2]string {
	out := make([][2]string, 0, len(appFields))
	for _, k := range appFields {
		out = append(out, [2]string{k, f.Errors[k]})
	}
	return out
}

// appTargets are the namespaces an application may go to: the user's
// projects' (from the portal), the project asked for, and on the platform
// console every project's namespace they may list.
func (r *request) appTargets(section, project string) []targetGroup {
	groups := map[string]*targetGroup{}
	var order []string
	add := func(prj, label, cluster, ns string) {
		g := groups[prj]
		if g == nil {
			g = &targetGroup{Label: label}
			groups[prj] = g
			order = append(order, prj)
		}
		v := prj + "/" + cluster + "/" + ns
		for _, o := range g.Options {
			if o.Value == v {
				return
			}
		}
		g.Options = append(g.Options, choice{Value: v, Label: ns + " in " + cluster})
	}
	inPortal := map[string]bool{}
	if p, err := r.portal(); err == nil {
		for _, prj := range p.Projects {
			inPortal[prj.Name] = true
			for _, n := range prj.Namespaces {
				cl, ns, ok := strings.Cut(n, "/")
				if ok {
					add(prj.Name, projectLabel(prj.Name, prj.DisplayName), cl, ns)
				}
			}
		}
	}
	path := ""
	switch {
	case project != "" && !inPortal[project]:
		path = businessAPI + "/namespaces/" + url.PathEscape(project) + "/namespaces"
	case section == "platform":
		// Every project's namespace the user may list (none: the API
		// refuses, and the portal's are the choices).
		path = businessAPI + "/namespaces"
	}
	if path != "" {
		var l businessv1.NamespaceList
		if code, _ := r.getJSON(path, &l); code == http.StatusOK {
			for _, n := range l.Items {
				prj := n.Spec.ProjectName
				if prj == "" {
					prj = n.Namespace
				}
				add(prj, prj, n.Spec.ClusterName, n.Spec.Namespace)
			}
		}
	}
	sort.Strings(order)
	out := make([]targetGroup, 0, len(order))
	for _, prj := range order {
		g := groups[prj]
		sort.Slice(g.Options, func(i, j int) bool { return g.Options[i].Label < g.Options[j].Label })
		out = append(out, *g)
	}
	return out
}

// HasTargets reports a choice of namespaces.
func (f appForm) HasTargets() bool { return len(f.Targets) > 0 }

// chartChoices are the charts the user may pull from, as GROUP/CHART.
func (r *request) chartChoices(keep string) []choice {
	var l registryv1.ChartList
	var out []choice
	found := false
	if code, _ := r.getJSON(chartsAPI, &l); code == http.StatusOK {
		for _, c := range l.Items {
			v := c.ChartGroup + "/" + c.Name
			found = found || v == keep
			label := c.Name + " (" + c.ChartGroup + ")"
			if c.LatestVersion != "" {
				label += " · " + c.LatestVersion
			}
			out = append(out, choice{Value: v, Label: label})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	if keep != "" && !found {
		out = append([]choice{{Value: keep, Label: keep}}, out...)
	}
	return out
}

// splitChart parses GROUP/CHART.
func splitChart(s string) (group, chart string, ok bool) {
	group, chart, ok = strings.Cut(s, "/")
	if !ok || group == "" || chart == "" || strings.ContainsAny(chart, "/?#:\\ ") || !registryNSName.MatchString(group) {
		return "", "", false
	}
	return group, chart, true
}

// chartVersions are a chart's versions, newest first, as choices.
func (r *request) chartVersions(group, chart string) ([]choice, string) {
	var vl registryv1.ChartVersionList
	if code, msg := r.getJSON(chartAPI(group, chart), &vl); code != http.StatusOK {
		return nil, msg
	}
	var out []choice
	for i, v := range vl.Items {
		label := v.Version
		if v.AppVersion != "" {
			label += " (app " + v.AppVersion + ")"
		}
		if i == 0 {
			label += " · newest"
		}
		out = append(out, choice{Value: v.Version, Label: label})
	}
	if len(out) == 0 {
		return nil, "chart " + group + "/" + chart + " has no versions"
	}
	return out, ""
}

// fillChoices adds the form's choices; withDefaults also reads the chosen
// chart version's default values.
func (r *request) fillChoices(f *appForm, withDefaults bool) {
	f.Targets = r.appTargets(f.Scope.Section, f.Project)
	f.Charts = r.chartChoices(f.Chart)
	if group, chart, ok := splitChart(f.Chart); ok {
		f.Versions, f.VersionsErr = r.chartVersions(group, chart)
		if f.Version == "" && len(f.Versions) > 0 {
			f.Version = f.Versions[0].Value
		}
		if f.Version != "" && !hasChoice(f.Versions, f.Version) {
			f.Versions = append([]choice{{Value: f.Version, Label: f.Version}}, f.Versions...)
		}
		f.ChartURL = f.Scope.Chart(group, chart, f.Version)
		if withDefaults && validVersion(f.Version) {
			var det registryv1.ChartDetail
			if code, _ := r.getJSON(chartAPI(group, chart)+"/versions/"+url.PathEscape(f.Version), &det); code == http.StatusOK {
				f.Defaults = &det
			}
		}
	}
}

func hasChoice(cs []choice, v string) bool {
	for _, c := range cs {
		if c.Value == v {
			return true
		}
	}
	return false
}

func (s *Server) appFormPage(w http.ResponseWriter, r *request) {
	sc := r.helmScope()
	q := r.URL.Query()
	f := appForm{Scope: sc, Project: q.Get("project"), Cluster: q.Get("cluster"), Namespace: q.Get("namespace"), Version: q.Get("version"), Errors: map[string]string{}}
	if f.Project != "" && !validProject(f.Project) {
		f.Project = ""
	}
	if g, c := q.Get("group"), q.Get("chart"); g != "" && c != "" {
		f.Chart = g + "/" + c
	}
	if f.Version != "" && !validVersion(f.Version) {
		f.Version = ""
	}
	r.fillChoices(&f, true)
	// The target: the one asked for, else the project's first namespace.
	if f.Project != "" {
		for _, g := range f.Targets {
			for _, o := range g.Options {
				prj, rest, _ := strings.Cut(o.Value, "/")
				if prj != f.Project {
					continue
				}
				if f.Target == "" || (f.Cluster != "" && f.Namespace != "" && rest == f.Cluster+"/"+f.Namespace) {
					f.Target = o.Value
				}
			}
		}
	}
	s.renderAppForm(w, r, f)
}

func (s *Server) renderAppForm(w http.ResponseWriter, r *request, f appForm) {
	sc := f.Scope
	crumbs := []crumb{{"Helm applications", sc.Apps()}, {"New application", sc.Apps() + "/new"}}
	r.page(w, "appnew", sc.Section, "New Helm application", f, crumbs...)
}

// appVersionField is the version select of a chart (htmx: when the chart
// select changes).
func (s *Server) appVersionField(w http.ResponseWriter, r *request) {
	f := appForm{Scope: r.helmScope(), Chart: r.URL.Query().Get("chart"), Errors: map[string]string{}}
	if group, chart, ok := splitChart(f.Chart); ok {
		f.Versions, f.VersionsErr = r.chartVersions(group, chart)
		if len(f.Versions) > 0 {
			f.Version = f.Versions[0].Value
		}
		f.ChartURL = f.Scope.Chart(group, chart, f.Version)
	}
	r.fragment(w, http.StatusOK, "appnew", "versionfield", f)
}

// parseAppForm reads the form into an App (nil when a field is wrong).
// The secret values go into the App, never into the form.
func parseAppForm(sc helmScope, form url.Values) (appForm, *applicationv1.App) {
	get := func(k string) string { return strings.TrimSpace(form.Get(k)) }
	f := appForm{Scope: sc, Name: get("name"), Target: get("target"), Project: get("project"), Cluster: get("cluster"), Namespace: get("namespace"),
		Chart: get("chart"), Version: get("version"), Values: form.Get("values"), Wait: form.Get("wait") == "true", Timeout: get("timeout"),
		SecretGiven: strings.TrimSpace(form.Get("secretValues")) != "", Errors: map[string]string{}}
	switch {
	case f.Name == "":
		f.Errors["name"] = "name the application: 1 to 63 lower-case letters, digits and '-', starting with a letter, e.g. web"
	case !appNameRE.MatchString(f.Name):
		f.Errors["name"] = "1 to 63 lower-case letters, digits and '-', starting with a letter and ending with a letter or digit"
	}
	if f.Target != "" {
		parts := strings.SplitN(f.Target, "/", 3)
		if len(parts) == 3 {
			f.Project, f.Cluster, f.Namespace = parts[0], parts[1], parts[2]
		}
	}
	if f.Project == "" || f.Cluster == "" || f.Namespace == "" {
		f.Errors["target"] = "choose the project, cluster and namespace to install into"
	} else if !validProject(f.Project) {
		f.Errors["target"] = fmt.Sprintf("no project %q", f.Project)
	}
	group, chart, ok := splitChart(f.Chart)
	if !ok {
		f.Errors["chart"] = "choose the chart to install"
	}
	if f.Version != "" && !validVersion(f.Version) {
		f.Errors["version"] = fmt.Sprintf("no version %q", f.Version)
	}
	timeout, msg := parseAppTimeout(f.Timeout)
	if msg != "" {
		f.Errors["timeout"] = msg
	}
	if len(f.Errors) > 0 {
		return f, nil
	}
	app := &applicationv1.App{TypeMeta: metav1.TypeMeta{APIVersion: applicationv1.GroupVersion.String(), Kind: "App"},
		ObjectMeta: metav1.ObjectMeta{Name: f.Name, Namespace: f.Project},
		Spec: applicationv1.AppSpec{Type: applicationv1.HelmV3, TargetCluster: f.Cluster, TargetNamespace: f.Namespace,
			Chart:  applicationv1.Chart{ChartGroupName: group, ChartName: chart, ChartVersion: f.Version},
			Values: appValues(f.Values, form.Get("secretValues")), Wait: f.Wait, Timeout: timeout}}
	return f, app
}

func appValues(raw, secret string) applicationv1.AppValues {
	v := applicationv1.AppValues{SecretValues: secret}
	if strings.TrimSpace(raw) != "" {
		v.RawValues, v.RawValuesType = raw, "yaml"
	}
	if strings.TrimSpace(secret) == "" {
		v.SecretValues = ""
	}
	return v
}

// parseAppTimeout reads an operation's timeout ("": the platform's 5m).
func parseAppTimeout(s string) (*metav1.Duration, string) {
	if s == "" {
		return nil, ""
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > time.Hour {
		return nil, fmt.Sprintf("%q: a duration up to 1h, such as 5m or 90s", s)
	}
	return &metav1.Duration{Duration: d}, ""
}

// appField is the form field an API refusal names ("" none).
func appField(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.HasPrefix(m, "metadata.name"), strings.HasPrefix(m, "spec.name"), strings.Contains(m, "already exists in project"), strings.Contains(m, "release name"):
		return "name"
	case strings.HasPrefix(m, "spec.values.secretvalues"):
		return "secretValues"
	case strings.HasPrefix(m, "spec.values"), strings.HasPrefix(m, "the values do not fit"):
		return "values"
	case strings.HasPrefix(m, "spec.chart.chartversion"):
		return "version"
	case strings.HasPrefix(m, "spec.chart"):
		return "chart"
	case strings.HasPrefix(m, "spec.target"), strings.Contains(m, "is not a namespace of project"), strings.HasPrefix(m, "project "):
		return "target"
	case strings.HasPrefix(m, "spec.timeout"):
		return "timeout"
	}
	return ""
}

// refusal puts an API refusal into the form: its words above, and a
// pointer next to the field it names.
func refusal(errs map[string]string, code int, out []byte) string {
	msg := statusMessage(code, out)
	if field := appField(msg); field != "" {
		errs[field] = "the platform refused this: see the message above"
	}
	return msg
}

// installApp installs an application, or renders it (action=dryrun).
func (s *Server) installApp(w http.ResponseWriter, r *request) {
	sc := r.helmScope()
	_ = r.ParseForm()
	dryRun := r.PostForm.Get("action") == "dryrun"
	f, app := parseAppForm(sc, r.PostForm)
	if app != nil && app.Spec.Chart.ChartVersion == "" {
		// The chart's newest version, as the CLI does.
		versions, msg := r.chartVersions(app.Spec.Chart.ChartGroupName, app.Spec.Chart.ChartName)
		if len(versions) == 0 {
			f.Errors["version"] = "choose a version"
			f.Error, app = msg, nil
		} else {
			app.Spec.Chart.ChartVersion, f.Version = versions[0].Value, versions[0].Value
		}
	}
	if app != nil {
		app.Spec.DryRun = dryRun
		body, _ := json.Marshal(app)
		code, out := r.call(http.MethodPost, appsAPI(app.Namespace), body)
		switch {
		case code == http.StatusUnauthorized:
			s.fail(w, r.Request, code, statusMessage(code, out))
			return
		case dryRun && code == http.StatusOK:
			var res applicationv1.App
			if err := json.Unmarshal(out, &res); err != nil {
				f.Error = "the platform's answer could not be read: " + err.Error()
				break
			}
			f.Manifest, f.DryRunMessage = maskSecrets(res.Status.Manifest, r.PostForm.Get("secretValues")), res.Status.Message
			if f.DryRunMessage == "" {
				f.DryRunMessage = "dry run: nothing was installed"
			}
			s.appFormResult(w, r, f)
			return
		case !dryRun && (code == http.StatusCreated || code == http.StatusOK):
			var res applicationv1.App
			_ = json.Unmarshal(out, &res)
			s.Log.Info("console app installed", "project", app.Namespace, "name", app.Name, "chart", app.Spec.Chart.ChartGroupName+"/"+app.Spec.Chart.ChartName,
				"version", app.Spec.Chart.ChartVersion, "by", r.user.Name())
			notice := "Application " + app.Name + " installed"
			if res.Status.Message != "" {
				notice += ": " + res.Status.Message
			}
			redirect(w, r.Request, sc.App(app.Namespace, app.Name)+"?notice="+url.QueryEscape(notice))
			return
		default:
			f.Error = refusal(f.Errors, code, out)
		}
	}
	if f.Error == "" {
		f.Error = "the application could not be installed: see the fields marked"
		if dryRun {
			f.Error = "the application could not be rendered: see the fields marked"
		}
	}
	s.appFormResult(w, r, f)
}

// appFormResult answers the form: for htmx only the result under it (and
// the fields' error spans, out of band), so the browser keeps what was
// typed; otherwise the whole page, filled in again but for the secret
// values.
func (s *Server) appFormResult(w http.ResponseWriter, r *request, f appForm) {
	if isHTMX(r.Request) {
		r.fragment(w, http.StatusOK, "appnew", "appanswer", f)
		return
	}
	r.fillChoices(&f, false)
	s.renderAppForm(w, r, f)
}

// ---- An application ----

var appTabs = []struct{ Name, Title string }{
	{"resources", "Resources"}, {"details", "Details"}, {"history", "History"}, {"upgrade", "Upgrade"},
}

type appData struct {
	Scope         helmScope
	Project, Name string
	App           *applicationv1.App
	Row           appRow
	URL           string
	Tab           string
	Tabs          []tab
	CanUpdate     bool
	CanDelete     bool
	LastOperation string
	SecretKeys    string
	Created       string

	Resources         []appResourceRow
	ResourcesRevision int
	ResourcesErr      string

	History    []appRevisionRow
	HistoryErr string
	Revisions  []int
	From, To   int
	Diff       *appDiff
	DiffErr    string

	Upgrade upgradeForm
}

type appResourceRow struct {
	Kind, APIVersion, Namespace, Name, Status, Message, URL string
}

type appRevisionRow struct {
	Revision                                          int
	Status, Chart, Version, AppVersion, Updated, Desc string
	Current                                           bool
}

type appDiff struct {
	From, To             int
	Lines                []diffLine
	FromValues, ToValues string
	Same                 bool
}

type diffLine struct{ Text, Class string }

// upgradeForm is the upgrade's form as typed; secret values are never put
// back into it.
type upgradeForm struct {
	Version, Values, Timeout string
	Wait                     bool
	SecretGiven              bool
	Versions                 []choice
	VersionsErr              string
	Error                    string
	Errors                   map[string]string
}

// FieldErrors are the upgrade form's error spans (up-err-FIELD).
func (f upgradeForm) FieldErrors() [][2]string {
	out := [][2]string{}
	for _, k := range []string{"version", "values", "secretValues", "timeout"} {
		out = append(out, [2]string{k, f.Errors[k]})
	}
	return out
}

// appParams are the path's project and application, or a 404.
func (r *request) appParams(w http.ResponseWriter) (string, string, bool) {
	project, name := r.PathValue("project"), r.PathValue("name")
	if !validProject(project) || !appNameRE.MatchString(name) {
		r.s.fail(w, r.Request, http.StatusNotFound, fmt.Sprintf("application %q not found in project %q", name, project))
		return "", "", false
	}
	return project, name, true
}

func (s *Server) appPage(w http.ResponseWriter, r *request) {
	project, name, ok := r.appParams(w)
	if !ok {
		return
	}
	s.renderApp(w, r, project, name, r.URL.Query().Get("tab"), nil)
}

// renderApp shows an application's page on a tab; up is the upgrade form
// sent back with its refusal.
func (s *Server) renderApp(w http.ResponseWriter, r *request, project, name, tabName string, up *upgradeForm) {
	sc := r.helmScope()
	var app applicationv1.App
	if code, msg := r.getJSON(appAPI(project, name), &app); code != http.StatusOK {
		s.fail(w, r.Request, code, msg)
		return
	}
	app.Spec.Values.SecretValues = "" // never served; never shown
	d := appData{Scope: sc, Project: project, Name: name, App: &app, Row: appRowOf(sc, &app), URL: sc.App(project, name),
		CanUpdate:  r.can(project, "updateApp", "namespace:"+project+"/app:"+name),
		CanDelete:  r.can(project, "deleteApp", "namespace:"+project+"/app:"+name),
		SecretKeys: strings.Join(app.Spec.Values.SecretKeys, ", "), Created: pushedAt(&app.CreationTimestamp)}
	if op := app.Status.LastOperation; op != nil {
		d.LastOperation = op.Type + " by " + op.User + ", started " + op.StartedAt.UTC().Format("2006-01-02 15:04:05") + " UTC"
		if op.FinishedAt != nil {
			d.LastOperation += ", finished " + op.FinishedAt.UTC().Format("2006-01-02 15:04:05") + " UTC"
		}
		if op.Result != "" {
			d.LastOperation += ": " + op.Result
		}
	}
	d.Tab = "resources"
	for _, t := range appTabs {
		if t.Name == "upgrade" && !d.CanUpdate {
			continue
		}
		if t.Name == tabName {
			d.Tab = t.Name
		}
	}
	for _, t := range appTabs {
		if t.Name == "upgrade" && !d.CanUpdate {
			continue
		}
		d.Tabs = append(d.Tabs, tab{Name: t.Name, Title: t.Title, URL: d.URL + "?tab=" + t.Name, Current: t.Name == d.Tab})
	}
	switch d.Tab {
	case "resources":
		var l applicationv1.AppResourceList
		if code, msg := r.getJSON(appAPI(project, name)+"/resources", &l); code == http.StatusOK {
			d.ResourcesRevision = l.Revision
			for _, res := range l.Items {
				row := appResourceRow{Kind: res.Kind, APIVersion: res.APIVersion, Namespace: res.Namespace, Name: res.Name, Status: res.Status, Message: res.Message}
				if k := kindPage(res.Kind); k != "" && res.Namespace != "" && res.Status != "Missing" {
					row.URL = nsURL(app.Spec.TargetCluster, res.Namespace) + "/" + k + "/" + url.PathEscape(res.Name)
				}
				d.Resources = append(d.Resources, row)
			}
		} else {
			d.ResourcesErr = msg
		}
	case "history":
		s.appHistory(r, &d)
	case "upgrade":
		if up == nil {
			up = &upgradeForm{Version: app.Spec.Chart.ChartVersion, Values: app.Spec.Values.RawValues, Wait: app.Spec.Wait, Errors: map[string]string{}}
			if app.Spec.Timeout != nil {
				up.Timeout = app.Spec.Timeout.Duration.String()
			}
		}
		up.Versions, up.VersionsErr = r.chartVersions(app.Spec.Chart.ChartGroupName, app.Spec.Chart.ChartName)
		if up.Version != "" && !hasChoice(up.Versions, up.Version) {
			up.Versions = append([]choice{{Value: up.Version, Label: up.Version}}, up.Versions...)
		}
		d.Upgrade = *up
	}
	r.page(w, "app", sc.Section, "Application "+name, d, crumb{"Helm applications", sc.Apps() + "?project=" + url.QueryEscape(project)}, crumb{name, d.URL})
}

// kindPage is the console's page segment of a member's kind ("" none).
func kindPage(kind string) string {
	for _, k := range namespaceKinds {
		if kinds[k] != nil && kinds[k].Kind == kind && k != "events" {
			return k
		}
	}
	return ""
}

// appHistory reads the revisions and, for two of them (the query's from
// and to, else the two newest), the values diff.
func (s *Server) appHistory(r *request, d *appData) {
	var h applicationv1.AppHistory
	if code, msg := r.getJSON(appAPI(d.Project, d.Name)+"/histories", &h); code != http.StatusOK {
		d.HistoryErr = msg
		return
	}
	for _, rv := range h.Items {
		row := appRevisionRow{Revision: rv.Revision, Status: rv.Status, Chart: rv.Chart, Version: rv.ChartVersion, AppVersion: rv.AppVersion,
			Updated: pushedAt(rv.Updated), Desc: rv.Description, Current: rv.Revision == d.App.Status.Revision}
		d.History = append(d.History, row)
		d.Revisions = append(d.Revisions, rv.Revision)
	}
	q := r.URL.Query()
	from, _ := strconv.Atoi(q.Get("from"))
	to, _ := strconv.Atoi(q.Get("to"))
	if from < 1 || to < 1 {
		if q.Get("from") != "" || q.Get("to") != "" {
			d.DiffErr = "choose two revisions to compare"
			return
		}
		if len(d.Revisions) < 2 {
			return
		}
		to, from = d.Revisions[0], d.Revisions[1]
	}
	d.From, d.To = from, to
	var diff applicationv1.AppValuesDiff
	path := appAPI(d.Project, d.Name) + "/diff?" + url.Values{"from": {strconv.Itoa(from)}, "to": {strconv.Itoa(to)}}.Encode()
	if code, msg := r.getJSON(path, &diff); code != http.StatusOK {
		d.DiffErr = msg
		return
	}
	ad := &appDiff{From: diff.From, To: diff.To, FromValues: diff.FromValues, ToValues: diff.ToValues, Same: strings.TrimSpace(diff.Diff) == ""}
	for _, line := range strings.Split(strings.TrimRight(diff.Diff, "\n"), "\n") {
		if line == "" && ad.Same {
			continue
		}
		cls := ""
		switch {
		case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
			cls = "diff-file"
		case strings.HasPrefix(line, "@@"):
			cls = "diff-hunk"
		case strings.HasPrefix(line, "+"):
			cls = "diff-add"
		case strings.HasPrefix(line, "-"):
			cls = "diff-del"
		}
		ad.Lines = append(ad.Lines, diffLine{Text: line, Class: cls})
	}
	d.Diff = ad
}

// appAction runs an operation on an application: upgrade, rollback or
// delete (uninstall).
func (s *Server) appAction(w http.ResponseWriter, r *request) {
	project, name, ok := r.appParams(w)
	if !ok {
		return
	}
	switch r.PathValue("op") {
	case "upgrade":
		s.upgradeApp(w, r, project, name)
	case "rollback":
		s.rollbackApp(w, r, project, name)
	case "delete":
		s.uninstallApp(w, r, project, name)
	default:
		s.fail(w, r.Request, http.StatusNotFound, fmt.Sprintf("no operation %q", r.PathValue("op")))
	}
}

func (s *Server) upgradeApp(w http.ResponseWriter, r *request, project, name string) {
	sc := r.helmScope()
	_ = r.ParseForm()
	form := r.PostForm
	up := upgradeForm{Version: strings.TrimSpace(form.Get("version")), Values: form.Get("values"), Timeout: strings.TrimSpace(form.Get("timeout")),
		Wait: form.Get("wait") == "true", SecretGiven: strings.TrimSpace(form.Get("secretValues")) != "", Errors: map[string]string{}}
	if up.Version == "" || !validVersion(up.Version) {
		up.Errors["version"] = "choose the chart version to upgrade to"
	}
	timeout, msg := parseAppTimeout(up.Timeout)
	if msg != "" {
		up.Errors["timeout"] = msg
	}
	if len(up.Errors) == 0 {
		var cur applicationv1.App
		code, msg := r.getJSON(appAPI(project, name), &cur)
		if code != http.StatusOK {
			s.fail(w, r.Request, code, msg)
			return
		}
		app := applicationv1.App{TypeMeta: metav1.TypeMeta{APIVersion: applicationv1.GroupVersion.String(), Kind: "App"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: project},
			Spec: applicationv1.AppSpec{Chart: applicationv1.Chart{ChartGroupName: cur.Spec.Chart.ChartGroupName, ChartName: cur.Spec.Chart.ChartName, ChartVersion: up.Version},
				Values: appValues(up.Values, form.Get("secretValues")), Wait: up.Wait, Timeout: timeout}}
		body, _ := json.Marshal(&app)
		code, out := r.call(http.MethodPut, appAPI(project, name), body)
		switch code {
		case http.StatusOK:
			var res applicationv1.App
			_ = json.Unmarshal(out, &res)
			s.Log.Info("console app upgraded", "project", project, "name", name, "version", up.Version, "by", r.user.Name())
			notice := "Application " + name + " upgraded"
			if res.Status.Message != "" {
				notice = "Application " + name + ": " + res.Status.Message
			}
			redirect(w, r.Request, sc.App(project, name)+"?tab=history&notice="+url.QueryEscape(notice))
			return
		case http.StatusUnauthorized:
			s.fail(w, r.Request, code, statusMessage(code, out))
			return
		}
		up.Error = refusal(up.Errors, code, out)
	}
	if up.Error == "" {
		up.Error = "the application could not be upgraded: see the fields marked"
	}
	if isHTMX(r.Request) {
		r.fragment(w, http.StatusOK, "app", "upgraderesult", up)
		return
	}
	s.renderApp(w, r, project, name, "upgrade", &up)
}

func (s *Server) rollbackApp(w http.ResponseWriter, r *request, project, name string) {
	sc := r.helmScope()
	rev, err := strconv.Atoi(r.PostFormValue("revision"))
	if err != nil || rev < 1 {
		s.fail(w, r.Request, http.StatusBadRequest, "choose the revision to roll back to")
		return
	}
	body, _ := json.Marshal(applicationv1.AppRollback{Revision: rev})
	code, out := r.call(http.MethodPost, appAPI(project, name)+"/rollback", body)
	if code != http.StatusOK {
		s.fail(w, r.Request, code, statusMessage(code, out))
		return
	}
	var res applicationv1.App
	_ = json.Unmarshal(out, &res)
	s.Log.Info("console app rolled back", "project", project, "name", name, "revision", rev, "by", r.user.Name())
	notice := fmt.Sprintf("Application %s rolled back to revision %d", name, rev)
	if res.Status.Message != "" {
		notice = "Application " + name + ": " + res.Status.Message
	}
	redirect(w, r.Request, sc.App(project, name)+"?tab=history&notice="+url.QueryEscape(notice))
}

func (s *Server) uninstallApp(w http.ResponseWriter, r *request, project, name string) {
	sc := r.helmScope()
	if r.PostFormValue("confirm") != name {
		s.fail(w, r.Request, http.StatusUnprocessableEntity, "type the name "+name+" to confirm the uninstall")
		return
	}
	code, out := r.call(http.MethodDelete, appAPI(project, name), nil)
	if code != http.StatusOK && code != http.StatusAccepted {
		s.fail(w, r.Request, code, statusMessage(code, out))
		return
	}
	s.Log.Info("console app uninstalled", "project", project, "name", name, "by", r.user.Name())
	redirect(w, r.Request, sc.Apps()+"?"+url.Values{"project": {project}, "notice": {"Application " + name + " uninstalled"}}.Encode())
}

// maskSecrets hides the secret values typed (and their base64, as a
// Secret's data holds them) in a dry run's manifest: the console shows no
// secret value, not even back to whoever typed it. Values shorter than 4
// characters are left (they would mask half the manifest).
func maskSecrets(manifest, secretYAML string) string {
	if strings.TrimSpace(secretYAML) == "" || manifest == "" {
		return manifest
	}
	var doc any
	if err := yaml.Unmarshal([]byte(secretYAML), &doc); err != nil {
		return manifest
	}
	var leaves []string
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, c := range t {
				walk(c)
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		case nil, bool:
		default:
			if s := fmt.Sprint(t); len(s) >= 4 {
				leaves = append(leaves, s, base64.StdEncoding.EncodeToString([]byte(s)))
			}
		}
	}
	walk(doc)
	sort.Slice(leaves, func(i, j int) bool { return len(leaves[i]) > len(leaves[j]) })
	for _, l := range leaves {
		manifest = strings.ReplaceAll(manifest, l, "******")
	}
	return manifest
}
