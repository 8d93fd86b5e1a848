package applicationapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	applicationv1 "github.com/kstack/kstack/api/application/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/directory"
)

// appFor authorizes verb on the App of the request's path for p and reads
// it, with Helm's configuration for its release, as p.
func (m *Module) appFor(ctx context.Context, r *http.Request, p *directory.Principal, verb string) (*applicationv1.App, *action.Configuration, error) {
	project, name := r.PathValue("project"), r.PathValue("name")
	if _, err := m.authorize(ctx, p, project, verb, name); err != nil {
		return nil, nil, err
	}
	var app applicationv1.App
	if err := m.Reader.Get(ctx, client.ObjectKey{Namespace: project, Name: name}, &app); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, apigroup.Refuse(http.StatusNotFound, "application %s not found in project %s (see kstack app list --project %s)", name, project, project)
		}
		return nil, nil, apigroup.Refuse(http.StatusServiceUnavailable, "reading application %s: %v", name, err)
	}
	// The namespace may have left the project since: then its apps are
	// not the project's to run.
	if verb != "get" && verb != "delete" {
		if err := m.checkTarget(ctx, project, app.Spec.TargetCluster, app.Spec.TargetNamespace); err != nil {
			return nil, nil, err
		}
	}
	cfg, err := m.helmFor(p, &app)
	if err != nil {
		return nil, nil, err
	}
	return &app, cfg, nil
}

func answer(w http.ResponseWriter, v any, err error) {
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	apigroup.WriteJSON(w, http.StatusOK, v)
}

// upgrade serves PUT …/apps/{name}: a new chart version and values for
// the release; the target cannot change.
func (m *Module) upgrade(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	app, err := m.upgradeApp(r.Context(), r, p)
	answer(w, app, err)
}

func (m *Module) upgradeApp(ctx context.Context, r *http.Request, p *directory.Principal) (*applicationv1.App, error) {
	want, err := decodeApp(r, r.PathValue("project"), false)
	if err != nil {
		return nil, err
	}
	if want.Name != "" && want.Name != r.PathValue("name") {
		return nil, apigroup.Invalid("metadata.name %q differs from the application in the URL, %s", want.Name, r.PathValue("name"))
	}
	cur, cfg, err := m.appFor(ctx, r, p, "update")
	if err != nil {
		return nil, err
	}
	ws, cs := want.Spec, cur.Spec
	switch {
	case ws.TargetCluster != "" && ws.TargetCluster != cs.TargetCluster,
		ws.TargetNamespace != "" && ws.TargetNamespace != cs.TargetNamespace,
		ws.Name != "" && ws.Name != releaseName(cur):
		return nil, apigroup.Invalid("an upgrade keeps the release where it is (%s in %s/%s): to move it, uninstall it and install it anew", releaseName(cur), cs.TargetCluster, cs.TargetNamespace)
	case ws.DryRun:
		return nil, apigroup.Invalid("spec.dryRun: dry runs are of installs; render an upgrade with kstack app install --dry-run under another name")
	}
	next := cur.DeepCopy()
	ns := &next.Spec
	// The chart's fields that are given replace the App's.
	for _, f := range []struct {
		to *string
		v  string
	}{{&ns.Chart.ChartGroupName, ws.Chart.ChartGroupName},
		{&ns.Chart.ChartName, ws.Chart.ChartName}, {&ns.Chart.ChartVersion, ws.Chart.ChartVersion}} {
		if f.v != "" {
			*f.to = f.v
		}
	}
	ns.Values.RawValues, ns.Values.RawValuesType = ws.Values.RawValues, ws.Values.RawValuesType
	ns.Wait, ns.Timeout = ws.Wait, ws.Timeout
	if err := checkSpec(next); err != nil {
		return nil, err
	}
	ch, err := m.chartFor(ctx, p, ns.Chart)
	if err != nil {
		return nil, err
	}
	var secret *string
	if ws.Values.SecretValues != "" {
		secret = &ws.Values.SecretValues
	}
	vals, secretVals, err := m.values(ctx, next, secret)
	if err != nil {
		return nil, err
	}
	all := merge(vals, secretVals)
	if err := checkSchema(ch, all); err != nil {
		return nil, schemaError(next, err)
	}
	op, err := m.begin(ctx, cur, "upgrade", p, applicationv1.AppUpgrading, cfg)
	if err != nil {
		return nil, err
	}
	// Past the lock, a client that hangs up cuts nothing short.
	ctx = context.WithoutCancel(ctx)
	up := action.NewUpgrade(cfg)
	up.Namespace, up.Wait, up.Timeout, up.MaxHistory = ns.TargetNamespace, ns.Wait, m.timeout(durationOf(ns.Timeout)), maxHistory
	up.Labels = map[string]string{chartGroupLabel: ns.Chart.ChartGroupName}
	rel := releaseName(cur)
	res, runErr := m.run(ctx, cur, op, up.Timeout, func(rctx context.Context) (*release.Release, error) {
		return up.RunWithContext(rctx, rel, ch, all)
	})
	if runErr != nil {
		return nil, m.failed(ctx, cur, op, latest(cfg, rel), helmError(fmt.Sprintf("upgrading %s in %s/%s", rel, ns.TargetCluster, ns.TargetNamespace), runErr))
	}
	// The release has the new values; now the record and the Secret.
	if secret != nil {
		if len(secretVals) > 0 {
			next.Spec.Values.SecretName = next.Name + "-values"
			if err := m.storeSecretValues(ctx, next, *secret); err != nil {
				return nil, err
			}
		} else if next.Spec.Values.SecretName != "" {
			m.dropSecretValues(ctx, next)
			next.Spec.Values.SecretName = ""
		}
		next.Spec.Values.SecretKeys = union(cur.Spec.Values.SecretKeys, keyPaths(secretVals))
	}
	return m.finish(ctx, cur, op, res, func(a *applicationv1.App) {
		a.Spec.Chart, a.Spec.Values, a.Spec.Wait, a.Spec.Timeout = next.Spec.Chart, next.Spec.Values, next.Spec.Wait, next.Spec.Timeout
		a.Spec.Values.SecretValues = ""
	}, nil, "upgraded to revision %d: %s %s", res.Version, ns.Chart.ChartName, ns.Chart.ChartVersion)
}

