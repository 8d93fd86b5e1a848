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

	authv1 "github.com/kstack/kstack/api/auth/v1"
	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/printer"
)

// The "Helm templates" pages (seed 004 §4.2.5.2): the charts the user may
// pull from, in tabs by their group's visibility (All, User, Project,
// Public); a chart's page (its versions, README, default values and values
// schema, and an Install button that opens the application form filled
// in); and the "Repositories" tab: chart groups, with a create form
// (self-built, or imported from a third-party repository whose password
// is never shown back), a sync, a delete and the upload guide. The
// "Helm applications" pages are in apps.go. Both are in both consoles, as
// the registry's pages are, and everything goes through the registry and
// application groups' APIs as the user (internal/registryapi,
// internal/applicationapi), which decide; the decision point is asked only
// to hide buttons.

const (
	chartGroupsAPI      = registryAPI + "/chartgroups"
	chartGroupPortalAPI = registryAPI + "/chartgroupportal"
	chartsAPI           = registryAPI + "/charts"
)

func (s *Server) helmRoutes(mux *http.ServeMux) { s.helmRoutesWith(mux, s.authed) }

// helmRoutesWith adds the chart and application routes with each handler
// wrapped by authed (tests serve them as a fixed user). Pages below a
// business console's section have at most two segments, or end in a
// literal: the business console's namespace pages
// (/console/business/{cluster}/{ns}/…) take the rest.
func (s *Server) helmRoutesWith(mux *http.ServeMux, authed func(handlerFunc) http.Handler) {
	for _, root := range []string{Prefix + "/platform", Prefix + "/business"} {
		mux.Handle("GET "+root+"/charts", authed(s.chartsPage))
		mux.Handle("GET "+root+"/chartgroups", authed(s.chartGroupsPage))
		mux.Handle("POST "+root+"/chartgroups", authed(s.createChartGroup))
		mux.Handle("GET "+root+"/chartgroups/{group}", authed(s.chartGroupPage))
		mux.Handle("POST "+root+"/chartgroups/{group}/sync", authed(s.syncChartGroup))
		mux.Handle("POST "+root+"/chartgroups/{group}/delete", authed(s.deleteChartGroup))
		mux.Handle("GET "+root+"/chartgroups/{group}/charts/{chart}", authed(s.chartPage))
		mux.Handle("POST "+root+"/chartgroups/{group}/charts/{chart}/delete", authed(s.deleteChart))
		mux.Handle("GET "+root+"/apps", authed(s.appsPage))
		mux.Handle("POST "+root+"/apps", authed(s.installApp))
		mux.Handle("GET "+root+"/apps/new", authed(s.appFormPage))
		mux.Handle("GET "+root+"/apps/new/versions", authed(s.appVersionField))
		mux.Handle("GET "+root+"/projects/{project}/apps/{name}", authed(s.appPage))
		mux.Handle("POST "+root+"/projects/{project}/apps/{name}/{op}", authed(s.appAction))
	}
}

// helmScope is which console a chart or application page is shown in.
type helmScope struct {
	Section, Root string
}

func (r *request) helmScope() helmScope {
	if strings.HasPrefix(r.URL.Path, Prefix+"/business/") {
		return helmScope{Section: "business", Root: Prefix + "/business"}
	}
	return helmScope{Section: "platform", Root: Prefix + "/platform"}
}

// Charts is the "Helm templates" page.
func (h helmScope) Charts() string { return h.Root + "/charts" }

// Groups is the "Repositories" tab.
func (h helmScope) Groups() string { return h.Root + "/chartgroups" }

// Apps is the "Helm applications" page.
func (h helmScope) Apps() string { return h.Root + "/apps" }

// Group is a chart group's page.
func (h helmScope) Group(name string) string { return h.Groups() + "/" + url.PathEscape(name) }

// Chart is a chart's page (version "": its newest).
func (h helmScope) Chart(group, chart, version string) string {
	u := h.Group(group) + "/charts/" + url.PathEscape(chart)
	if version != "" {
		u += "?" + url.Values{"version": {version}}.Encode()
	}
	return u
}

// Install is the application form filled in with a chart version.
func (h helmScope) Install(group, chart, version string) string {
	q := url.Values{"group": {group}, "chart": {chart}}
	if version != "" {
		q.Set("version", version)
	}
	return h.Apps() + "/new?" + q.Encode()
}

