// Package admission checks projects and their namespaces before they are
// stored: clusters and members that exist, parents without cycles, and
// quotas that fit (a project's namespaces and sub-projects inside its quota
// in each cluster, a sub-project inside its parent's).
package admission

import (
	"context"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/business/quota"
)

// Checker reads what admission needs.
type Checker struct {
	// Reader is best the informer cache, with the indexes below registered.
	Reader client.Reader
	// Live, when set, reads a project's namespaces from the API server, so
	// that one created a moment ago counts even before the cache has it.
	Live client.Reader
}

func (c *Checker) live() client.Reader {
	if c.Live != nil {
		return c.Live
	}
	return c.Reader
}

// Labels that business Namespaces carry, so that the API server can find
// the owner of a member namespace (conflicts are checked against it live).
const (
	LabelCluster   = "kstack.io/cluster"
	LabelNamespace = "kstack.io/namespace"
)

// Indexes the checker (and the controllers) look objects up by.
const (
	IndexParent           = "spec.parentProjectName"
	IndexClusterNamespace = "spec.clusterNamespace"
)

// ClusterNamespaceKey is the IndexClusterNamespace value of a member namespace.
func ClusterNamespaceKey(cluster, namespace string) string { return cluster + "/" + namespace }

// Indexers are the index functions to register with the cache.
var Indexers = []apigroup.Index{
	{Object: &businessv1.Project{}, Field: IndexParent, Func: func(o client.Object) []string {
		return []string{o.(*businessv1.Project).Spec.ParentProjectName}
	}},
	{Object: &businessv1.Namespace{}, Field: IndexClusterNamespace, Func: func(o client.Object) []string {
		ns := o.(*businessv1.Namespace)
		return []string{ClusterNamespaceKey(ns.Spec.ClusterName, ns.Spec.Namespace)}
	}},
}

// Allocated is what a project has handed out in a cluster: the hard limits
// of its namespaces there and of its sub-projects' quotas there, leaving
// out the namespace or sub-project named skip (the one being changed).
func (c *Checker) Allocated(ctx context.Context, project, cluster, skip string) (corev1.ResourceList, error) {
	var nss businessv1.NamespaceList
	if err := c.live().List(ctx, &nss, client.InNamespace(project)); err != nil {
		return nil, err
	}
	var lists []corev1.ResourceList
	for _, n := range nss.Items {
		if n.Spec.ClusterName == cluster && n.Name != skip && n.DeletionTimestamp == nil {
			lists = append(lists, n.Spec.Hard)
		}
	}
	var prjs businessv1.ProjectList
	if err := c.Reader.List(ctx, &prjs, client.MatchingFields{IndexParent: project}); err != nil {
		return nil, err
	}
	for _, p := range prjs.Items {
		if p.Spec.ParentProjectName == project && p.Name != skip {
			if q, ok := p.Quota(cluster); ok {
				lists = append(lists, q)
			}
		}
	}
	return quota.Sum(lists...), nil
}

// Project checks a project being created (old nil) or changed.
func (c *Checker) Project(ctx context.Context, p, old *businessv1.Project) error {
	seen := map[string]bool{}
	for _, cq := range p.Spec.Clusters {
		if seen[cq.Name] {
			return apigroup.Invalid("cluster %s is listed twice", cq.Name)
		}
		seen[cq.Name] = true
		var cls platformv1.Cluster
		if err := c.Reader.Get(ctx, client.ObjectKey{Name: cq.Name}, &cls); err != nil || cls.Spec.TenantID != p.Spec.TenantID || cls.Spec.Type == platformv1.ClusterGlobal {
			return apigroup.Invalid("there is no cluster %q for projects of tenant %s", cq.Name, p.Spec.TenantID)
		}
		for name, q := range cq.Hard {
			if q.Sign() < 0 {
				return apigroup.Invalid("cluster %s: %s is negative", cq.Name, name)
			}
		}
	}
	for _, m := range p.Spec.Members {
		var u authv1.User
		if err := c.Reader.Get(ctx, client.ObjectKey{Name: authv1.ObjectName(p.Spec.TenantID, m.Username)}, &u); err != nil {
			return apigroup.Invalid("member %q is not a user of tenant %s", m.Username, p.Spec.TenantID)
		}
		switch m.Role {
		case "project-admin", "project-member", "project-viewer":
		default:
			return apigroup.Invalid("member %s: role must be project-admin, project-member or project-viewer, not %q", m.Username, m.Role)
		}
	}
	if parent := p.Spec.ParentProjectName; parent != "" {
		if err := c.parent(ctx, p); err != nil {
			return err
		}
	}
	// A quota may not drop below what is handed out, and a cluster with
	// namespaces may not be dropped.
	if old != nil {
		for _, oc := range old.Spec.Clusters {
			alloc, err := c.Allocated(ctx, p.Name, oc.Name, "")
			if err != nil {
				return err
			}
			nq, ok := p.Quota(oc.Name)
			if !ok {
				if len(alloc) > 0 {
					return apigroup.Invalid("cluster %s still has namespaces or sub-projects of project %s: remove them first", oc.Name, p.Name)
				}
				continue
			}
			if b := quota.Below(nq, alloc); len(b) > 0 {
				return apigroup.Invalid("the quota of project %s in cluster %s cannot be lowered below what is allocated: %s", p.Name, oc.Name, quota.DescribeBelow(b))
			}
		}
	}
	return nil
}