// maxHistory bounds the revisions Helm keeps per release, as the helm
// CLI's users are told to.
const maxHistory = 10

func (m *Module) dropSecretValues(ctx context.Context, app *applicationv1.App) {
	err := m.Client.Delete(context.WithoutCancel(ctx), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: app.Namespace, Name: app.Spec.Values.SecretName}})
	if err != nil && !apierrors.IsNotFound(err) && m.Log != nil {
		m.Log.Warn("deleting an application's secret values", "app", app.Namespace+"/"+app.Name, "err", err)
	}
}

// rollback serves POST …/apps/{name}/rollback.
func (m *Module) rollback(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	app, err := m.rollbackApp(r.Context(), r, p)
	answer(w, app, err)
}

func (m *Module) rollbackApp(ctx context.Context, r *http.Request, p *directory.Principal) (*applicationv1.App, error) {
	var body applicationv1.AppRollback
	if err := apigroup.DecodeBody(r, &body); err != nil {
		return nil, err
	}
	if body.Revision < 0 {
		return nil, apigroup.Invalid("revision %d: name a revision of the release (kstack app history), or 0 for the one before the current", body.Revision)
	}
	cur, cfg, err := m.appFor(ctx, r, p, "update")
	if err != nil {
		return nil, err
	}
	rel := releaseName(cur)
	hist, err := action.NewHistory(cfg).Run(rel)
	if err != nil {
		return nil, helmError("reading the history of "+rel, err)
	}
	target := body.Revision
	if target == 0 {
		last := 0
		for _, h := range hist {
			last = max(last, h.Version)
		}
		target = last - 1
	}
	var to *release.Release
	for _, h := range hist {
		if h.Version == target {
			to = h
		}
	}
	if to == nil {
		return nil, apigroup.Refuse(http.StatusNotFound, "release %s has no revision %d to roll back to (it has %s; see kstack app history %s)", rel, target, revisions(hist), cur.Name)
	}
	op, err := m.begin(ctx, cur, "rollback", p, applicationv1.AppRollingBack, cfg)
	if err != nil {
		return nil, err
	}
	// Past the lock, a client that hangs up cuts nothing short.
	ctx = context.WithoutCancel(ctx)
	rb := action.NewRollback(cfg)
	rb.Version, rb.Wait, rb.Timeout, rb.MaxHistory = target, cur.Spec.Wait, m.timeout(durationOf(cur.Spec.Timeout)), maxHistory
	res, runErr := m.run(ctx, cur, op, rb.Timeout, func(context.Context) (*release.Release, error) {
		if err := rb.Run(rel); err != nil {
			return nil, err
		}
		return cfg.Releases.Last(rel)
	})
	if runErr != nil {
		return nil, m.failed(ctx, cur, op, latest(cfg, rel), helmError(fmt.Sprintf("rolling %s back to revision %d", rel, target), runErr))
	}
	// The record follows the release: the chart version and values of the
	// revision rolled back to, the secret ones back in the Secret.
	vals := to.Config
	if vals == nil {
		vals = map[string]any{}
	}
	raw, secretVals := split(vals, cur.Spec.Values.SecretKeys)
	secretName := cur.Spec.Values.SecretName
	if len(secretVals) > 0 && secretName == "" {
		secretName = cur.Name + "-values"
	}
	if secretName != "" {
		withName := cur.DeepCopy()
		withName.Spec.Values.SecretName = secretName
		if err := m.storeSecretValues(ctx, withName, toYAML(secretVals)); err != nil {
			return nil, err
		}
	}
	out, err := m.finish(ctx, cur, op, res, func(a *applicationv1.App) {
		if to.Chart != nil && to.Chart.Metadata != nil {
			a.Spec.Chart.ChartName, a.Spec.Chart.ChartVersion = to.Chart.Metadata.Name, to.Chart.Metadata.Version
		}
		if g := to.Labels[chartGroupLabel]; g != "" {
			a.Spec.Chart.ChartGroupName = g
		}
		a.Spec.Values.RawValues, a.Spec.Values.RawValuesType = toYAML(raw), "yaml"
		a.Spec.Values.SecretName = secretName
	}, nil, "rolled back to revision %d (now revision %d)", target, res.Version)
	if err != nil {
		return nil, err
	}
	out.Status.RollbackRevision = target
	if err := m.Client.Status().Update(context.WithoutCancel(ctx), out); err != nil && m.Log != nil {
		m.Log.Warn("recording a rollback's revision", "app", cur.Namespace+"/"+cur.Name, "err", err)
	}
	return out, nil
}

