package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/printer"
)

// The "Registry" page: the registry namespaces the user may pull from or
// read (with a create form and a delete that can force), a namespace's
// repositories and its upload guide, and a repository's tags. It is in
// both consoles (platform users manage namespaces, project members use
// those shared with their projects). Everything goes through the
// registry group's API as the user (internal/registryapi), which decides;
// the page asks the decision point only to hide buttons.

// registryAPI is the registry group's version path.
const registryAPI = "/registry/apis/registry.tkestack.io/v1"

func (s *Server) registryRoutes(mux *http.ServeMux) { s.registryRoutesWith(mux, s.authed) }

// registryRoutesWith adds the routes with each handler wrapped by authed
// (tests serve them as a fixed user).
func (s *Server) registryRoutesWith(mux *http.ServeMux, authed func(handlerFunc) http.Handler) {
	for _, base := range []string{Prefix + "/platform/registry", Prefix + "/business/registry"} {
		mux.Handle("GET "+base, authed(s.registryPage))
		mux.Handle("POST "+base, authed(s.createRegistryNS))
		mux.Handle("GET "+base+"/{ns}", authed(s.registryNSPage))
		mux.Handle("POST "+base+"/{ns}/delete", authed(s.deleteRegistryNS))
		// The repository is a query parameter: a path of any depth here
		// would overlap the business console's object pages.
		mux.Handle("GET "+base+"/{ns}/tags", authed(s.registryRepoPage))
		mux.Handle("POST "+base+"/{ns}/delete-repository", authed(s.deleteRegistryRepo))
		mux.Handle("POST "+base+"/{ns}/delete-tag", authed(s.deleteRegistryTag))
	}
}

// registryScope is which console the page is shown in.
type registryScope struct {
	Base, Section string
}

func (r *request) registryScope() registryScope {
	if strings.HasPrefix(r.URL.Path, Prefix+"/business/") {
		return registryScope{Base: Prefix + "/business/registry", Section: "business"}
	}
	return registryScope{Base: Prefix + "/platform/registry", Section: "platform"}
}

// registryNSName is a registry namespace's name (the API's rule, without
// the reserved names, which the API answers).
var registryNSName = regexp.MustCompile(`^[a-z0-9]+(?:[.-][a-z0-9]+)*$`)

// nsParam is the path's registry namespace, or a 404.
func (r *request) nsParam(w http.ResponseWriter) (string, bool) {
	ns := r.PathValue("ns")
	if len(ns) < 2 || len(ns) > 63 || !registryNSName.MatchString(ns) {
		r.s.fail(w, r.Request, http.StatusNotFound, fmt.Sprintf("registrynamespace %q not found", ns))
		return "", false
	}
	return ns, true
}

