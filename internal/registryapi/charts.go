package registryapi

import (
	"context"
	"errors"
	"net/http"
	"sort"

	"helm.sh/helm/v3/pkg/chart"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/chartimport"
	"github.com/kstack/kstack/internal/registryspace"
)

// ChartStore is what the chart routes read and delete through
// (*chartstore.Store).
type ChartStore interface {
	Charts(ctx context.Context, group string) ([]registryv1.Chart, error)
	Versions(ctx context.Context, group, name string) ([]registryv1.ChartVersion, error)
	Detail(ctx context.Context, group, name, version string) (*registryv1.ChartDetail, error)
	Load(ctx context.Context, group, name, version string) (*chart.Chart, string, error)
	Delete(ctx context.Context, group, name, version string) error
}

// chartRoutes are the routes of charts and chart groups.
func (m *Module) chartRoutes() []apigroup.Route {
	g := GroupPath + "chartgroups/{group}/"
	return []apigroup.Route{
		{Pattern: "GET " + g + "charts", Handler: m.listCharts},
		{Pattern: "GET " + g + "charts/{chart}", Handler: m.listVersions},
		{Pattern: "GET " + g + "charts/{chart}/versions/{version}", Handler: m.chartDetail},
		{Pattern: "DELETE " + g + "charts/{chart}", Handler: m.deleteChart},
		{Pattern: "DELETE " + g + "charts/{chart}/versions/{version}", Handler: m.deleteChart},
		{Pattern: "POST " + g + "sync", Handler: m.syncGroup},
		{Pattern: "GET " + g + "guide", Handler: m.chartGuide},
		{Pattern: "GET " + GroupPath + "charts", Handler: m.allCharts},
		{Pattern: "GET " + GroupPath + "chartgroupportal", Handler: m.chartGroupPortal},
	}
}

func chartGroupNotFound(name string) error {
	return apigroup.Refuse(http.StatusNotFound, "%s %q not found", KindChartGroup, name)
}

// chartGroup reads the group a route names and checks that p may take
// action ("pull", "delete") in it. Another tenant's group that is not
// public is answered exactly as a missing one.
func (m *Module) chartGroup(ctx context.Context, p *directory.Principal, name, action string) (*registryv1.ChartGroup, error) {
	if m.Charts == nil {
		return nil, errOff()
	}
	if CheckName(name) != nil {
		return nil, chartGroupNotFound(name)
	}
	var cg registryv1.ChartGroup
	if err := m.get(ctx, client.ObjectKey{Name: name}, &cg); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, chartGroupNotFound(name)
		}
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "reading chart group %s: %v", name, err)
	}
	sp := registryspace.FromChartGroup(&cg)
	own := decision.Admin(p) || sameTenant(p.Tenant, sp.Tenant)
	if !own && !sp.Public {
		return nil, chartGroupNotFound(name)
	}
	if !registryspace.May(ctx, m.Decider, p, sp, "*", action) {
		if !own {
			return nil, apigroup.Refuse(http.StatusForbidden, "chart group %s is another tenant's: it may be read, not changed", name)
		}
		return nil, apigroup.Refuse(http.StatusForbidden, "%s may not %s in chart group %s: it is visible to %s; ask its creator (%s) or a tenant administrator",
			p.Name(), action, name, visibleTo(&cg), cg.Spec.Creator)
	}
	return &cg, nil
}

func visibleTo(cg *registryv1.ChartGroup) string {
	switch cg.Spec.Visibility {
	case registryv1.VisibilityPublic:
		return "everyone"
	case registryv1.VisibilityProject:
		return "the members of its projects"
	default:
		return "its users"
	}
}

// chartError answers a ChartStore error: a missing chart or version is a 404.
func (m *Module) chartError(w http.ResponseWriter, err error) {
	if m.isNotFound(err) || (m.ErrChartNotFound != nil && errors.Is(err, m.ErrChartNotFound)) {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusNotFound, "%v", err))
		return
	}
	apigroup.WriteError(w, apigroup.Refuse(http.StatusServiceUnavailable, "%v", err))
}

func listMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: registryv1.GroupVersion.String(), Kind: kind}
}