// App is an application's page.
func (h helmScope) App(project, name string) string {
	return h.Root + "/projects/" + url.PathEscape(project) + "/apps/" + url.PathEscape(name)
}

// helmTabs are the "Templates" and "Repositories" tabs of the Helm
// templates page.
func (h helmScope) helmTabs(current string) []tab {
	return []tab{{Name: "charts", Title: "Templates", URL: h.Charts(), Current: current == "charts"},
		{Name: "chartgroups", Title: "Repositories", URL: h.Groups(), Current: current == "chartgroups"}}
}

// groupParam is the path's chart group, or a 404 (the name rule of
// registry namespaces, which chart groups share).
func (r *request) groupParam(w http.ResponseWriter) (string, bool) {
	g := r.PathValue("group")
	if len(g) < 2 || len(g) > 63 || !registryNSName.MatchString(g) {
		r.s.fail(w, r.Request, http.StatusNotFound, fmt.Sprintf("chartgroup %q not found", g))
		return "", false
	}
	return g, true
}

// chartParam is the path's chart, or a 404.
func (r *request) chartParam(w http.ResponseWriter) (string, bool) {
	c := r.PathValue("chart")
	if c == "" || len(c) > 128 || strings.ContainsAny(c, ":?#/\\ ") {
		r.s.fail(w, r.Request, http.StatusNotFound, fmt.Sprintf("no chart %q", c))
		return "", false
	}
	return c, true
}

// validVersion reports a chart version that may go into a path.
func validVersion(v string) bool {
	return v != "" && len(v) <= 128 && !strings.ContainsAny(v, "/\\?#: ")
}

func chartAPI(group, chart string) string {
	return chartGroupsAPI + "/" + url.PathEscape(group) + "/charts/" + url.PathEscape(chart)
}

func chartVisibility(v registryv1.ChartGroupVisibility) string {
	if v == "" {
		return string(registryv1.VisibilityUser)
	}
	return string(v)
}

// ---- Templates: the charts, by visibility ----

type chartsData struct {
	Scope helmScope
	Tabs  []tab
	// Visibility is the tab: "" (all), User, Project or Public.
	Visibility string
	VisTabs    []tab
	Rows       []chartRow
	Err        string
}

type chartRow struct {
	Name, Group, Latest, AppVersion, Description, Visibility, Pushed, Pull string
	Versions                                                               int
	URL, GroupURL, InstallURL                                              string
}

// chartVisibilityTabs are the seed's tabs: all, user, project (业务) and
// public templates.
var chartVisibilityTabs = []struct{ Value, Title string }{
	{"", "All"}, {string(registryv1.VisibilityUser), "User"}, {string(registryv1.VisibilityProject), "Project"}, {string(registryv1.VisibilityPublic), "Public"},
}