func revisions(h []*release.Release) string {
	var vs []string
	for _, r := range h {
		vs = append(vs, strconv.Itoa(r.Version))
	}
	if len(vs) == 0 {
		return "none"
	}
	return "revisions " + strings.Join(vs, ", ")
}

// split parts vals into those not at paths and those at them.
func split(vals map[string]any, paths []string) (rest, at map[string]any) {
	rest, at = deepCopy(vals), map[string]any{}
	for _, p := range paths {
		parts := splitPath(p)
		src, dst := rest, at
		for i, k := range parts {
			v, ok := src[k]
			if !ok {
				break
			}
			if i == len(parts)-1 {
				dst[k] = v
				delete(src, k)
				break
			}
			next, ok := v.(map[string]any)
			if !ok {
				break
			}
			if _, ok := dst[k].(map[string]any); !ok {
				dst[k] = map[string]any{}
			}
			src, dst = next, dst[k].(map[string]any)
		}
	}
	return rest, at
}

// uninstall serves DELETE …/apps/{name}: the release goes, then the App
// and its secret values.
func (m *Module) uninstall(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	app, err := m.uninstallApp(r.Context(), r, p)
	answer(w, app, err)
}

func (m *Module) uninstallApp(ctx context.Context, r *http.Request, p *directory.Principal) (*applicationv1.App, error) {
	cur, cfg, err := m.appFor(ctx, r, p, "delete")
	if err != nil {
		return nil, err
	}
	var cl platformv1.Cluster
	if err := m.Client.Get(ctx, client.ObjectKey{Name: cur.Spec.TargetCluster}, &cl); apierrors.IsNotFound(err) {
		// The cluster is gone, and its release with it: only the record is left.
		return m.dropRecord(ctx, cur, "cluster "+cur.Spec.TargetCluster+" no longer exists; the application's record is removed")
	}
	op, err := m.begin(ctx, cur, "uninstall", p, applicationv1.AppUninstalling, cfg)
	if err != nil {
		return nil, err
	}
	// Past the lock, a client that hangs up cuts nothing short.
	ctx = context.WithoutCancel(ctx)
	rel := releaseName(cur)
	un := action.NewUninstall(cfg)
	un.Wait, un.Timeout = cur.Spec.Wait, m.timeout(durationOf(cur.Spec.Timeout))
	_, runErr := m.run(ctx, cur, op, un.Timeout, func(context.Context) (*release.Release, error) {
		_, err := un.Run(rel)
		if errors.Is(err, driver.ErrReleaseNotFound) {
			return nil, nil // gone already (helm uninstall outside the platform)
		}
		return nil, err
	})
	if runErr != nil {
		return nil, m.failed(ctx, cur, op, latest(cfg, rel), helmError(fmt.Sprintf("uninstalling %s from %s/%s", rel, cur.Spec.TargetCluster, cur.Spec.TargetNamespace), runErr))
	}
	return m.dropRecord(ctx, cur, "uninstalled "+rel)
}