func (m *Module) listCharts(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	cg, err := m.chartGroup(r.Context(), p, r.PathValue("group"), "pull")
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	items, err := m.Charts.Charts(r.Context(), cg.Name)
	if err != nil {
		m.chartError(w, err)
		return
	}
	for i := range items {
		items[i].Visibility = visibility(cg)
	}
	apigroup.WriteJSON(w, http.StatusOK, &registryv1.ChartList{TypeMeta: listMeta("ChartList"), Items: items})
}

func visibility(cg *registryv1.ChartGroup) registryv1.ChartGroupVisibility {
	if cg.Spec.Visibility == "" {
		return registryv1.VisibilityUser
	}
	return cg.Spec.Visibility
}

func (m *Module) listVersions(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	cg, err := m.chartGroup(r.Context(), p, r.PathValue("group"), "pull")
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	name := r.PathValue("chart")
	if err := checkRepo(cg.Name, name); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	items, err := m.Charts.Versions(r.Context(), cg.Name, name)
	if err != nil {
		m.chartError(w, err)
		return
	}
	apigroup.WriteJSON(w, http.StatusOK, &registryv1.ChartVersionList{TypeMeta: listMeta("ChartVersionList"), Chart: name, ChartGroup: cg.Name, Items: items})
}

func (m *Module) chartDetail(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	cg, err := m.chartGroup(r.Context(), p, r.PathValue("group"), "pull")
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	name := r.PathValue("chart")
	if err := checkRepo(cg.Name, name); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	d, err := m.Charts.Detail(r.Context(), cg.Name, name, r.PathValue("version"))
	if err != nil {
		m.chartError(w, err)
		return
	}
	d.TypeMeta = listMeta("ChartDetail")
	apigroup.WriteJSON(w, http.StatusOK, d)
}

func (m *Module) deleteChart(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	cg, err := m.chartGroup(r.Context(), p, r.PathValue("group"), "delete")
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	name, version := r.PathValue("chart"), r.PathValue("version")
	if err := checkRepo(cg.Name, name); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	if err := m.Charts.Delete(r.Context(), cg.Name, name, version); err != nil {
		m.chartError(w, err)
		return
	}
	if m.Log != nil {
		m.Log.Info("chart deleted", "chartGroup", cg.Name, "chart", name, "version", version, "by", p.Name())
	}
	msg := "chart " + cg.Name + "/" + name + " deleted"
	if version != "" {
		msg = "chart " + cg.Name + "/" + name + " " + version + " deleted"
	}
	apigroup.WriteJSON(w, http.StatusOK, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusSuccess, Code: http.StatusOK, Message: msg})
}

// syncGroup serves POST …/chartgroups/{group}/sync: an Imported group
// copies its repository now. Those who may change the group may sync it.
func (m *Module) syncGroup(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	ctx := r.Context()
	cg, err := m.chartGroup(ctx, p, r.PathValue("group"), "pull")
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	if !decision.Admin(p) && !sameTenant(p.Tenant, registryspace.TenantOf(cg.Spec.TenantID, cg.Labels)) {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusForbidden, "chart group %s is another tenant's: it may be read, not synced", cg.Name))
		return
	}
	if !decision.Admin(p) && p.Username != cg.Spec.Creator {
		if d := m.Decider.Can(ctx, p, "", "updateChartgroup", KindChartGroup+":"+cg.Name); !d.Allowed {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusForbidden, "%s may not sync chart group %s (it needs updateChartgroup on chartgroup:%s, or to be its creator): %s", p.Name(), cg.Name, cg.Name, d.Reason))
			return
		}
	}
	if cg.Spec.Type != registryv1.Imported || m.Importer == nil {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusBadRequest, "chart group %s is not imported: only groups of type Imported sync from a repository; push charts to it with helm push", cg.Name))
		return
	}
	// The sync goes on if the caller hangs up: a half-copied repository
	// would only be finished by the next one.
	sctx := context.WithoutCancel(ctx)
	res, syncErr := m.Importer.Sync(sctx, cg)
	if err := chartimport.RecordSync(sctx, m.Client, cg.Name, res, syncErr, m.chartCount); err != nil && m.Log != nil {
		m.Log.Warn("recording a chart sync", "chartGroup", cg.Name, "err", err)
	}
	if syncErr != nil {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusBadGateway, "syncing chart group %s: %v", cg.Name, syncErr))
		return
	}
	res.TypeMeta = listMeta("ChartSyncResult")
	apigroup.WriteJSON(w, http.StatusOK, &res)
}