func (s *Server) chartsPage(w http.ResponseWriter, r *request) {
	sc := r.helmScope()
	d := chartsData{Scope: sc, Tabs: sc.helmTabs("charts")}
	vis := r.URL.Query().Get("visibility")
	known := false
	for _, t := range chartVisibilityTabs {
		known = known || t.Value == vis
	}
	if !known {
		vis = ""
	}
	d.Visibility = vis
	for _, t := range chartVisibilityTabs {
		u := sc.Charts()
		if t.Value != "" {
			u += "?visibility=" + url.QueryEscape(t.Value)
		}
		d.VisTabs = append(d.VisTabs, tab{Name: strings.ToLower(t.Title), Title: t.Title, URL: u, Current: t.Value == vis})
	}
	path := chartsAPI
	if vis != "" {
		path += "?visibility=" + url.QueryEscape(vis)
	}
	var l registryv1.ChartList
	if code, msg := r.getJSON(path, &l); code == http.StatusUnauthorized {
		s.fail(w, r.Request, code, msg)
		return
	} else if msg != "" {
		d.Err = msg
	}
	sort.Slice(l.Items, func(i, j int) bool {
		a, b := l.Items[i], l.Items[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ChartGroup < b.ChartGroup
	})
	for _, c := range l.Items {
		d.Rows = append(d.Rows, chartRowOf(sc, c))
	}
	r.page(w, "charts", sc.Section, "Helm templates", d, crumb{"Helm templates", sc.Charts()})
}

func chartRowOf(sc helmScope, c registryv1.Chart) chartRow {
	return chartRow{Name: c.Name, Group: c.ChartGroup, Latest: c.LatestVersion, AppVersion: c.AppVersion, Description: c.Description,
		Visibility: chartVisibility(c.Visibility), Pushed: pushedAt(c.PushedAt), Pull: c.Pull, Versions: c.Versions,
		URL: sc.Chart(c.ChartGroup, c.Name, ""), GroupURL: sc.Group(c.ChartGroup), InstallURL: sc.Install(c.ChartGroup, c.Name, c.LatestVersion)}
}

// ---- A chart: versions, README, values, schema ----

type chartData struct {
	Scope        helmScope
	Group, Chart string
	Version      string
	Versions     []chartVersionRow
	Detail       *registryv1.ChartDetail
	DetailErr    string
	InstallURL   string
	GroupURL     string
	DeleteURL    string
	CanDelete    bool
	PullCmd      string
}

type chartVersionRow struct {
	Version, AppVersion, Description, Digest, Size, Pushed, URL string
	Current                                                     bool
}

func (s *Server) chartPage(w http.ResponseWriter, r *request) {
	sc := r.helmScope()
	group, ok := r.groupParam(w)
	if !ok {
		return
	}
	chart, ok := r.chartParam(w)
	if !ok {
		return
	}
	var vl registryv1.ChartVersionList
	if code, msg := r.getJSON(chartAPI(group, chart), &vl); code != http.StatusOK {
		s.fail(w, r.Request, code, msg)
		return
	}
	d := chartData{Scope: sc, Group: group, Chart: chart, Version: r.URL.Query().Get("version"), GroupURL: sc.Group(group),
		DeleteURL: sc.Group(group) + "/charts/" + url.PathEscape(chart) + "/delete"}
	if d.Version == "" && len(vl.Items) > 0 {
		d.Version = vl.Items[0].Version
	}
	d.CanDelete = r.canCharts(r.chartGroup(group), "deleteRepository")
	for _, v := range vl.Items {
		d.Versions = append(d.Versions, chartVersionRow{Version: v.Version, AppVersion: v.AppVersion, Description: v.Description, Digest: v.Digest,
			Size: printer.Bytes(v.Size), Pushed: pushedAt(v.PushedAt), URL: sc.Chart(group, chart, v.Version), Current: v.Version == d.Version})
	}
	switch {
	case d.Version == "":
		d.DetailErr = "this chart has no versions"
	case !validVersion(d.Version):
		d.DetailErr = fmt.Sprintf("no version %q", d.Version)
	default:
		var det registryv1.ChartDetail
		if code, msg := r.getJSON(chartAPI(group, chart)+"/versions/"+url.PathEscape(d.Version), &det); code == http.StatusOK {
			d.Detail = &det
			if det.Pull != "" {
				d.PullCmd = "helm pull " + det.Pull + " --version " + det.Version
			}
		} else {
			d.DetailErr = msg
		}
		d.InstallURL = sc.Install(group, chart, d.Version)
	}
	r.page(w, "chart", sc.Section, "Chart "+group+"/"+chart, d,
		crumb{"Helm templates", sc.Charts()}, crumb{group, sc.Group(group)}, crumb{chart, sc.Chart(group, chart, "")})
}

// deleteChart deletes a version (version given: type it to confirm) or
// the whole chart (type its name).
func (s *Server) deleteChart(w http.ResponseWriter, r *request) {
	sc := r.helmScope()
	group, ok := r.groupParam(w)
	if !ok {
		return
	}
	chart, ok := r.chartParam(w)
	if !ok {
		return
	}
	version := r.PostFormValue("version")
	path, what, back := chartAPI(group, chart), "chart "+chart, sc.Group(group)
	confirm := chart
	if version != "" {
		if !validVersion(version) {
			s.fail(w, r.Request, http.StatusBadRequest, fmt.Sprintf("no version %q", version))
			return
		}
		path += "/versions/" + url.PathEscape(version)
		what, back, confirm = "version "+version+" of chart "+chart, sc.Chart(group, chart, ""), version
	}
	if r.PostFormValue("confirm") != confirm {
		s.fail(w, r.Request, http.StatusUnprocessableEntity, "type "+confirm+" to confirm the delete")
		return
	}
	if code, out := r.call(http.MethodDelete, path, nil); code != http.StatusOK {
		s.fail(w, r.Request, code, statusMessage(code, out))
		return
	}
	s.Log.Info("console chart deleted", "chartGroup", group, "chart", chart, "version", version, "by", r.user.Name())
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	redirect(w, r.Request, back+sep+"notice="+url.QueryEscape(strings.ToUpper(what[:1])+what[1:]+" of "+group+" deleted"))
}

// ---- Repositories: chart groups ----

type chartGroupsData struct {
	Scope      helmScope
	Tabs       []tab
	Rows       []chartGroupRow
	Err        string
	CanCreate  bool
	ShowTenant bool
	Form       chartGroupForm
}

type chartGroupRow struct {
	Name, DisplayName, Description, Tenant, Visibility, Members, Type, Phase, Message, LastSync, Addr string
	Charts                                                                                            int
	URL, GuideURL, SyncURL, DeleteURL                                                                 string
}

// chartGroupForm is the create form as typed; the repository password is
// never put back into it.
type chartGroupForm struct {
	Name, DisplayName, Description, Visibility, Users, MoreProjects string
	Projects                                                        map[string]bool
	Import                                                          bool
	Addr, Username, SyncInterval, LatestVersions                    string
	// PasswordGiven: a password was typed, and must be typed again.
	PasswordGiven bool
	Choices       []choice
	Error         string
	Errors        map[string]string
}

func newChartGroupForm() chartGroupForm {
	return chartGroupForm{Visibility: string(registryv1.VisibilityUser), Projects: map[string]bool{}, Errors: map[string]string{}}
}

// chartGroupRowOf is a group as the list shows it.
func chartGroupRowOf(sc helmScope, g *registryv1.ChartGroup) chartGroupRow {
	row := chartGroupRow{Name: g.Name, DisplayName: g.Spec.DisplayName, Description: g.Spec.Description, Visibility: chartVisibility(g.Spec.Visibility),
		Type: string(g.Spec.Type), Phase: string(g.Status.Phase), Message: g.Status.Message, Charts: g.Status.ChartCount, LastSync: pushedAt(g.Status.LastSyncTime),
		URL: sc.Group(g.Name), GuideURL: sc.Group(g.Name) + "#guide"}
	if row.Type == "" {
		row.Type = string(registryv1.SelfBuilt)
	}
	row.Tenant = g.Labels[authv1.LabelTenant]
	if row.Tenant == "" {
		row.Tenant = g.Spec.TenantID
	}
	switch row.Visibility {
	case string(registryv1.VisibilityProject):
		row.Members = strings.Join(g.Spec.Projects, ", ")
	case string(registryv1.VisibilityUser):
		row.Members = strings.Join(g.Spec.Users, ", ")
	}
	if g.Spec.ImportedInfo != nil {
		row.Addr = g.Spec.ImportedInfo.Addr
	}
	return row
}

func (s *Server) chartGroupsPage(w http.ResponseWriter, r *request) {
	s.renderChartGroups(w, r, newChartGroupForm())
}

func (s *Server) renderChartGroups(w http.ResponseWriter, r *request, f chartGroupForm) {
	sc := r.helmScope()
	d := chartGroupsData{Scope: sc, Tabs: sc.helmTabs("chartgroups"), CanCreate: r.can("", "createChartgroup", "chartgroup:*"), ShowTenant: decision.Admin(r.user)}
	if p, err := r.portal(); err == nil {
		for _, prj := range p.Projects {
			f.Choices = append(f.Choices, choice{Value: prj.Name, Label: projectLabel(prj.Name, prj.DisplayName)})
		}
	}
	d.Form = f
	if isHTMX(r.Request) && (f.Error != "" || len(f.Errors) > 0) {
		r.fragment(w, http.StatusOK, "chartgroups", "cgform", d)
		return
	}
	var l registryv1.ChartGroupList
	if code, msg := r.getJSON(chartGroupPortalAPI, &l); code == http.StatusUnauthorized {
		s.fail(w, r.Request, code, msg)
		return
	} else if msg != "" {
		d.Err = msg
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	for i := range l.Items {
		g := &l.Items[i]
		row := chartGroupRowOf(sc, g)
		if r.canSync(g) {
			row.SyncURL = sc.Group(g.Name) + "/sync"
		}
		if r.can("", "deleteChartgroup", "chartgroup:"+g.Name) {
			row.DeleteURL = sc.Group(g.Name) + "/delete"
		}
		d.Rows = append(d.Rows, row)
	}
	r.page(w, "chartgroups", sc.Section, "Helm templates", d, crumb{"Helm templates", sc.Charts()}, crumb{"Repositories", sc.Groups()})
}

func projectLabel(name, display string) string {
	if display != "" {
		return display + " (" + name + ")"
	}
	return name
}

// canSync: an Imported group syncs for its creator, administrators and
// those who may update it, as the API decides.
func (r *request) canSync(g *registryv1.ChartGroup) bool {
	if g == nil || g.Spec.Type != registryv1.Imported {
		return false
	}
	return decision.Admin(r.user) || (g.Spec.Creator != "" && g.Spec.Creator == r.user.Username) || r.can("", "updateChartgroup", "chartgroup:"+g.Name)
}

// canCharts asks whether the user may take action on a group's charts
// (repositories of the registry), by tenant policies or through one of
// its projects, as the API would.
func (r *request) canCharts(g *registryv1.ChartGroup, action string) bool {
	if g == nil {
		return false
	}
	res := "registrynamespace:" + g.Name + "/repository:*"
	if r.can("", action, res) {
		return true
	}
	if g.Spec.Visibility == registryv1.VisibilityProject {
		for _, p := range g.Spec.Projects {
			if r.can(p, action, res) {
				return true
			}
		}
	}
	return false
}

// chartGroup reads a group for its details: through the API, or from the
// groups the user may pull from (a project member's or a listed user's
// right). nil when neither has it. The password is blanked, in case.
func (r *request) chartGroup(name string) *registryv1.ChartGroup {
	var g *registryv1.ChartGroup
	var one registryv1.ChartGroup
	if code, _ := r.getJSON(chartGroupsAPI+"/"+url.PathEscape(name), &one); code == http.StatusOK {
		g = &one
	} else {
		var l registryv1.ChartGroupList
		if code, _ := r.getJSON(chartGroupPortalAPI, &l); code == http.StatusOK {
			for i := range l.Items {
				if l.Items[i].Name == name {
					g = &l.Items[i]
				}
			}
		}
	}
	if g != nil && g.Spec.ImportedInfo != nil {
		g.Spec.ImportedInfo.Password = ""
	}
	return g
}

// parseChartGroupForm reads the create form into a ChartGroup, or the
// fields' errors.
func parseChartGroupForm(form url.Values) (chartGroupForm, *registryv1.ChartGroup) {
	get := func(k string) string { return strings.TrimSpace(form.Get(k)) }
	f := chartGroupForm{Name: get("name"), DisplayName: get("displayName"), Description: get("description"), Visibility: get("visibility"),
		Users: get("users"), MoreProjects: get("moreProjects"), Projects: map[string]bool{}, Import: form.Get("import") == "true",
		Addr: get("addr"), Username: get("username"), SyncInterval: get("syncInterval"), LatestVersions: get("latestVersions"),
		PasswordGiven: form.Get("password") != "", Errors: map[string]string{}}
	g := &registryv1.ChartGroup{TypeMeta: metav1.TypeMeta{APIVersion: registryv1.GroupVersion.String(), Kind: "ChartGroup"},
		ObjectMeta: metav1.ObjectMeta{Name: f.Name},
		Spec: registryv1.ChartGroupSpec{DisplayName: f.DisplayName, Description: f.Description, Visibility: registryv1.ChartGroupVisibility(f.Visibility),
			Type: registryv1.SelfBuilt}}
	if f.Name == "" {
		f.Errors["name"] = "name the repository: it is the first path segment of its charts, e.g. team-a"
	}
	for _, p := range form["project"] {
		if p = strings.TrimSpace(p); p != "" {
			f.Projects[p] = true
		}
	}
	for _, p := range fieldsOf(f.MoreProjects) {
		f.Projects[p] = true
	}
	switch registryv1.ChartGroupVisibility(f.Visibility) {
	case registryv1.VisibilityUser:
		g.Spec.Users = fieldsOf(f.Users)
	case registryv1.VisibilityProject:
		for _, p := range form["project"] {
			if p = strings.TrimSpace(p); p != "" && !containsString(g.Spec.Projects, p) {
				g.Spec.Projects = append(g.Spec.Projects, p)
			}
		}
		for _, p := range fieldsOf(f.MoreProjects) {
			if !containsString(g.Spec.Projects, p) {
				g.Spec.Projects = append(g.Spec.Projects, p)
			}
		}
		if len(g.Spec.Projects) == 0 {
			f.Errors["projects"] = "tick or name the projects whose members use the repository"
		}
	case registryv1.VisibilityPublic:
	default:
		f.Errors["visibility"] = "choose User, Project or Public"
	}
	if f.Import {
		info := &registryv1.ImportedInfo{Addr: f.Addr, Username: f.Username, Password: form.Get("password")}
		if f.Addr == "" {
			f.Errors["addr"] = "give the repository's URL (its index.yaml is at URL/index.yaml), e.g. https://charts.example.com/stable"
		}
		if info.Password != "" && f.Username == "" {
			f.Errors["username"] = "a password needs a username"
		}
		if f.SyncInterval != "" {
			d, err := time.ParseDuration(f.SyncInterval)
			if err != nil || d < 0 {
				f.Errors["syncInterval"] = fmt.Sprintf("%q is not a duration such as 1h or 30m (0s: sync only on demand)", f.SyncInterval)
			} else {
				info.SyncInterval = &metav1.Duration{Duration: d}
			}
		}
		if f.LatestVersions != "" {
			n, err := strconv.Atoi(f.LatestVersions)
			if err != nil || n < 0 {
				f.Errors["latestVersions"] = "a number: how many of each chart's newest versions to copy (0 or empty: all)"
			} else {
				info.LatestVersions = n
			}
		}
		g.Spec.Type, g.Spec.ImportedInfo = registryv1.Imported, info
	}
	if len(f.Errors) > 0 {
		return f, nil
	}
	return f, g
}

func containsString(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func (s *Server) createChartGroup(w http.ResponseWriter, r *request) {
	sc := r.helmScope()
	_ = r.ParseForm()
	f, g := parseChartGroupForm(r.PostForm)
	if g != nil {
		body, _ := json.Marshal(g)
		code, out := r.call(http.MethodPost, chartGroupsAPI, body)
		if code == http.StatusCreated || code == http.StatusOK {
			s.Log.Info("console chart group created", "name", g.Name, "type", g.Spec.Type, "by", r.user.Name())
			notice := "Repository " + g.Name + " created: push charts to it with the commands below"
			if g.Spec.Type == registryv1.Imported {
				notice = "Repository " + g.Name + " created: its charts are copied from " + g.Spec.ImportedInfo.Addr + " by its sync (Sync now starts one)"
			}
			redirect(w, r.Request, sc.Group(g.Name)+"?notice="+url.QueryEscape(notice))
			return
		}
		if code == http.StatusUnauthorized {
			s.fail(w, r.Request, code, statusMessage(code, out))
			return
		}
		f.Error = statusMessage(code, out)
		if field := chartGroupField(f.Error); field != "" {
			f.Errors[field] = "the platform refused this field: see the message above"
		}
	}
	if f.Error == "" {
		f.Error = "the repository could not be made: see the fields marked"
	}
	s.renderChartGroups(w, r, f)
}

// chartGroupField is the form field an API refusal names.
func chartGroupField(msg string) string {
	for _, p := range []struct{ prefix, field string }{
		{"metadata.name", "name"}, {"spec.displayName", "displayName"}, {"spec.description", "description"}, {"spec.visibility", "visibility"},
		{"spec.users", "users"}, {"spec.projects", "projects"}, {"spec.importedInfo.addr", "addr"}, {"spec.importedInfo.username", "username"},
		{"spec.importedInfo.syncInterval", "syncInterval"}, {"spec.importedInfo.latestVersions", "latestVersions"},
	} {
		if strings.HasPrefix(msg, p.prefix) || strings.Contains(msg, ": "+p.prefix) {
			return p.field
		}
	}
	return ""
}

// ---- A chart group: details, charts, sync, upload guide ----

type chartGroupData struct {
	Scope     helmScope
	Name      string
	Group     *registryv1.ChartGroup
	Row       chartGroupRow
	Charts    []chartRow
	Err       string
	Guide     *registryv1.ChartUploadGuide
	GuideErr  string
	CanSync   bool
	CanDelete bool
	// PasswordKept: the platform holds the repository's password (never shown).
	PasswordKept bool
	SyncInterval string
	LastAttempt  string
}

func (s *Server) chartGroupPage(w http.ResponseWriter, r *request) {
	sc := r.helmScope()
	name, ok := r.groupParam(w)
	if !ok {
		return
	}
	var cl registryv1.ChartList
	code, msg := r.getJSON(chartGroupsAPI+"/"+url.PathEscape(name)+"/charts", &cl)
	switch code {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusUnauthorized:
		s.fail(w, r.Request, code, msg)
		return
	}
	d := chartGroupData{Scope: sc, Name: name, Err: msg, Group: r.chartGroup(name)}
	if g := d.Group; g != nil {
		d.Row = chartGroupRowOf(sc, g)
		d.CanSync = r.canSync(g)
		if info := g.Spec.ImportedInfo; info != nil {
			d.PasswordKept = info.PasswordSecret != ""
			d.SyncInterval = "1h (the default)"
			if info.SyncInterval != nil {
				d.SyncInterval = info.SyncInterval.Duration.String()
				if info.SyncInterval.Duration == 0 {
					d.SyncInterval = "on demand only"
				}
			}
		}
		d.LastAttempt = pushedAt(g.Status.LastSyncAttempt)
	}
	d.CanDelete = r.can("", "deleteChartgroup", "chartgroup:"+name)
	sort.Slice(cl.Items, func(i, j int) bool { return cl.Items[i].Name < cl.Items[j].Name })
	for _, c := range cl.Items {
		if c.ChartGroup == "" {
			c.ChartGroup = name
		}
		d.Charts = append(d.Charts, chartRowOf(sc, c))
	}
	var g registryv1.ChartUploadGuide
	if code, msg := r.getJSON(chartGroupsAPI+"/"+url.PathEscape(name)+"/guide", &g); code == http.StatusOK {
		d.Guide = &g
	} else {
		d.GuideErr = msg
	}
	r.page(w, "chartgroup", sc.Section, "Repository "+name, d, crumb{"Helm templates", sc.Charts()}, crumb{"Repositories", sc.Groups()}, crumb{name, sc.Group(name)})
}

// syncChartGroup copies an Imported group's repository now, and says
// what it did.
func (s *Server) syncChartGroup(w http.ResponseWriter, r *request) {
	sc := r.helmScope()
	name, ok := r.groupParam(w)
	if !ok {
		return
	}
	code, out := r.call(http.MethodPost, chartGroupsAPI+"/"+url.PathEscape(name)+"/sync", nil)
	if code != http.StatusOK {
		s.fail(w, r.Request, code, statusMessage(code, out))
		return
	}
	var res registryv1.ChartSyncResult
	_ = json.Unmarshal(out, &res)
	s.Log.Info("console chart group synced", "name", name, "copied", res.Copied, "failed", res.Failed, "by", r.user.Name())
	redirect(w, r.Request, sc.Group(name)+"?notice="+url.QueryEscape(syncNotice(name, res)))
}

func syncNotice(name string, res registryv1.ChartSyncResult) string {
	msg := fmt.Sprintf("Repository %s synced: its index lists %s and %s; %d copied, %d already here, %d failed",
		name, plural(res.Charts, "chart", "charts"), plural(res.Versions, "version", "versions"), res.Copied, res.Skipped, res.Failed)
	if len(res.Errors) > 0 {
		msg += " (" + strings.Join(res.Errors, "; ") + ")"
	}
	return msg
}

// deleteChartGroup deletes a group once its name is typed; "force"
// deletes its charts too (the API refuses otherwise while it holds any).
func (s *Server) deleteChartGroup(w http.ResponseWriter, r *request) {
	sc := r.helmScope()
	name, ok := r.groupParam(w)
	if !ok {
		return
	}
	if r.PostFormValue("confirm") != name {
		s.fail(w, r.Request, http.StatusUnprocessableEntity, "type the name "+name+" to confirm the delete")
		return
	}
	path := chartGroupsAPI + "/" + url.PathEscape(name)
	force := r.PostFormValue("force") == "true"
	if force {
		path += "?force=true"
	}
	if code, out := r.call(http.MethodDelete, path, nil); code != http.StatusOK && code != http.StatusAccepted {
		s.fail(w, r.Request, code, statusMessage(code, out))
		return
	}
	s.Log.Info("console chart group deleted", "name", name, "force", force, "by", r.user.Name())
	redirect(w, r.Request, sc.Groups()+"?notice="+url.QueryEscape("Repository "+name+" deleted"))
}
