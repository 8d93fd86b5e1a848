package applicationapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	applicationv1 "github.com/kstack/kstack/api/application/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/platformapi"
	"github.com/kstack/kstack/internal/registryspace"
)

// appNameRE is the seed's rule for an application's name: 1 to 63
// lower-case letters, digits and '-', starting with a letter, ending with
// a letter or digit.
var appNameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// maxReleaseName is Helm's own bound on a release's name.
const maxReleaseName = 53

// Labels of a release's revisions: the UID of the App that installed it,
// and the chart group of the revision's chart (a rollback restores it).
const (
	releaseAppLabel = "kstack.io/app-uid"
	chartGroupLabel = "kstack.io/chart-group"
)

// SecretValuesKey is the key of an App's secret values in its Secret.
const SecretValuesKey = "values.yaml"

func releaseName(app *applicationv1.App) string {
	if app.Spec.Name != "" {
		return app.Spec.Name
	}
	return app.Name
}

// decodeApp reads an App from the body; for an install (named), a missing
// metadata.name is the release's name.
func decodeApp(r *http.Request, project string, named bool) (*applicationv1.App, error) {
	var app applicationv1.App
	if err := apigroup.DecodeBody(r, &app); err != nil {
		return nil, err
	}
	if app.Namespace != "" && app.Namespace != project {
		return nil, apigroup.Invalid("metadata.namespace %q: an App lives in the namespace of its project, %s, as the URL says", app.Namespace, project)
	}
	app.Namespace = project
	if app.Name == "" && named {
		app.Name = app.Spec.Name
	}
	return &app, nil
}

// checkSpec refuses what no release could be made of.
func checkSpec(app *applicationv1.App) error {
	s := app.Spec
	switch {
	case app.Name == "":
		return apigroup.Invalid("metadata.name: name the application (1 to 63 lower-case letters, digits and '-', starting with a letter), e.g. web")
	case !appNameRE.MatchString(app.Name):
		return apigroup.Invalid("metadata.name %q: an application's name is 1 to 63 lower-case letters, digits and '-', starting with a letter and ending with a letter or digit", app.Name)
	case s.Name != "" && (!appNameRE.MatchString(s.Name) || len(s.Name) > maxReleaseName):
		return apigroup.Invalid("spec.name %q: a release's name is 1 to 53 lower-case letters, digits and '-', starting with a letter", s.Name)
	case s.Name == "" && len(app.Name) > maxReleaseName:
		return apigroup.Invalid("metadata.name %q is longer than Helm's 53 characters for a release: give a shorter spec.name", app.Name)
	case s.Type != "" && s.Type != applicationv1.HelmV3:
		return apigroup.Invalid("spec.type %q: only HelmV3 applications exist", s.Type)
	case s.TargetCluster == "":
		return apigroup.Invalid("spec.targetCluster: name the member cluster to install into (see kstack cluster list)")
	case s.TargetNamespace == "":
		return apigroup.Invalid("spec.targetNamespace: name the namespace of %s to install into (one of your project's namespaces)", s.TargetCluster)
	case s.Chart.ChartGroupName == "" || s.Chart.ChartName == "":
		return apigroup.Invalid("spec.chart: name the chart group and chart (chartGroupName, chartName; see kstack chart list)")
	case s.Chart.ChartVersion == "":
		return apigroup.Invalid("spec.chart.chartVersion: name the chart's version (see kstack chart versions %s/%s)", s.Chart.ChartGroupName, s.Chart.ChartName)
	case s.Values.RawValuesType != "" && s.Values.RawValuesType != "yaml" && s.Values.RawValuesType != "json":
		return apigroup.Invalid("spec.values.rawValuesType %q: use yaml or json", s.Values.RawValuesType)
	case s.Timeout != nil && (s.Timeout.Duration < 0 || s.Timeout.Duration > time.Hour):
		return apigroup.Invalid("spec.timeout %s: use a duration up to 1h", s.Timeout.Duration)
	}
	return nil
}