// chartCount counts a group's charts, for its status.
func (m *Module) chartCount(ctx context.Context, group string) (int, error) {
	if m.Charts == nil {
		return 0, errOff()
	}
	cs, err := m.Charts.Charts(ctx, group)
	return len(cs), err
}

func (m *Module) chartGuide(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	cg, err := m.chartGroup(r.Context(), p, r.PathValue("group"), "pull")
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	host, user := m.host(), RegistryUsername(p)
	g := &registryv1.ChartUploadGuide{Registry: host, ChartGroup: cg.Name, Username: user,
		Login:   "helm registry login " + host + " --username " + user,
		Package: "helm package ./CHART-DIR",
		Push:    "helm push CHART-VERSION.tgz oci://" + host + "/" + cg.Name,
		Pull:    "helm pull oci://" + host + "/" + cg.Name + "/CHART --version VERSION",
		Notes:   []string{"log in with your password or an access key (kstack apikey create); the chart's name and version come from its Chart.yaml"},
	}
	if cg.Spec.Type == registryv1.Imported {
		g.Notes = append(g.Notes, "this group is imported from "+cg.Spec.ImportedInfo.Addr+": it is filled by its sync, and pushes to it are refused")
	} else if !registryspace.May(r.Context(), m.Decider, p, registryspace.FromChartGroup(cg), "*", "push") {
		g.Notes = append(g.Notes, p.Name()+" may pull from this group but not push to it")
	}
	apigroup.WriteJSON(w, http.StatusOK, g)
}

// pullableGroups are the chart groups p may pull from, by name.
func (m *Module) pullableGroups(ctx context.Context, p *directory.Principal) ([]registryv1.ChartGroup, error) {
	var list registryv1.ChartGroupList
	if err := m.Client.List(ctx, &list); err != nil {
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "listing chart groups: %v", err)
	}
	out := []registryv1.ChartGroup{}
	for _, cg := range list.Items {
		if cg.DeletionTimestamp != nil {
			continue
		}
		sp := registryspace.FromChartGroup(&cg)
		if !decision.Admin(p) && !sameTenant(p.Tenant, sp.Tenant) && !sp.Public {
			continue
		}
		if registryspace.May(ctx, m.Decider, p, sp, "*", "pull") {
			if !decision.Admin(p) && !sameTenant(p.Tenant, sp.Tenant) {
				// Another tenant's public group: what it is, not who
				// shares it nor where it imports from.
				cg.Spec.Users, cg.Spec.Projects, cg.Spec.ImportedInfo = nil, nil, nil
				cg.ManagedFields = nil
			}
			out = append(out, cg)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// chartGroupPortal serves GET …/chartgroupportal: the groups p may pull
// from (which their policies may not let them read as objects).
func (m *Module) chartGroupPortal(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	groups, err := m.pullableGroups(r.Context(), p)
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	list := &registryv1.ChartGroupList{Items: groups}
	list.APIVersion, list.Kind = registryv1.GroupVersion.String(), "ChartGroupList"
	apigroup.WriteJSON(w, http.StatusOK, list)
}

// allCharts serves GET …/charts[?visibility=V]: the charts of every group
// p may pull from (the console's templates: all, user, project, public).
func (m *Module) allCharts(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	if m.Charts == nil {
		apigroup.WriteError(w, errOff())
		return
	}
	want := registryv1.ChartGroupVisibility(r.URL.Query().Get("visibility"))
	switch want {
	case "", registryv1.VisibilityUser, registryv1.VisibilityProject, registryv1.VisibilityPublic:
	default:
		apigroup.WriteError(w, apigroup.Refuse(http.StatusBadRequest, "visibility %q: use User, Project or Public (or leave it out for every chart)", want))
		return
	}
	groups, err := m.pullableGroups(r.Context(), p)
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	items := []registryv1.Chart{}
	for i := range groups {
		cg := &groups[i]
		if want != "" && visibility(cg) != want {
			continue
		}
		cs, err := m.Charts.Charts(r.Context(), cg.Name)
		if err != nil {
			continue // a group the storage cannot list shows no charts
		}
		for j := range cs {
			cs[j].Visibility = visibility(cg)
		}
		items = append(items, cs...)
	}
	apigroup.WriteJSON(w, http.StatusOK, &registryv1.ChartList{TypeMeta: listMeta("ChartList"), Items: items})
}