// dropRecord deletes an App whose release is gone, with its secret values.
func (m *Module) dropRecord(ctx context.Context, cur *applicationv1.App, msg string) (*applicationv1.App, error) {
	bg := context.WithoutCancel(ctx)
	if cur.Spec.Values.SecretName != "" {
		m.dropSecretValues(bg, cur)
	}
	if err := m.Client.Delete(bg, cur); err != nil && !apierrors.IsNotFound(err) {
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "the release is gone, but deleting application %s failed: %v (uninstall it again to remove the record)", cur.Name, err)
	}
	cur.Status.Operation, cur.Status.Phase, cur.Status.Message = nil, applicationv1.AppSucceeded, msg
	return cur, nil
}

// history serves GET …/apps/{name}/histories, newest first.
func (m *Module) history(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	ctx := r.Context()
	cur, cfg, err := m.appFor(ctx, r, p, "get")
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	hist, err := action.NewHistory(cfg).Run(releaseName(cur))
	if err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		apigroup.WriteError(w, helmError("reading the history of "+releaseName(cur), err))
		return
	}
	sort.Slice(hist, func(i, j int) bool { return hist[i].Version > hist[j].Version })
	out := applicationv1.AppHistory{TypeMeta: metav1.TypeMeta{APIVersion: applicationv1.GroupVersion.String(), Kind: "AppHistory"}, Items: []applicationv1.AppRevision{}}
	for _, h := range hist {
		rv := applicationv1.AppRevision{Revision: h.Version}
		if h.Info != nil {
			rv.Status, rv.Description = h.Info.Status.String(), h.Info.Description
			if !h.Info.LastDeployed.IsZero() {
				t := metav1.NewTime(h.Info.LastDeployed.Time)
				rv.Updated = &t
			}
		}
		if h.Chart != nil && h.Chart.Metadata != nil {
			rv.Chart, rv.ChartVersion, rv.AppVersion = h.Chart.Metadata.Name, h.Chart.Metadata.Version, h.Chart.Metadata.AppVersion
		}
		out.Items = append(out.Items, rv)
	}
	apigroup.WriteJSON(w, http.StatusOK, out)
}

// diff serves GET …/apps/{name}/diff?from=N&to=M (default: the latest
// revision against the one before): the values given to each revision,
// the secret ones masked, and a unified diff.
func (m *Module) diff(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	out, err := m.diffApp(r.Context(), r, p)
	answer(w, out, err)
}

func (m *Module) diffApp(ctx context.Context, r *http.Request, p *directory.Principal) (*applicationv1.AppValuesDiff, error) {
	from, err1 := optInt(r, "from")
	to, err2 := optInt(r, "to")
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	cur, cfg, err := m.appFor(ctx, r, p, "get")
	if err != nil {
		return nil, err
	}
	rel := releaseName(cur)
	hist, err := action.NewHistory(cfg).Run(rel)
	if err != nil {
		return nil, helmError("reading the history of "+rel, err)
	}
	byRev := map[int]*release.Release{}
	last := 0
	for _, h := range hist {
		byRev[h.Version] = h
		last = max(last, h.Version)
	}
	if to == 0 {
		to = last
	}
	if from == 0 {
		from = to - 1
	}
	for _, v := range []int{from, to} {
		if byRev[v] == nil {
			return nil, apigroup.Refuse(http.StatusNotFound, "release %s has no revision %d (it has %s; see kstack app history %s)", rel, v, revisions(hist), cur.Name)
		}
	}
	show := func(v int) string {
		vals := byRev[v].Config
		if vals == nil {
			vals = map[string]any{}
		}
		return toYAML(masked(vals, cur.Spec.Values.SecretKeys))
	}
	a, b := show(from), show(to)
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b),
		FromFile: fmt.Sprintf("revision %d", from), ToFile: fmt.Sprintf("revision %d", to), Context: 3,
	})
	if err != nil {
		return nil, apigroup.Refuse(http.StatusInternalServerError, "comparing the values: %v", err)
	}
	return &applicationv1.AppValuesDiff{TypeMeta: metav1.TypeMeta{APIVersion: applicationv1.GroupVersion.String(), Kind: "AppValuesDiff"},
		From: from, To: to, FromValues: a, ToValues: b, Diff: d}, nil
}