// authorize decides verb ("create", "update", "delete", "get") on the App
// name of project for p, and that the project is of p's tenant; it
// answers the project's tenant. Another tenant's project is answered as a
// missing one.
func (m *Module) authorize(ctx context.Context, p *directory.Principal, project, verb, name string) (string, error) {
	var prj businessv1.Project
	err := m.Client.Get(ctx, client.ObjectKey{Name: project}, &prj)
	if apierrors.IsNotFound(err) && m.Reader != nil {
		err = m.Reader.Get(ctx, client.ObjectKey{Name: project}, &prj)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return "", apigroup.Refuse(http.StatusServiceUnavailable, "reading project %s: %v", project, err)
	}
	tenant := registryspace.TenantOf(prj.Spec.TenantID, prj.Labels)
	if err != nil || (!decision.Admin(p) && tenant != p.Tenant && !(p.Tenant == "" && tenant == apigroup.DefaultTenant)) {
		return "", apigroup.Refuse(http.StatusNotFound, "project %q not found", project)
	}
	if decision.Admin(p) {
		return tenant, nil
	}
	action := verb + "App"
	res := "namespace:" + project + "/app:" + name
	if d := m.Decider.Can(ctx, p, project, action, res); !d.Allowed {
		return "", apigroup.Refuse(http.StatusForbidden, "%s may not %s application %s in project %s (it needs %s on %s): %s", p.Name(), verb, name, project, action, res, d.Reason)
	}
	return tenant, nil
}

// checkTarget refuses a namespace that is not the project's.
func (m *Module) checkTarget(ctx context.Context, project, cluster, namespace string) error {
	if m.ProjectOf == nil || m.ProjectOf(ctx, cluster, namespace) != project {
		return apigroup.Refuse(http.StatusForbidden, "namespace %s of cluster %s is not a namespace of project %s: install into one of the project's namespaces (kstack namespace list --project %s)", namespace, cluster, project, project)
	}
	return nil
}

// chartFor loads the chart an App names, if p may pull it.
func (m *Module) chartFor(ctx context.Context, p *directory.Principal, c applicationv1.Chart) (*chart.Chart, error) {
	if m.Charts == nil {
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "the registry is off on this platform, so there are no charts to install")
	}
	sp, err := registryspace.Lookup(ctx, m.Client, c.ChartGroupName)
	if err != nil {
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "reading chart group %s: %v", c.ChartGroupName, err)
	}
	if sp == nil || sp.ChartGroup == nil || !registryspace.May(ctx, m.Decider, p, sp, c.ChartName, "pull") {
		// Another tenant's or a forbidden group reads as a missing one.
		return nil, apigroup.Refuse(http.StatusNotFound, "spec.chart.chartGroupName: no chart group %q that %s may pull from (see kstack chart group list)", c.ChartGroupName, p.Name())
	}
	ch, _, err := m.Charts.Load(ctx, c.ChartGroupName, c.ChartName, c.ChartVersion)
	if err != nil {
		return nil, apigroup.Refuse(http.StatusNotFound, "spec.chart: %v", err)
	}
	return ch, nil
}

// values are what an App's release is rendered with: its raw values with
// its secret values over them. secret is nil to keep the stored ones.
func (m *Module) values(ctx context.Context, app *applicationv1.App, secret *string) (vals, secretVals map[string]any, err error) {
	vals, err = parseValues("spec.values.rawValues", app.Spec.Values.RawValues)
	if err != nil {
		return nil, nil, apigroup.Invalid("%v", err)
	}
	switch {
	case secret != nil:
		secretVals, err = parseValues("spec.values.secretValues", *secret)
		if err != nil {
			return nil, nil, apigroup.Invalid("%v", err)
		}
	case app.Spec.Values.SecretName != "":
		var s corev1.Secret
		if err := m.Reader.Get(ctx, client.ObjectKey{Namespace: app.Namespace, Name: app.Spec.Values.SecretName}, &s); err != nil {
			return nil, nil, apigroup.Refuse(http.StatusServiceUnavailable, "reading the secret values of application %s: %v", app.Name, err)
		}
		secretVals, err = parseValues("the stored secret values", string(s.Data[SecretValuesKey]))
		if err != nil {
			return nil, nil, apigroup.Refuse(http.StatusInternalServerError, "%v", err)
		}
	default:
		secretVals = map[string]any{}
	}
	return vals, secretVals, nil
}

