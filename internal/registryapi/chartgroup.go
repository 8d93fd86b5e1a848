package registryapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/chartimport"
	"github.com/kstack/kstack/internal/registryspace"
)

// KindChartGroup is the singular resource of chart groups.
const KindChartGroup = "chartgroup"

// minSyncInterval keeps a repository from being polled harder than this.
const minSyncInterval = time.Minute

// admitChartGroup checks a create's name, moves a repository password into
// its Secret, stamps the creator, and decides deletes (refused while the
// group holds charts, unless ?force=true).
func (m *Module) admitChartGroup(ctx context.Context, r *apigroup.Request) error {
	a := r.Attributes
	switch a.Verb {
	case "deletecollection":
		return apigroup.Refuse(http.StatusMethodNotAllowed, "delete chart groups one at a time (kstack chart group delete NAME): each one's charts are checked first")
	case "delete":
		return m.admitChartGroupDelete(ctx, r)
	case "create", "update":
	default:
		return nil
	}
	if r.Object == nil {
		return nil
	}
	name := r.Object.GetName()
	if a.Verb == "create" {
		if err := CheckName(name); err != nil {
			return err
		}
		// Before anything is stored for it (its password's Secret): a
		// group of that name, of any tenant, is not this one.
		if err := m.nameFree(ctx, name, "chart group", &registryv1.ChartGroup{}); err != nil {
			return err
		}
		// The creator is whoever creates it; administrators may name another.
		if c, _, _ := unstructured.NestedString(r.Object.Object, "spec", "creator"); c == "" || !decision.Admin(r.Principal) {
			_ = unstructured.SetNestedField(r.Object.Object, r.Principal.Username, "spec", "creator")
		}
	}
	info, found, _ := unstructured.NestedMap(r.Object.Object, "spec", "importedInfo")
	if !found {
		return nil
	}
	password, _ := info["password"].(string)
	switch {
	case password != "":
		delete(info, "password")
		info["passwordSecret"] = chartimport.SecretName(name)
		if err := unstructured.SetNestedMap(r.Object.Object, info, "spec", "importedInfo"); err != nil {
			return err
		}
		// The group as it will be stored must pass before its password
		// is: a refused group leaves no Secret behind.
		if err := m.validateChartGroup(ctx, r); err != nil {
			return err
		}
		if err := m.storePassword(ctx, name, password); err != nil {
			return err
		}
	case a.Verb == "update":
		// A replace without a password keeps the one stored, for the same
		// repository host only: the password is never sent elsewhere.
		var old registryv1.ChartGroup
		addr, _ := info["addr"].(string)
		if err := m.get(ctx, client.ObjectKey{Name: name}, &old); err == nil && old.Spec.ImportedInfo != nil && old.Spec.ImportedInfo.PasswordSecret != "" &&
			sameOrigin(old.Spec.ImportedInfo.Addr, addr) {
			info["passwordSecret"] = old.Spec.ImportedInfo.PasswordSecret
		} else {
			delete(info, "passwordSecret")
		}
	default:
		delete(info, "passwordSecret") // only the platform names it
	}
	return unstructured.SetNestedMap(r.Object.Object, info, "spec", "importedInfo")
}

// sameOrigin says whether two repository URLs have one scheme and host.
func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && strings.EqualFold(ua.Host, ub.Host)
}

func (m *Module) storePassword(ctx context.Context, group, password string) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: m.SystemNamespace, Name: chartimport.SecretName(group),
		Labels: map[string]string{"registry.tkestack.io/chartgroup": group}}}
	s.Data = map[string][]byte{chartimport.PasswordKey: []byte(password)}
	err := m.Client.Create(ctx, s)
	if apierrors.IsAlreadyExists(err) {
		var cur corev1.Secret
		if err = m.Reader.Get(ctx, client.ObjectKeyFromObject(s), &cur); err == nil {
			cur.Data = s.Data
			err = m.Client.Update(ctx, &cur)
		}
	}
	if err != nil {
		return apigroup.Refuse(http.StatusServiceUnavailable, "storing the repository password of chart group %s: %v; nothing was changed: try again", group, err)
	}
	return nil
}

