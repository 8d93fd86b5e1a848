package registryapi

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

var (
	// componentRE is distribution's rule for one component of a
	// repository's name.
	componentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*$`)
	// tagRE is distribution's rule for a tag.
	tagRE = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
)

// checkRepo refuses a repository name the registry could not hold. It is
// checked before the namespace is looked up: it tells nothing of what
// exists.
func checkRepo(ns, repo string) error {
	if repo == "" {
		return apigroup.Refuse(http.StatusBadRequest, "name the repository (the path after the namespace, e.g. web or tools/cli)")
	}
	for _, c := range strings.Split(repo, "/") {
		if !componentRE.MatchString(c) {
			return apigroup.Refuse(http.StatusBadRequest, "repository %q is not a repository name: components of lower-case letters and digits, separated by '/', with single '.', '_', '__' or dashes between them (e.g. web or tools/cli)", repo)
		}
	}
	if len(ns)+1+len(repo) > 255 {
		return apigroup.Refuse(http.StatusBadRequest, "repository %s/%s is longer than the registry's 255 characters", ns, repo)
	}
	return nil
}

func checkTag(tag string) error {
	if !tagRE.MatchString(tag) {
		return apigroup.Refuse(http.StatusBadRequest, "tag %q is not a tag: 1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-' (e.g. v1.2)", tag)
	}
	return nil
}

// errOff is the answer while the registry is off.
func errOff() error {
	return apigroup.Refuse(http.StatusServiceUnavailable, "the registry is off on this platform: it runs without --registry-dir or --registry-s3-bucket")
}

func notFound(name string) error {
	// The gateway's words for a missing object or another tenant's.
	return apigroup.Refuse(http.StatusNotFound, "%s %q not found", Kind, name)
}

// lookup reads the namespace a route names. own is false for another
// tenant's public namespace, which may be read but not changed; another
// tenant's private one is answered exactly as a missing one.
func (m *Module) lookup(ctx context.Context, p *directory.Principal, name string) (ns *registryv1.RegistryNamespace, own bool, err error) {
	if CheckName(name) != nil {
		return nil, false, notFound(name)
	}
	ns = &registryv1.RegistryNamespace{}
	if err := m.get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, notFound(name)
		}
		return nil, false, apigroup.Refuse(http.StatusServiceUnavailable, "reading registry namespace %s: %v", name, err)
	}
	own = decision.Admin(p) || sameTenant(p.Tenant, tenantOf(ns))
	if !own && ns.Spec.Visibility != registryv1.Public {
		return nil, false, notFound(name)
	}
	return ns, own, nil
}

// mayRead: anyone reads a public namespace; a private one needs
// pullRepository on repo ("*": every one).
func (m *Module) mayRead(ctx context.Context, p *directory.Principal, ns *registryv1.RegistryNamespace, repo string) error {
	if ns.Spec.Visibility == registryv1.Public {
		return nil
	}
	if d := m.may(ctx, p, ns, ActionPull, repo); !d.Allowed {
		return apigroup.Refuse(http.StatusForbidden, "%s may not read registry namespace %s: it needs %s on %s, by a tenant policy or as a member of a project the namespace is shared with: %s",
			p.Name(), ns.Name, ActionPull, repoResource(ns.Name, repo), d.Reason)
	}
	return nil
}

// mayDelete: deletes need deleteRepository, in one's own tenant only.
func (m *Module) mayDelete(ctx context.Context, p *directory.Principal, ns *registryv1.RegistryNamespace, own bool, repo string) error {
	if !own {
		return apigroup.Refuse(http.StatusForbidden, "%s may not delete from registry namespace %s: it is another tenant's (public, so readable only)", p.Name(), ns.Name)
	}
	if d := m.may(ctx, p, ns, ActionDelete, repo); !d.Allowed {
		return apigroup.Refuse(http.StatusForbidden, "%s may not delete %s/%s: it needs %s on %s, by a tenant policy or as a member of a project the namespace is shared with: %s",
			p.Name(), ns.Name, repo, ActionDelete, repoResource(ns.Name, repo), d.Reason)
	}
	return nil
}

func (m *Module) host() string {
	if m.RegistryHost == "" {
		return "REGISTRY"
	}
	return m.RegistryHost
}

// isNotFound: a Store error for a missing repository or tag.
func (m *Module) isNotFound(err error) bool {
	return m.ErrNotFound != nil && errors.Is(err, m.ErrNotFound)
}

func (m *Module) listRepositories(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	out, err := m.repositories(r.Context(), p, r.PathValue("ns"))
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	apigroup.WriteJSON(w, http.StatusOK, out)
}

// repositories are those of namespace name that p may read: all of them,
// or those p holds pullRepository on one by one.
func (m *Module) repositories(ctx context.Context, p *directory.Principal, name string) (*registryv1.RepositoryList, error) {
	if m.Store == nil {
		return nil, errOff()
	}
	ns, _, err := m.lookup(ctx, p, name)
	if err != nil {
		return nil, err
	}
	all := m.mayRead(ctx, p, ns, "*")
	repos, err := m.Store.Repositories(ctx, name)
	if err != nil {
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "listing the repositories of registry namespace %s: %v", name, err)
	}
	out := &registryv1.RepositoryList{TypeMeta: metav1.TypeMeta{APIVersion: registryv1.GroupVersion.String(), Kind: "RepositoryList"}, Items: []registryv1.Repository{}}
	for _, repo := range repos {
		if all != nil && !m.may(ctx, p, ns, ActionPull, repo.Name).Allowed {
			continue
		}
		repo.Namespace = name
		repo.Pull = m.host() + "/" + name + "/" + repo.Name
		out.Items = append(out.Items, repo)
	}
	if all != nil && len(out.Items) == 0 {
		return nil, all
	}
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i].Name < out.Items[j].Name })
	return out, nil
}

// listTags serves GET …/repositories/{repo}/tags: a repository's name
// may hold slashes, so the route takes the rest of the path.
func (m *Module) listTags(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	repo, ok := strings.CutSuffix(r.PathValue("repo"), "/tags")
	if !ok {
		apigroup.WriteStatus(w, http.StatusNotFound, "NotFound", "no such path: GET "+GroupPath+"registrynamespaces/NAMESPACE/repositories/REPOSITORY/tags lists a repository's tags")
		return
	}
	out, err := m.tags(r.Context(), p, r.PathValue("ns"), repo)
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	apigroup.WriteJSON(w, http.StatusOK, out)
}

func (m *Module) tags(ctx context.Context, p *directory.Principal, name, repo string) (*registryv1.TagList, error) {
	if m.Store == nil {
		return nil, errOff()
	}
	if err := checkRepo(name, repo); err != nil {
		return nil, err
	}
	ns, _, err := m.lookup(ctx, p, name)
	if err != nil {
		return nil, err
	}
	if err := m.mayRead(ctx, p, ns, repo); err != nil {
		return nil, err
	}
	tags, err := m.Store.Tags(ctx, name+"/"+repo)
	switch {
	case m.isNotFound(err):
		return nil, apigroup.Refuse(http.StatusNotFound, "repository %q not found in registry namespace %s", repo, name)
	case err != nil:
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "listing the tags of %s/%s: %v", name, repo, err)
	}
	out := &registryv1.TagList{TypeMeta: metav1.TypeMeta{APIVersion: registryv1.GroupVersion.String(), Kind: "TagList"}, Items: []registryv1.Tag{}}
	for _, t := range tags {
		t.Pull = m.host() + "/" + name + "/" + repo + ":" + t.Name
		out.Items = append(out.Items, t)
	}
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i].Name < out.Items[j].Name })
	return out, nil
}

// deleteRepoOrTag serves DELETE …/repositories/{repo} and
// …/repositories/{repo}:{tag} (no repository name holds a ':').
func (m *Module) deleteRepoOrTag(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	ctx := r.Context()
	name := r.PathValue("ns")
	repo, tag, isTag := strings.Cut(r.PathValue("repo"), ":")
	msg, err := func() (string, error) {
		if m.Store == nil {
			return "", errOff()
		}
		if err := checkRepo(name, repo); err != nil {
			return "", err
		}
		if isTag {
			if err := checkTag(tag); err != nil {
				return "", err
			}
		}
		ns, own, err := m.lookup(ctx, p, name)
		if err != nil {
			return "", err
		}
		if err := m.mayDelete(ctx, p, ns, own, repo); err != nil {
			return "", err
		}
		full := name + "/" + repo
		if isTag {
			err = m.Store.DeleteTag(ctx, full, tag)
		} else {
			err = m.Store.DeleteRepository(ctx, full)
		}
		switch {
		case m.isNotFound(err) && isTag:
			return "", apigroup.Refuse(http.StatusNotFound, "tag %q not found in repository %s", tag, full)
		case m.isNotFound(err):
			return "", apigroup.Refuse(http.StatusNotFound, "repository %q not found in registry namespace %s", repo, name)
		case err != nil:
			return "", apigroup.Refuse(http.StatusServiceUnavailable, "deleting %s: %v", full, err)
		}
		// The namespace's counts follow at once (the controller would
		// within its interval).
		if err := (&Status{Client: m.Client, Store: m.Store}).Refresh(ctx, name); err != nil && m.Log != nil {
			m.Log.Warn("refreshing a registry namespace's status", "namespace", name, "err", err)
		}
		if isTag {
			return "tag " + tag + " of " + full + " deleted", nil
		}
		return "repository " + full + " deleted", nil
	}()
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	if m.Log != nil {
		m.Log.Info("registry delete", "what", msg, "by", p.Name())
	}
	apigroup.WriteJSON(w, http.StatusOK, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusSuccess, Code: http.StatusOK, Message: msg})
}

// portal serves GET …/portal: the namespaces p may pull from or read,
// including those shared with p's projects, which the generic list does
// not show to project members (their rights come through the projects).
func (m *Module) portal(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	ctx := r.Context()
	var l registryv1.RegistryNamespaceList
	var opts []client.ListOption
	if !decision.Admin(p) {
		opts = append(opts, client.MatchingLabels{apigroup.LabelTenant: p.Tenant})
	}
	if err := m.Client.List(ctx, &l, opts...); err != nil {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusServiceUnavailable, "listing registry namespaces: %v", err))
		return
	}
	out := &registryv1.RegistryNamespaceList{TypeMeta: metav1.TypeMeta{APIVersion: registryv1.GroupVersion.String(), Kind: "RegistryNamespaceList"}, Items: []registryv1.RegistryNamespace{}}
	for _, ns := range l.Items {
		if !decision.Admin(p) && !sameTenant(p.Tenant, tenantOf(&ns)) {
			continue
		}
		if ns.Spec.Visibility == registryv1.Public || m.may(ctx, p, &ns, ActionPull, "*").Allowed ||
			m.Decider.Can(ctx, p, "", "getRegistrynamespace", Kind+":"+ns.Name).Allowed {
			ns.ManagedFields = nil
			out.Items = append(out.Items, ns)
		}
	}
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i].Name < out.Items[j].Name })
	apigroup.WriteJSON(w, http.StatusOK, out)
}

// gc runs the registry's online garbage collection now (administrators).
func (m *Module) gc(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	if !decision.Admin(p) {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusForbidden, "%s may not run the registry's garbage collection: only platform administrators do (it runs across every tenant's images)", p.Name()))
		return
	}
	if m.Store == nil {
		apigroup.WriteError(w, errOff())
		return
	}
	res, err := m.Store.GC(r.Context())
	if err != nil {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusServiceUnavailable, "the registry's garbage collection failed: %v; nothing it had not finished was deleted: run it again", err))
		return
	}
	if m.Log != nil {
		m.Log.Info("registry garbage collection", "marked", res.Marked, "deleted", res.Deleted, "bytes", res.DeletedBytes, "kept", res.Kept, "by", p.Name())
	}
	apigroup.WriteJSON(w, http.StatusOK, &res)
}

// rotate replaces a project's pull credential now; the old one is taken
// until its grace ends. It needs updateProject on the project.
func (m *Module) rotate(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	ctx := r.Context()
	project := r.PathValue("project")
	var prj businessv1.Project
	err := m.get(ctx, client.ObjectKey{Name: project}, &prj)
	switch {
	case err != nil && !apierrors.IsNotFound(err):
		apigroup.WriteError(w, apigroup.Refuse(http.StatusServiceUnavailable, "reading project %s: %v", project, err))
		return
	case err != nil || !(decision.Admin(p) || sameTenant(p.Tenant, prj.Spec.TenantID)):
		apigroup.WriteError(w, apigroup.Refuse(http.StatusNotFound, "no project %q", project))
		return
	}
	if d := m.Decider.Can(ctx, p, project, "updateProject", "project:"+project); !d.Allowed {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusForbidden, "%s may not rotate the pull credential of project %s (it needs updateProject there): %s", p.Name(), project, d.Reason))
		return
	}
	if m.Pull == nil {
		apigroup.WriteError(w, errOff())
		return
	}
	st, err := m.Pull.Rotate(ctx, project)
	if err != nil {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusServiceUnavailable, "rotating the pull credential of project %s: %v; the current one still works: try again", project, err))
		return
	}
	if m.Log != nil {
		m.Log.Info("registry pull credential rotated", "project", project, "by", p.Name())
	}
	apigroup.WriteJSON(w, http.StatusOK, &st)
}