func schemaError(app *applicationv1.App, err error) error {
	return apigroup.Invalid("the values do not fit the values.schema.json of chart %s/%s %s:\n%v", app.Spec.Chart.ChartGroupName, app.Spec.Chart.ChartName, app.Spec.Chart.ChartVersion, strings.TrimSpace(err.Error()))
}

// helmFor is Helm's configuration for the App's namespace in its member,
// through the proxy, as p.
func (m *Module) helmFor(p *directory.Principal, app *applicationv1.App) (*action.Configuration, error) {
	cfg, err := helmConfig(platformapi.MemberConfig(m.Host, p, app.Spec.TargetCluster), app.Spec.TargetNamespace)
	if err != nil {
		return nil, apigroup.Refuse(http.StatusBadGateway, "reaching cluster %s: %v", app.Spec.TargetCluster, err)
	}
	return cfg, nil
}

// helmError answers an error of a Helm operation.
func helmError(what string, err error) error {
	msg := err.Error()
	switch {
	case apierrors.IsForbidden(errors.Unwrap(err)) || strings.Contains(msg, "forbidden"):
		return apigroup.Refuse(http.StatusForbidden, "%s: %s", what, msg)
	case errors.Is(err, driver.ErrReleaseNotFound):
		return apigroup.Refuse(http.StatusNotFound, "%s: %s", what, msg)
	case strings.Contains(msg, "another operation (install/upgrade/rollback) is in progress"):
		return apigroup.Refuse(http.StatusConflict, "%s: %s (an operation outside this platform, e.g. the helm CLI, holds the release: wait for it, or roll it back)", what, msg)
	case strings.Contains(msg, "cannot re-use a name"):
		return apigroup.Refuse(http.StatusConflict, "%s: %s", what, msg)
	}
	return apigroup.Refuse(http.StatusUnprocessableEntity, "%s: %s", what, msg)
}

// install serves POST …/namespaces/{project}/apps.
func (m *Module) install(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	app, err := m.installApp(r.Context(), r, p)
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	code := http.StatusCreated
	if app.Spec.DryRun {
		code = http.StatusOK
	}
	apigroup.WriteJSON(w, code, app)
}

