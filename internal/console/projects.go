package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
)

func (s *Server) projectRoutes(mux *http.ServeMux) {
	mux.Handle("GET /console/platform/projects", s.authed(s.projects))
	mux.Handle("GET /console/platform/projects/new", s.authed(s.projectForm))
	mux.Handle("POST /console/platform/projects/new", s.authed(s.createProject))
	mux.Handle("GET /console/platform/projects/{id}", s.authed(s.projectDetail))
	mux.Handle("POST /console/platform/projects/{id}/members", s.authed(s.addMember))
	mux.Handle("POST /console/platform/projects/{id}/namespaces", s.authed(s.createNamespace))
}

// quotaResources are the quota fields the console's forms offer.
var quotaResources = []struct{ Field, Label string }{
	{"requests.cpu", "CPU"}, {"requests.memory", "Memory"}, {"pods", "Pods"},
}

type projectRow struct {
	ID, Name, Parent string
	Clusters         []string
	Members          int
	Namespaces       int32
}

func (s *Server) projects(w http.ResponseWriter, r *request) {
	var l businessv1.ProjectList
	if !r.list(w, &l) {
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	var rows []projectRow
	for _, p := range l.Items {
		row := projectRow{ID: p.Name, Name: p.Spec.DisplayName, Parent: p.Spec.ParentProjectName, Members: len(p.Spec.Members), Namespaces: p.Status.Namespaces}
		for _, cq := range p.Spec.Clusters {
			row.Clusters = append(row.Clusters, cq.Name)
		}
		if matches(q, row.ID, row.Name) {
			rows = append(rows, row)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	page, pg := pageOf(r.Request, rows)
	r.page(w, "projects", "platform", "Projects", map[string]any{"Rows": page, "Pager": pg, "Q": q,
		"CanCreate": r.can("", "createProject", "project:*")})
}

type projectFormData struct {
	Name, Parent string
	Clusters     []clusterQuotaField
	Errors       map[string]string
	Error        string
	AllClusters  []clusterRow
}

type clusterQuotaField struct {
	Cluster string
	Values  map[string]string
}

func (s *Server) projectForm(w http.ResponseWriter, r *request) {
	items, err := r.listClusters()
	if err != nil {
		r.fail(w, err)
		return
	}
	d := projectFormData{Errors: map[string]string{}}
	for i := range items {
		if items[i].Name != "global" {
			d.AllClusters = append(d.AllClusters, rowOf(&items[i]))
		}
	}
	r.page(w, "projectnew", "platform", "New project", d, crumb{"Projects", "/console/platform/projects"})
}

// quotaFrom reads quota fields named prefix+resource from the form.
func quotaFrom(form url.Values, prefix string, errs map[string]string) (corev1.ResourceList, map[string]string) {
	hard := corev1.ResourceList{}
	values := map[string]string{}
	for _, q := range quotaResources {
		v := strings.TrimSpace(form.Get(prefix + q.Field))
		values[q.Field] = v
		if v == "" {
			continue
		}
		qty, err := resource.ParseQuantity(v)
		if err != nil || qty.Sign() < 0 {
			errs[prefix+q.Field] = fmt.Sprintf("%q is not a quantity: write e.g. 2, 500m, 4Gi", v)
			continue
		}
		hard[corev1.ResourceName(q.Field)] = qty
	}
	return hard, values
}

func (s *Server) createProject(w http.ResponseWriter, r *request) {
	_ = r.ParseForm()
	d := projectFormData{Name: strings.TrimSpace(r.PostFormValue("name")), Parent: strings.TrimSpace(r.PostFormValue("parent")), Errors: map[string]string{}}
	if d.Name == "" {
		d.Errors["name"] = "give the project a name"
	}
	prj := &businessv1.Project{TypeMeta: metav1.TypeMeta{APIVersion: businessv1.GroupVersion.String(), Kind: "Project"},
		Spec: businessv1.ProjectSpec{DisplayName: d.Name, ParentProjectName: d.Parent}}
	for _, cl := range r.PostForm["cluster"] {
		hard, values := quotaFrom(r.PostForm, cl+".", d.Errors)
		d.Clusters = append(d.Clusters, clusterQuotaField{Cluster: cl, Values: values})
		prj.Spec.Clusters = append(prj.Spec.Clusters, businessv1.ClusterQuota{Name: cl, Hard: hard})
	}
	if len(d.Errors) == 0 {
		err := r.create(prj)
		if err == nil {
			redirect(w, r.Request, "/console/platform/projects/"+url.PathEscape(prj.Name)+"?notice="+url.QueryEscape("Project "+d.Name+" created"))
			return
		}
		_, d.Error = explain(err)
	}
	items, _ := r.listClusters()
	for i := range items {
		if items[i].Name != "global" {
			d.AllClusters = append(d.AllClusters, rowOf(&items[i]))
		}
	}
	r.fragment(w, http.StatusOK, "projectnew", "form", d)
}

type quotaBar struct {
	Resource, Hard, Allocated, Used string
	HardV, AllocatedV, UsedV        float64
}

type projectDetailData struct {
	Project      *businessv1.Project
	Quotas       map[string][]quotaBar
	ClusterNames []string
	Children     []businessv1.Project
	Namespaces   []businessv1.Namespace
	CanEdit      bool
	CanNamespace bool
	Errors       map[string]string
	Form         map[string]string
	// Monitor is the project's usage against its quota, per cluster.
	Monitor *monitorView
}

func (s *Server) loadProject(w http.ResponseWriter, r *request, d *projectDetailData) bool {
	c, err := r.platform()
	if err != nil {
		r.fail(w, err)
		return false
	}
	id := r.PathValue("id")
	var prj businessv1.Project
	if err := c.Get(r.Context(), client.ObjectKey{Name: id}, &prj); err != nil {
		r.fail(w, err)
		return false
	}
	d.Project = &prj
	d.Quotas = map[string][]quotaBar{}
	for _, cq := range prj.Spec.Clusters {
		d.ClusterNames = append(d.ClusterNames, cq.Name)
		var usage businessv1.ClusterUsage
		for _, u := range prj.Status.Clusters {
			if u.Name == cq.Name {
				usage = u
			}
		}
		for _, q := range quotaResources {
			name := corev1.ResourceName(q.Field)
			hard, ok := cq.Hard[name]
			if !ok {
				continue
			}
			alloc, used := usage.Allocated[name], usage.Used[name]
			d.Quotas[cq.Name] = append(d.Quotas[cq.Name], quotaBar{Resource: q.Label, Hard: hard.String(), Allocated: alloc.String(), Used: used.String(),
				HardV: max(hard.AsApproximateFloat64(), 1e-9), AllocatedV: alloc.AsApproximateFloat64(), UsedV: used.AsApproximateFloat64()})
		}
	}
	var all businessv1.ProjectList
	if err := c.List(r.Context(), &all); err == nil {
		for _, p := range all.Items {
			if p.Spec.ParentProjectName == prj.Name {
				d.Children = append(d.Children, p)
			}
		}
	}
	var nss businessv1.NamespaceList
	if err := c.List(r.Context(), &nss, client.InNamespace(prj.Name)); err == nil {
		d.Namespaces = nss.Items
	}
	d.CanEdit = r.can(prj.Name, "updateProject", "project:"+prj.Name)
	d.CanNamespace = r.can(prj.Name, "createNamespace", "namespace:"+prj.Name+"/namespace:*")
	return true
}

func (s *Server) projectDetail(w http.ResponseWriter, r *request) {
	d := projectDetailData{Errors: map[string]string{}, Form: map[string]string{}}
	if !s.loadProject(w, r, &d) {
		return
	}
	d.Monitor = r.monitorView(Prefix+"/platform/projects/"+url.PathEscape(d.Project.Name), nil, "", projectCharts(d.Project.Name, d.ClusterNames))
	r.page(w, "project", "platform", "Project "+d.Project.Spec.DisplayName, d, crumb{"Projects", "/console/platform/projects"})
}

func (s *Server) addMember(w http.ResponseWriter, r *request) {
	d := projectDetailData{Errors: map[string]string{}, Form: map[string]string{}}
	if !s.loadProject(w, r, &d) {
		return
	}
	user, role := strings.TrimSpace(r.PostFormValue("username")), r.PostFormValue("role")
	prj := d.Project
	if user == "" {
		s.fail(w, r.Request, http.StatusUnprocessableEntity, "name the user to add")
		return
	}
	found := false
	for i := range prj.Spec.Members {
		if prj.Spec.Members[i].Username == user {
			prj.Spec.Members[i].Role, found = businessv1.ProjectRole(role), true
		}
	}
	if !found {
		prj.Spec.Members = append(prj.Spec.Members, businessv1.ProjectMember{Username: user, Role: businessv1.ProjectRole(role)})
	}
	c, err := r.platform()
	if err == nil {
		err = c.Update(r.Context(), prj)
	}
	if err != nil {
		r.fail(w, err)
		return
	}
	redirect(w, r.Request, "/console/platform/projects/"+url.PathEscape(prj.Name)+"?notice="+url.QueryEscape(user+" is now "+role))
}

func (s *Server) createNamespace(w http.ResponseWriter, r *request) {
	d := projectDetailData{Errors: map[string]string{}, Form: map[string]string{}}
	if !s.loadProject(w, r, &d) {
		return
	}
	_ = r.ParseForm()
	name, cluster := strings.TrimSpace(r.PostFormValue("namespace")), r.PostFormValue("cluster")
	d.Form["namespace"], d.Form["cluster"] = name, cluster
	hard, values := quotaFrom(r.PostForm, "ns.", d.Errors)
	for k, v := range values {
		d.Form["ns."+k] = v
	}
	if name == "" {
		d.Errors["namespace"] = "give the namespace a name"
	}
	if len(d.Errors) == 0 {
		ns := &businessv1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: businessv1.GroupVersion.String(), Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Namespace: d.Project.Name},
			Spec:       businessv1.NamespaceSpec{ProjectName: d.Project.Name, ClusterName: cluster, Namespace: name, Hard: hard}}
		err := r.create(ns)
		if err == nil {
			redirect(w, r.Request, "/console/platform/projects/"+url.PathEscape(d.Project.Name)+"?notice="+url.QueryEscape("Namespace "+name+" created in "+cluster))
			return
		}
		_, d.Errors["form"] = explain(err)
	}
	r.fragment(w, http.StatusOK, "project", "nsform", d)
}

// portal is GET .../portal: the projects the user belongs to.
func (r *request) portal() (*portalData, error) {
	if r.portalCache != nil {
		return r.portalCache, nil
	}
	code, body := r.call(http.MethodGet, "/business/apis/business.tkestack.io/v1/portal", nil)
	if code != http.StatusOK {
		return nil, fmt.Errorf("reading your projects: %s", statusMessage(code, body))
	}
	var p portalData
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, err
	}
	r.portalCache = &p
	return &p, nil
}

// portalData mirrors the gateway's Portal answer.
type portalData struct {
	Administrator bool `json:"administrator"`
	Projects      []struct {
		Name        string   `json:"name"`
		DisplayName string   `json:"displayName"`
		Role        string   `json:"role"`
		Clusters    []string `json:"clusters"`
		Namespaces  []string `json:"namespaces"`
	} `json:"projects"`
}

// inAnyProject reports whether the user is a member of a project: the
// business console is shown only to them.
func (r *request) inAnyProject() bool {
	p, err := r.portal()
	return err == nil && len(p.Projects) > 0
}