func (m *Module) admitChartGroupDelete(ctx context.Context, r *apigroup.Request) error {
	name := r.Attributes.Name
	var cg registryv1.ChartGroup
	if err := m.get(ctx, client.ObjectKey{Name: name}, &cg); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return apigroup.Refuse(http.StatusServiceUnavailable, "reading chart group %s: %v", name, err)
	}
	if m.Store == nil || m.Charts == nil {
		return apigroup.Refuse(http.StatusServiceUnavailable, "the registry is off on this platform, so chart group %s cannot be checked for charts: delete it when the registry runs", name)
	}
	repos, err := m.Store.Repositories(ctx, name)
	if err != nil {
		return apigroup.Refuse(http.StatusServiceUnavailable, "listing the charts of chart group %s: %v", name, err)
	}
	if len(repos) > 0 {
		if r.Query.Get("force") != "true" {
			return apigroup.Refuse(http.StatusConflict, "chart group %s still holds %s (e.g. %s): delete them, or delete the group with ?force=true (kstack chart group delete %s --force), which deletes its charts",
				name, plural(len(repos), "chart", "charts"), repos[0].Name, name)
		}
		if !registryspace.May(ctx, m.Decider, r.Principal, registryspace.FromChartGroup(&cg), "*", "delete") {
			return apigroup.Refuse(http.StatusForbidden, "%s may not delete the charts of chart group %s (it needs %s on %s)", r.Principal.Name(), name, ActionDelete, repoResource(name, "*"))
		}
		if err := m.Store.DeleteNamespace(ctx, name); err != nil {
			return apigroup.Refuse(http.StatusServiceUnavailable, "deleting the charts of chart group %s: %v; the group is kept: try again", name, err)
		}
	}
	if cg.Spec.ImportedInfo != nil && cg.Spec.ImportedInfo.PasswordSecret != "" {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: m.SystemNamespace, Name: cg.Spec.ImportedInfo.PasswordSecret}}
		if err := m.Client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			return apigroup.Refuse(http.StatusServiceUnavailable, "deleting the repository password of chart group %s: %v; the group is kept: try again", name, err)
		}
	}
	return nil
}

// validateChartGroup checks a chart group as it would be stored.
func (m *Module) validateChartGroup(ctx context.Context, r *apigroup.Request) error {
	var cg registryv1.ChartGroup
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Object.Object, &cg); err != nil {
		return apigroup.Invalid("not a ChartGroup: %v", err)
	}
	if err := CheckName(cg.Name); err != nil {
		return err
	}
	if r.Old == nil {
		if err := m.nameFree(ctx, cg.Name, "registry namespace", &registryv1.RegistryNamespace{}); err != nil {
			return err
		}
	}
	s := cg.Spec
	switch {
	case len([]rune(s.DisplayName)) > 60:
		return apigroup.Invalid("spec.displayName: at most 60 characters")
	case len([]rune(s.Description)) > 255:
		return apigroup.Invalid("spec.description: at most 255 characters")
	}
	switch s.Visibility {
	case "", registryv1.VisibilityUser, registryv1.VisibilityProject, registryv1.VisibilityPublic:
	default:
		return apigroup.Invalid("spec.visibility %q: use User (the users in spec.users), Project (the members of the projects in spec.projects) or Public (everyone pulls)", s.Visibility)
	}
	if r.Old != nil {
		oldCreator, _, _ := unstructured.NestedString(r.Old.Object, "spec", "creator")
		if s.Creator != oldCreator {
			return apigroup.Invalid("spec.creator: the creator of a chart group does not change (it is %q)", oldCreator)
		}
	}
	tenant := registryspace.TenantOf(s.TenantID, cg.Labels)
	var oldUsers, oldProjects []string
	if r.Old != nil {
		oldUsers, _, _ = unstructured.NestedStringSlice(r.Old.Object, "spec", "users")
		oldProjects, _, _ = unstructured.NestedStringSlice(r.Old.Object, "spec", "projects")
	}
	for i, u := range s.Users {
		field := fmt.Sprintf("spec.users[%d]", i)
		if slices.Contains(s.Users[:i], u) {
			return apigroup.Invalid("%s: user %s is named twice", field, u)
		}
		if slices.Contains(oldUsers, u) {
			continue
		}
		if _, err := m.Decider.Dir.User(ctx, tenant, u); err != nil {
			if apierrors.IsNotFound(err) {
				return apigroup.Invalid("%s: no user %q in tenant %s (see kstack user list)", field, u, tenant)
			}
			return apigroup.Refuse(http.StatusServiceUnavailable, "%s: reading user %s: %v", field, u, err)
		}
	}
	for i, prj := range s.Projects {
		field := fmt.Sprintf("spec.projects[%d]", i)
		if slices.Contains(s.Projects[:i], prj) {
			return apigroup.Invalid("%s: project %s is named twice", field, prj)
		}
		if slices.Contains(oldProjects, prj) {
			continue
		}
		if err := m.checkProject(ctx, r.Principal, field, prj, tenant); err != nil {
			return err
		}
	}
	return m.validateImport(ctx, &cg, r.Old)
}