func optInt(r *http.Request, name string) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, apigroup.Invalid("%s=%q: give a revision number (1, 2, ...; see kstack app history)", name, s)
	}
	return n, nil
}

// resources serves GET …/apps/{name}/resources: the objects of the
// release's manifest and their state, read as the caller.
func (m *Module) resources(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	out, err := m.resourcesOf(r.Context(), r, p)
	answer(w, out, err)
}

func (m *Module) resourcesOf(ctx context.Context, r *http.Request, p *directory.Principal) (*applicationv1.AppResourceList, error) {
	cur, cfg, err := m.appFor(ctx, r, p, "get")
	if err != nil {
		return nil, err
	}
	rel, err := action.NewGet(cfg).Run(releaseName(cur))
	if err != nil {
		return nil, helmError("reading release "+releaseName(cur), err)
	}
	out := &applicationv1.AppResourceList{TypeMeta: metav1.TypeMeta{APIVersion: applicationv1.GroupVersion.String(), Kind: "AppResourceList"},
		Revision: rel.Version, Items: []applicationv1.AppResource{}}
	infos, err := cfg.KubeClient.Build(bytes.NewBufferString(rel.Manifest), false)
	if err != nil {
		return nil, helmError("reading the manifest of "+rel.Name, err)
	}
	cs, err := cfg.KubernetesClientSet()
	if err != nil {
		return nil, helmError("reaching "+cur.Spec.TargetCluster, err)
	}
	checker := kube.NewReadyChecker(cs, func(string, ...any) {}, kube.PausedAsReady(true), kube.CheckJobs(true))
	for _, info := range infos {
		out.Items = append(out.Items, resourceState(ctx, checker, info))
	}
	return out, nil
}

func resourceState(ctx context.Context, checker kube.ReadyChecker, info *resource.Info) applicationv1.AppResource {
	gvk := info.Mapping.GroupVersionKind
	res := applicationv1.AppResource{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Namespace: info.Namespace, Name: info.Name}
	switch err := info.Get(); {
	case apierrors.IsNotFound(err):
		res.Status, res.Message = "Missing", "not in the cluster"
		return res
	case apierrors.IsForbidden(err):
		res.Status, res.Message = "Unknown", "you may not read it"
		return res
	case err != nil:
		res.Status, res.Message = "Unknown", err.Error()
		return res
	}
	ready, err := checker.IsReady(ctx, info)
	switch {
	case err != nil:
		res.Status, res.Message = "Unknown", err.Error()
	case ready:
		res.Status = "Ready"
	default:
		res.Status, res.Message = "NotReady", "not ready yet (pods not all running and ready, or not yet rolled out)"
	}
	return res
}

// listAll serves GET …/v1/apps: the Apps of the caller's tenant in every
// project whose apps the caller may list (project policies are per
// project, so the generic list, which has no project, would refuse).
func (m *Module) listAll(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	ctx := r.Context()
	var all applicationv1.AppList
	if err := m.Client.List(ctx, &all); err != nil {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusServiceUnavailable, "listing applications: %v", err))
		return
	}
	out := applicationv1.AppList{TypeMeta: metav1.TypeMeta{APIVersion: applicationv1.GroupVersion.String(), Kind: "AppList"}, Items: []applicationv1.App{}}
	may := map[string]bool{}
	for _, a := range all.Items {
		ok, seen := may[a.Namespace]
		if !seen {
			_, err := m.authorize(ctx, p, a.Namespace, "list", "*")
			ok = err == nil
			may[a.Namespace] = ok
		}
		if ok {
			a.Spec.Values.SecretValues = ""
			out.Items = append(out.Items, a)
		}
	}
	apigroup.WriteJSON(w, http.StatusOK, out)
}