func (m *Module) installApp(ctx context.Context, r *http.Request, p *directory.Principal) (*applicationv1.App, error) {
	project := r.PathValue("project")
	app, err := decodeApp(r, project, true)
	if err != nil {
		return nil, err
	}
	if err := checkSpec(app); err != nil {
		return nil, err
	}
	tenant, err := m.authorize(ctx, p, project, "create", app.Name)
	if err != nil {
		return nil, err
	}
	s := &app.Spec
	if err := m.checkTarget(ctx, project, s.TargetCluster, s.TargetNamespace); err != nil {
		return nil, err
	}
	ch, err := m.chartFor(ctx, p, s.Chart)
	if err != nil {
		return nil, err
	}
	secret := s.Values.SecretValues
	s.Values.SecretName, s.Values.SecretKeys = "", nil
	vals, secretVals, err := m.values(ctx, app, &secret)
	if err != nil {
		return nil, err
	}
	all := merge(vals, secretVals)
	if err := checkSchema(ch, all); err != nil {
		return nil, schemaError(app, err)
	}
	cfg, err := m.helmFor(p, app)
	if err != nil {
		return nil, err
	}
	rel := releaseName(app)
	if s.DryRun {
		return m.dryRun(ctx, cfg, app, ch, all)
	}
	var existing applicationv1.App
	if err := m.Reader.Get(ctx, client.ObjectKeyFromObject(app), &existing); err == nil {
		return nil, appExists(app.Name, project)
	}
	if err := m.checkFree(ctx, cfg, app); err != nil {
		return nil, err
	}
	// The record first (its name is the lock), then the release.
	s.Values.SecretValues, s.TenantID, s.ProjectName, s.Type = "", tenant, project, applicationv1.HelmV3
	s.Values.SecretKeys = keyPaths(secretVals)
	if len(secretVals) > 0 {
		s.Values.SecretName = app.Name + "-values"
	}
	// Fresh metadata: the caller's labels and annotations, nothing that
	// would tie the record's life to something else (finalizers, owners).
	labels := map[string]string{}
	for k, v := range app.Labels {
		labels[k] = v
	}
	labels[apigroup.LabelTenant] = tenant
	app.ObjectMeta = metav1.ObjectMeta{Name: app.Name, Namespace: project, Labels: labels, Annotations: app.Annotations}
	app.Status = applicationv1.AppStatus{}
	if err := m.Client.Create(ctx, app); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, appExists(app.Name, project)
		}
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "storing application %s: %v", app.Name, err)
	}
	undo := func() {
		bg := context.WithoutCancel(ctx)
		_ = m.Client.Delete(bg, app)
		if s.Values.SecretName != "" {
			_ = m.Client.Delete(bg, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: s.Values.SecretName}})
		}
	}
	if len(secretVals) > 0 {
		if err := m.storeSecretValues(ctx, app, secret); err != nil {
			undo()
			return nil, err
		}
	}
	op, err := m.begin(ctx, app, "install", p, applicationv1.AppInstalling, cfg)
	if err != nil {
		undo()
		return nil, err
	}
	// Past the lock, a client that hangs up cuts nothing short.
	ctx = context.WithoutCancel(ctx)
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace = rel, s.TargetNamespace
	install.Wait, install.Timeout = s.Wait, m.timeout(durationOf(s.Timeout))
	// The release this install makes carries the App's UID, so that a
	// failure removes that release only, never one made meanwhile.
	install.Labels = map[string]string{releaseAppLabel: string(app.UID), chartGroupLabel: s.Chart.ChartGroupName}
	res, runErr := m.run(ctx, app, op, install.Timeout, func(rctx context.Context) (*release.Release, error) {
		return install.RunWithContext(rctx, ch, all)
	})
	if runErr != nil {
		// Nothing half-made: the release (if this install recorded one)
		// goes, and the record with it; a release of that name made
		// meanwhile (the helm CLI, say) is not ours to remove.
		if last, err := cfg.Releases.Last(rel); err == nil && last.Labels[releaseAppLabel] == string(app.UID) {
			if _, uerr := action.NewUninstall(cfg).Run(rel); uerr != nil && !errors.Is(uerr, driver.ErrReleaseNotFound) && m.Log != nil {
				m.Log.Warn("removing a failed install", "app", project+"/"+app.Name, "err", uerr)
			}
		}
		undo()
		return nil, helmError(fmt.Sprintf("installing %s into %s/%s", rel, s.TargetCluster, s.TargetNamespace), runErr)
	}
	return m.finish(ctx, app, op, res, nil, nil, "installed revision %d of %s %s", res.Version, s.Chart.ChartName, s.Chart.ChartVersion)
}

func appExists(name, project string) error {
	return apigroup.Refuse(http.StatusConflict, "application %s already exists in project %s: upgrade it (kstack app upgrade %s), or choose another name", name, project, name)
}

func durationOf(d *metav1.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	return &d.Duration
}