// parent checks a sub-project against its parent: no cycle, same tenant,
// only the parent's clusters, and quotas that fit in what the parent has left.
func (c *Checker) parent(ctx context.Context, p *businessv1.Project) error {
	seen := map[string]bool{p.Name: true}
	var parent businessv1.Project
	for name := p.Spec.ParentProjectName; name != ""; name = parent.Spec.ParentProjectName {
		if seen[name] {
			return apigroup.Invalid("parent project %s would make a cycle of parents", p.Spec.ParentProjectName)
		}
		seen[name] = true
		if err := c.Reader.Get(ctx, client.ObjectKey{Name: name}, &parent); err != nil {
			return apigroup.Invalid("parent project %q does not exist", name)
		}
	}
	if err := c.Reader.Get(ctx, client.ObjectKey{Name: p.Spec.ParentProjectName}, &parent); err != nil {
		return apigroup.Invalid("parent project %q does not exist", p.Spec.ParentProjectName)
	}
	if parent.Spec.TenantID != p.Spec.TenantID {
		return apigroup.Invalid("parent project %q does not exist", p.Spec.ParentProjectName)
	}
	for _, cq := range p.Spec.Clusters {
		pq, ok := parent.Quota(cq.Name)
		if !ok {
			return apigroup.Invalid("cluster %s is not a cluster of the parent project %s", cq.Name, parent.Name)
		}
		alloc, err := c.Allocated(ctx, parent.Name, cq.Name, p.Name)
		if err != nil {
			return err
		}
		if o := quota.Fit(pq, alloc, cq.Hard); len(o) > 0 {
			return apigroup.Invalid("the quota in cluster %s does not fit in parent project %s: %s", cq.Name, parent.Name, quota.Describe(o))
		}
	}
	return nil
}

// Namespace checks a project namespace being created or changed.
func (c *Checker) Namespace(ctx context.Context, ns *businessv1.Namespace) error {
	return c.NamespaceMoving(ctx, ns, nil)
}

// NamespaceMoving checks ns, which takes over from (a namespace of
// another project moving to ns's project), when from is not nil.
func (c *Checker) NamespaceMoving(ctx context.Context, ns, from *businessv1.Namespace) error {
	var p businessv1.Project
	if err := c.Reader.Get(ctx, client.ObjectKey{Name: ns.Spec.ProjectName}, &p); err != nil {
		if apierrors.IsNotFound(err) {
			return apigroup.Refuse(http.StatusNotFound, "project %q does not exist", ns.Spec.ProjectName)
		}
		return err
	}
	if p.Spec.TenantID != ns.Spec.TenantID {
		return apigroup.Refuse(http.StatusNotFound, "project %q does not exist", ns.Spec.ProjectName)
	}
	limit, ok := p.Quota(ns.Spec.ClusterName)
	if !ok {
		return apigroup.Invalid("project %s has no quota in cluster %s: add the cluster to the project first", p.Name, ns.Spec.ClusterName)
	}
	// The same namespace of a cluster belongs to one project at most.
	var all businessv1.NamespaceList
	if c.Live != nil {
		if err := c.Live.List(ctx, &all, client.MatchingLabels{LabelCluster: ns.Spec.ClusterName, LabelNamespace: ns.Spec.Namespace}); err != nil {
			return err
		}
	} else if err := c.Reader.List(ctx, &all, client.MatchingFields{IndexClusterNamespace: ClusterNamespaceKey(ns.Spec.ClusterName, ns.Spec.Namespace)}); err != nil {
		return err
	}
	for _, o := range all.Items {
		if from != nil && o.Namespace == from.Namespace && o.Name == from.Name {
			continue
		}
		if o.Spec.ClusterName == ns.Spec.ClusterName && o.Spec.Namespace == ns.Spec.Namespace && !(o.Namespace == ns.Namespace && o.Name == ns.Name) {
			return apigroup.Refuse(http.StatusConflict, "namespace %s of cluster %s belongs to project %s already", ns.Spec.Namespace, ns.Spec.ClusterName, o.Spec.ProjectName)
		}
	}
	alloc, err := c.Allocated(ctx, p.Name, ns.Spec.ClusterName, ns.Name)
	if err != nil {
		return err
	}
	if o := quota.Fit(limit, alloc, ns.Spec.Hard); len(o) > 0 {
		return apigroup.Invalid("namespace %s does not fit in project %s's quota in cluster %s: %s", ns.Spec.Namespace, p.Name, ns.Spec.ClusterName, quota.Describe(o))
	}
	return nil
}