// getJSON GETs an API path as the user into out; the refusal's code and
// message otherwise.
func (r *request) getJSON(path string, out any) (int, string) {
	code, body := r.call(http.MethodGet, path, nil)
	if code != http.StatusOK {
		return code, statusMessage(code, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return http.StatusBadGateway, "the platform's answer could not be read: " + err.Error()
	}
	return code, ""
}

func pushedAt(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// repoURL is the console's page of a repository: its tags.
func repoURL(base, ns, repo string) string {
	return base + "/" + url.PathEscape(ns) + "/tags?" + url.Values{"repository": {repo}}.Encode()
}

// repoAPI is the API path of a repository.
func repoAPI(ns, repo string) string {
	parts := strings.Split(repo, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return registryAPI + "/registrynamespaces/" + url.PathEscape(ns) + "/repositories/" + strings.Join(parts, "/")
}

// ---- Namespaces ----

type registryData struct {
	Scope      registryScope
	Rows       []registryNSRow
	Err        string
	CanCreate  bool
	ShowTenant bool
	Form       registryNSForm
}

type registryNSRow struct {
	Name, DisplayName, Tenant, Visibility, Projects, Size string
	Repos                                                 int
	URL, DeleteURL                                        string
}

// registryNSForm is the create form as typed.
type registryNSForm struct {
	Name, DisplayName, Visibility, MoreProjects string
	Projects                                    map[string]bool
	// Choices are the user's projects, offered as checkboxes.
	Choices []choice
	Error   string
	Errors  map[string]string
}

func (s *Server) registryPage(w http.ResponseWriter, r *request) {
	s.renderRegistry(w, r, registryNSForm{Visibility: string(registryv1.Private), Projects: map[string]bool{}, Errors: map[string]string{}})
}

func (s *Server) renderRegistry(w http.ResponseWriter, r *request, f registryNSForm) {
	sc := r.registryScope()
	d := registryData{Scope: sc, CanCreate: r.can("", "createRegistrynamespace", "registrynamespace:*"), ShowTenant: decision.Admin(r.user)}
	if p, err := r.portal(); err == nil {
		for _, prj := range p.Projects {
			label := prj.Name
			if prj.DisplayName != "" {
				label = prj.DisplayName + " (" + prj.Name + ")"
			}
			f.Choices = append(f.Choices, choice{Value: prj.Name, Label: label})
		}
	}
	d.Form = f
	if isHTMX(r.Request) && (f.Error != "" || len(f.Errors) > 0) {
		r.fragment(w, http.StatusOK, "registry", "nsform", d)
		return
	}
	var l registryv1.RegistryNamespaceList
	if code, msg := r.getJSON(registryAPI+"/portal", &l); code == http.StatusUnauthorized {
		r.s.fail(w, r.Request, code, msg)
		return
	} else if msg != "" {
		d.Err = msg
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	for _, ns := range l.Items {
		vis := string(ns.Spec.Visibility)
		if vis == "" {
			vis = string(registryv1.Private)
		}
		tenant := ns.Labels[authv1.LabelTenant]
		if tenant == "" {
			tenant = ns.Spec.TenantID
		}
		row := registryNSRow{Name: ns.Name, DisplayName: ns.Spec.DisplayName, Tenant: tenant, Visibility: vis,
			Projects: strings.Join(ns.Spec.Projects, ", "), Repos: ns.Status.RepoCount, Size: printer.Bytes(ns.Status.Size),
			URL: sc.Base + "/" + url.PathEscape(ns.Name)}
		if r.can("", "deleteRegistrynamespace", "registrynamespace:"+ns.Name) {
			row.DeleteURL = sc.Base + "/" + url.PathEscape(ns.Name) + "/delete"
		}
		d.Rows = append(d.Rows, row)
	}
	r.page(w, "registry", sc.Section, "Registry", d, crumb{"Registry", sc.Base})
}

// parseRegistryNSForm reads the create form into a RegistryNamespace, or
// the fields' errors.
func parseRegistryNSForm(form url.Values) (registryNSForm, *registryv1.RegistryNamespace) {
	f := registryNSForm{Name: strings.TrimSpace(form.Get("name")), DisplayName: strings.TrimSpace(form.Get("displayName")),
		Visibility: form.Get("visibility"), MoreProjects: strings.TrimSpace(form.Get("moreProjects")),
		Projects: map[string]bool{}, Errors: map[string]string{}}
	ns := &registryv1.RegistryNamespace{TypeMeta: metav1.TypeMeta{APIVersion: registryv1.GroupVersion.String(), Kind: "RegistryNamespace"},
		ObjectMeta: metav1.ObjectMeta{Name: f.Name},
		Spec:       registryv1.RegistryNamespaceSpec{DisplayName: f.DisplayName, Visibility: registryv1.Visibility(f.Visibility)}}
	if f.Name == "" {
		f.Errors["name"] = "name the namespace: it is the first path segment of its images, e.g. team-a"
	}
	if f.Visibility != string(registryv1.Public) && f.Visibility != string(registryv1.Private) {
		f.Errors["visibility"] = "choose Private or Public"
	}
	add := func(p string) {
		if p != "" && !f.Projects[p] {
			f.Projects[p] = true
			ns.Spec.Projects = append(ns.Spec.Projects, p)
		}
	}
	for _, p := range form["project"] {
		add(strings.TrimSpace(p))
	}
	for _, p := range strings.FieldsFunc(f.MoreProjects, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		add(p)
	}
	if len(f.Errors) > 0 {
		return f, nil
	}
	return f, ns
}

func (s *Server) createRegistryNS(w http.ResponseWriter, r *request) {
	sc := r.registryScope()
	_ = r.ParseForm()
	f, ns := parseRegistryNSForm(r.PostForm)
	if ns != nil {
		body, _ := json.Marshal(ns)
		code, out := r.call(http.MethodPost, registryAPI+"/registrynamespaces", body)
		if code == http.StatusCreated || code == http.StatusOK {
			s.Log.Info("console registry namespace created", "name", ns.Name, "by", r.user.Name())
			redirect(w, r.Request, sc.Base+"/"+url.PathEscape(ns.Name)+"?notice="+url.QueryEscape("Registry namespace "+ns.Name+" created: push to it with the commands below"))
			return
		}
		if code == http.StatusUnauthorized {
			s.fail(w, r.Request, code, statusMessage(code, out))
			return
		}
		f.Error = statusMessage(code, out)
	}
	if f.Error == "" {
		f.Error = "the namespace could not be made: see the fields marked"
	}
	s.renderRegistry(w, r, f)
}

// deleteRegistryNS deletes a namespace once its name is typed; "force"
// deletes its repositories too (the API refuses otherwise while it holds
// any).
func (s *Server) deleteRegistryNS(w http.ResponseWriter, r *request) {
	sc := r.registryScope()
	ns, ok := r.nsParam(w)
	if !ok {
		return
	}
	if r.PostFormValue("confirm") != ns {
		s.fail(w, r.Request, http.StatusUnprocessableEntity, "type the name "+ns+" to confirm the delete")
		return
	}
	path := registryAPI + "/registrynamespaces/" + url.PathEscape(ns)
	if r.PostFormValue("force") == "true" {
		path += "?force=true"
	}
	if code, out := r.call(http.MethodDelete, path, nil); code != http.StatusOK && code != http.StatusAccepted {
		s.fail(w, r.Request, code, statusMessage(code, out))
		return
	}
	s.Log.Info("console registry namespace deleted", "name", ns, "force", r.PostFormValue("force") == "true", "by", r.user.Name())
	redirect(w, r.Request, sc.Base+"?notice="+url.QueryEscape("Registry namespace "+ns+" deleted"))
}

// ---- A namespace: repositories and the upload guide ----

type registryNSData struct {
	Scope     registryScope
	Name      string
	NS        *registryv1.RegistryNamespace
	Repos     []registryRepoRow
	Err       string
	Guide     *registryv1.UploadGuide
	GuideErr  string
	GuideRepo string
	GuideTag  string
	CanDelete bool
}

type registryRepoRow struct {
	Name, Size, Pushed, Pull, URL string
	Tags                          int
}

// registryNS reads the namespace's object for its details: through the
// API, or from the namespaces the user may pull from (a project member's
// right comes through the project). nil when neither has it (another
// tenant's public namespace, whose repositories are still listed).
func (r *request) registryNS(name string) *registryv1.RegistryNamespace {
	var ns registryv1.RegistryNamespace
	if code, _ := r.getJSON(registryAPI+"/registrynamespaces/"+url.PathEscape(name), &ns); code == http.StatusOK {
		return &ns
	}
	var l registryv1.RegistryNamespaceList
	if code, _ := r.getJSON(registryAPI+"/portal", &l); code == http.StatusOK {
		for i := range l.Items {
			if l.Items[i].Name == name {
				return &l.Items[i]
			}
		}
	}
	return nil
}

// canRepos asks whether the user may take action on the namespace's
// repositories, by tenant policies or through one of its projects, as the
// API would.
func (r *request) canRepos(ns *registryv1.RegistryNamespace, action string) bool {
	if ns == nil {
		return false
	}
	res := "registrynamespace:" + ns.Name + "/repository:*"
	if r.can("", action, res) {
		return true
	}
	for _, p := range ns.Spec.Projects {
		if r.can(p, action, res) {
			return true
		}
	}
	return false
}

func (s *Server) registryNSPage(w http.ResponseWriter, r *request) {
	sc := r.registryScope()
	name, ok := r.nsParam(w)
	if !ok {
		return
	}
	var repos registryv1.RepositoryList
	code, msg := r.getJSON(registryAPI+"/registrynamespaces/"+url.PathEscape(name)+"/repositories", &repos)
	switch code {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusUnauthorized:
		// Another tenant's private namespace is missing, as in the API.
		s.fail(w, r.Request, code, msg)
		return
	}
	d := registryNSData{Scope: sc, Name: name, Err: msg, NS: r.registryNS(name),
		GuideRepo: strings.TrimSpace(r.URL.Query().Get("repository")), GuideTag: strings.TrimSpace(r.URL.Query().Get("tag"))}
	d.CanDelete = r.canRepos(d.NS, "deleteRepository")
	for _, repo := range repos.Items {
		d.Repos = append(d.Repos, registryRepoRow{Name: repo.Name, Tags: repo.Tags, Size: printer.Bytes(repo.Size), Pushed: pushedAt(repo.PushedAt),
			Pull: repo.Pull, URL: repoURL(sc.Base, name, repo.Name)})
	}
	q := url.Values{}
	if d.GuideRepo != "" {
		q.Set("repository", d.GuideRepo)
	}
	if d.GuideTag != "" {
		q.Set("tag", d.GuideTag)
	}
	gpath := registryAPI + "/registrynamespaces/" + url.PathEscape(name) + "/guide"
	if len(q) > 0 {
		gpath += "?" + q.Encode()
	}
	var g registryv1.UploadGuide
	if code, msg := r.getJSON(gpath, &g); code == http.StatusOK {
		d.Guide = &g
	} else {
		d.GuideErr = msg
	}
	r.page(w, "registryns", sc.Section, "Registry namespace "+name, d, crumb{"Registry", sc.Base}, crumb{name, sc.Base + "/" + url.PathEscape(name)})
}

func (s *Server) deleteRegistryRepo(w http.ResponseWriter, r *request) {
	sc := r.registryScope()
	ns, ok := r.nsParam(w)
	if !ok {
		return
	}
	repo := r.PostFormValue("repository")
	if repo == "" || strings.ContainsAny(repo, ":?#") {
		s.fail(w, r.Request, http.StatusBadRequest, "name the repository to delete")
		return
	}
	if r.PostFormValue("confirm") != repo {
		s.fail(w, r.Request, http.StatusUnprocessableEntity, "type the name "+repo+" to confirm the delete")
		return
	}
	if code, out := r.call(http.MethodDelete, repoAPI(ns, repo), nil); code != http.StatusOK {
		s.fail(w, r.Request, code, statusMessage(code, out))
		return
	}
	s.Log.Info("console registry repository deleted", "namespace", ns, "repository", repo, "by", r.user.Name())
	redirect(w, r.Request, sc.Base+"/"+url.PathEscape(ns)+"?notice="+url.QueryEscape("Repository "+ns+"/"+repo+" deleted"))
}

// ---- A repository's tags ----

type registryRepoData struct {
	Scope     registryScope
	NS, Repo  string
	Tags      []registryTagRow
	Err       string
	CanDelete bool
}

type registryTagRow struct {
	Name, Digest, MediaType, Size, Pushed, Pull string
}

func (s *Server) registryRepoPage(w http.ResponseWriter, r *request) {
	sc := r.registryScope()
	name, ok := r.nsParam(w)
	if !ok {
		return
	}
	repo := strings.Trim(r.URL.Query().Get("repository"), "/")
	if repo == "" || strings.ContainsAny(repo, ":?#") {
		s.fail(w, r.Request, http.StatusNotFound, fmt.Sprintf("no repository %q", repo))
		return
	}
	var tags registryv1.TagList
	code, msg := r.getJSON(repoAPI(name, repo)+"/tags", &tags)
	if code != http.StatusOK && code != http.StatusForbidden {
		s.fail(w, r.Request, code, msg)
		return
	}
	d := registryRepoData{Scope: sc, NS: name, Repo: repo, Err: msg}
	d.CanDelete = r.canRepos(r.registryNS(name), "deleteRepository")
	for _, t := range tags.Items {
		d.Tags = append(d.Tags, registryTagRow{Name: t.Name, Digest: t.Digest, MediaType: t.MediaType, Size: printer.Bytes(t.Size), Pushed: pushedAt(t.PushedAt), Pull: t.Pull})
	}
	r.page(w, "registryrepo", sc.Section, "Repository "+name+"/"+repo, d,
		crumb{"Registry", sc.Base}, crumb{name, sc.Base + "/" + url.PathEscape(name)}, crumb{repo, repoURL(sc.Base, name, repo)})
}

func (s *Server) deleteRegistryTag(w http.ResponseWriter, r *request) {
	sc := r.registryScope()
	ns, ok := r.nsParam(w)
	if !ok {
		return
	}
	repo, tag := r.PostFormValue("repository"), r.PostFormValue("tag")
	if repo == "" || tag == "" || strings.ContainsAny(repo+tag, ":?#") || strings.Contains(tag, "/") {
		s.fail(w, r.Request, http.StatusBadRequest, "name the repository and the tag to delete")
		return
	}
	if r.PostFormValue("confirm") != tag {
		s.fail(w, r.Request, http.StatusUnprocessableEntity, "type the tag "+tag+" to confirm the delete")
		return
	}
	if code, out := r.call(http.MethodDelete, repoAPI(ns, repo)+":"+url.PathEscape(tag), nil); code != http.StatusOK {
		s.fail(w, r.Request, code, statusMessage(code, out))
		return
	}
	s.Log.Info("console registry tag deleted", "namespace", ns, "repository", repo, "tag", tag, "by", r.user.Name())
	redirect(w, r.Request, repoURL(sc.Base, ns, repo)+"&notice="+url.QueryEscape("Tag "+tag+" of "+ns+"/"+repo+" deleted"))
}
