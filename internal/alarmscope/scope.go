// Package alarmscope decides which series an alarm policy may read. The
// scope comes from the policy itself (its cluster, or its project's
// namespace), re-derived from the platform's objects at every sync, never
// from who reads the alarms: a project's policy reads only the series of
// the namespace its project owns, even through a raw expression.
package alarmscope

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/metricstore"
)

// SystemNamespace is where cluster policies live (the platform's namespace).
const SystemNamespace = "kstack-system"

// DeniedError says why a policy reads nothing: its scope no longer stands
// (the namespace moved to another project, the cluster is gone or of
// another tenant). It is not transient.
type DeniedError struct{ Reason string }

func (e *DeniedError) Error() string { return e.Reason }

// Of is the series p may read:
//   - a cluster policy (spec.namespace empty, living in kstack-system): every
//     series of its cluster, if the cluster exists and is of the policy's tenant;
//   - a project policy: the series of (cluster, namespace), if the business
//     Namespace ObjectName(cluster, namespace) lives in the policy's project
//     (its metadata.namespace), names the same cluster, namespace and project,
//     and is of the policy's tenant.
//
// When the scope does not stand, Of returns an empty scope (it reads
// nothing) and a *DeniedError saying why. When reading fails, it returns a
// nil scope and the error: the caller may keep the scope it had.
func Of(ctx context.Context, r client.Reader, p *monitorv1.AlarmPolicy) (*metricstore.Scope, error) {
	spec := &p.Spec
	tenant := tenantOf(spec.TenantID)
	if spec.ClusterName == "" {
		return denied("spec.clusterName is empty")
	}
	var cl platformv1.Cluster
	if err := r.Get(ctx, client.ObjectKey{Name: spec.ClusterName}, &cl); err != nil {
		if apierrors.IsNotFound(err) {
			return denied("no cluster %q", spec.ClusterName)
		}
		return nil, fmt.Errorf("reading cluster %s: %w", spec.ClusterName, err)
	}
	if tenantOf(cl.Spec.TenantID) != tenant {
		// The same answer as for a missing cluster.
		return denied("no cluster %q", spec.ClusterName)
	}
	if !cl.DeletionTimestamp.IsZero() {
		return denied("cluster %s is being deleted", spec.ClusterName)
	}

	if spec.Namespace == "" {
		if p.Namespace != SystemNamespace {
			return denied("a cluster policy (spec.namespace empty) must live in %s, not %s", SystemNamespace, p.Namespace)
		}
		return &metricstore.Scope{Clusters: map[string]bool{spec.ClusterName: true}}, nil
	}

	project := p.Namespace
	if spec.ProjectName != "" && spec.ProjectName != project {
		return denied("spec.projectName %s is not the policy's project %s", spec.ProjectName, project)
	}
	var ns businessv1.Namespace
	key := client.ObjectKey{Namespace: project, Name: businessv1.ObjectName(spec.ClusterName, spec.Namespace)}
	notOurs := func() (*metricstore.Scope, error) {
		return denied("spec.namespace: %s is not a namespace of project %s in cluster %s", spec.Namespace, project, spec.ClusterName)
	}
	if err := r.Get(ctx, key, &ns); err != nil {
		if apierrors.IsNotFound(err) {
			return notOurs()
		}
		return nil, fmt.Errorf("reading namespace %s/%s: %w", key.Namespace, key.Name, err)
	}
	if ns.Spec.ClusterName != spec.ClusterName || ns.Spec.Namespace != spec.Namespace ||
		ns.Spec.ProjectName != project || tenantOf(ns.Spec.TenantID) != tenant || !ns.DeletionTimestamp.IsZero() {
		return notOurs()
	}
	return &metricstore.Scope{Namespaces: map[metricstore.ClusterNamespace]bool{
		{Cluster: spec.ClusterName, Namespace: spec.Namespace}: true,
	}}, nil
}

func denied(format string, args ...any) (*metricstore.Scope, error) {
	return &metricstore.Scope{}, &DeniedError{Reason: fmt.Sprintf(format, args...)}
}

func tenantOf(t string) string {
	if t == "" {
		return authv1.DefaultTenant
	}
	return t
}