func (m *Module) validateImport(ctx context.Context, cg *registryv1.ChartGroup, old *unstructured.Unstructured) error {
	info := cg.Spec.ImportedInfo
	if cg.Spec.Type != registryv1.Imported {
		if info != nil {
			return apigroup.Invalid("spec.importedInfo is for imported groups: set spec.type Imported to import a repository, or leave importedInfo out")
		}
		return nil
	}
	if info == nil || info.Addr == "" {
		return apigroup.Invalid("spec.importedInfo.addr: an Imported chart group needs the repository's URL (the one whose index.yaml lists the charts), e.g. https://charts.example.com/stable")
	}
	if info.Password != "" {
		return apigroup.Invalid("spec.importedInfo.password: passwords are moved into a Secret when a chart group is created or replaced whole; a patch cannot carry one: replace the group (kstack chart group create, or PUT)")
	}
	if info.Username == "" && info.PasswordSecret != "" {
		return apigroup.Invalid("spec.importedInfo.username: a password was given without a username")
	}
	if info.PasswordSecret != "" && info.PasswordSecret != chartimport.SecretName(cg.Name) {
		return apigroup.Invalid("spec.importedInfo.passwordSecret is set by the platform; give the password in spec.importedInfo.password instead")
	}
	u, err := url.Parse(info.Addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return apigroup.Invalid("spec.importedInfo.addr %q is not an http or https URL such as https://charts.example.com/stable", info.Addr)
	}
	if u.User != nil {
		return apigroup.Invalid("spec.importedInfo.addr: put the credentials in username and password, not in the URL (they would be stored in clear)")
	}
	if old == nil || func() bool {
		a, _, _ := unstructured.NestedString(old.Object, "spec", "importedInfo", "addr")
		return a != info.Addr
	}() {
		if m.Dial == nil {
			return apigroup.Refuse(http.StatusServiceUnavailable, "this platform has no dial policy, so it imports no repository")
		}
		if err := m.Dial.CheckURL(ctx, "spec.importedInfo.addr", info.Addr); err != nil {
			return apigroup.Invalid("%v", err)
		}
	}
	if iv := info.SyncInterval; iv != nil && iv.Duration != 0 && iv.Duration < minSyncInterval {
		return apigroup.Invalid("spec.importedInfo.syncInterval %s: use 0s (sync on demand only) or at least %s", iv.Duration, minSyncInterval)
	}
	if info.LatestVersions < 0 {
		return apigroup.Invalid("spec.importedInfo.latestVersions %d: use 0 (every version) or a positive number", info.LatestVersions)
	}
	return nil
}

// nameFree refuses a name that the other kind of registry space holds: both
// are the first path segment of the registry.
func (m *Module) nameFree(ctx context.Context, name, what string, obj client.Object) error {
	err := m.get(ctx, client.ObjectKey{Name: name}, obj)
	switch {
	case err == nil:
		return apigroup.Refuse(http.StatusConflict, "metadata.name %q is taken by a %s: chart groups and registry namespaces share the registry's first path segment; choose another name", name, what)
	case apierrors.IsNotFound(err):
		return nil
	default:
		return apigroup.Refuse(http.StatusServiceUnavailable, "checking that %q is free: %v", name, err)
	}
}