// checkFree refuses a release name taken in the namespace, by an App of
// the project or by a release made elsewhere.
func (m *Module) checkFree(ctx context.Context, cfg *action.Configuration, app *applicationv1.App) error {
	rel := releaseName(app)
	var list applicationv1.AppList
	if err := m.Reader.List(ctx, &list, client.InNamespace(app.Namespace)); err != nil {
		return apigroup.Refuse(http.StatusServiceUnavailable, "listing the applications of project %s: %v", app.Namespace, err)
	}
	for _, o := range list.Items {
		if o.Spec.TargetCluster == app.Spec.TargetCluster && o.Spec.TargetNamespace == app.Spec.TargetNamespace && releaseName(&o) == rel {
			return apigroup.Refuse(http.StatusConflict, "release name %s is taken in namespace %s of cluster %s by application %s: choose another name (spec.name)", rel, app.Spec.TargetNamespace, app.Spec.TargetCluster, o.Name)
		}
	}
	h, err := action.NewHistory(cfg).Run(rel)
	switch {
	case err == nil && len(h) > 0:
		return apigroup.Refuse(http.StatusConflict, "release name %s is taken in namespace %s of cluster %s (a release made outside this platform, revision %d, %s): choose another name (spec.name)",
			rel, app.Spec.TargetNamespace, app.Spec.TargetCluster, h[len(h)-1].Version, h[len(h)-1].Info.Status)
	case err != nil && !errors.Is(err, driver.ErrReleaseNotFound):
		return helmError(fmt.Sprintf("reading release %s in %s/%s", rel, app.Spec.TargetCluster, app.Spec.TargetNamespace), err)
	}
	return nil
}

// dryRun renders the release and answers the manifest; nothing is stored.
func (m *Module) dryRun(ctx context.Context, cfg *action.Configuration, app *applicationv1.App, ch *chart.Chart, vals map[string]any) (*applicationv1.App, error) {
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace, install.DryRun = releaseName(app), app.Spec.TargetNamespace, true
	install.Replace = true // a dry run does not care whether the name is taken
	rel, err := install.RunWithContext(ctx, ch, vals)
	if err != nil {
		return nil, helmError("rendering "+releaseName(app), err)
	}
	var b strings.Builder
	b.WriteString(rel.Manifest)
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "---\n# Source: %s (hook: %v)\n%s\n", h.Path, h.Events, h.Manifest)
	}
	app.Spec.Values.SecretValues = ""
	app.Status = applicationv1.AppStatus{Phase: applicationv1.AppSucceeded, Message: "dry run: nothing was installed", Manifest: b.String()}
	return app, nil
}

func (m *Module) storeSecretValues(ctx context.Context, app *applicationv1.App, doc string) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: app.Namespace, Name: app.Spec.Values.SecretName,
		Labels:          map[string]string{"application.tkestack.io/app": app.Name},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: applicationv1.GroupVersion.String(), Kind: "App", Name: app.Name, UID: app.UID}}},
		Data: map[string][]byte{SecretValuesKey: []byte(doc)}}
	err := m.Client.Create(ctx, s)
	if apierrors.IsAlreadyExists(err) {
		var cur corev1.Secret
		if err = m.Reader.Get(ctx, client.ObjectKeyFromObject(s), &cur); err == nil {
			if cur.Labels["application.tkestack.io/app"] != app.Name {
				// Someone else's Secret of that name is not taken over.
				return apigroup.Refuse(http.StatusConflict, "Secret %s in %s is not application %s's: rename or remove it, then try again", s.Name, app.Namespace, app.Name)
			}
			cur.Data, cur.OwnerReferences = s.Data, s.OwnerReferences
			err = m.Client.Update(ctx, &cur)
		}
	}
	if err != nil {
		return apigroup.Refuse(http.StatusServiceUnavailable, "storing the secret values of application %s: %v", app.Name, err)
	}
	return nil
}
