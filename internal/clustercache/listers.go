package clustercache

import (
	"context"

	appslisters "k8s.io/client-go/listers/apps/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// workloadListers are the informers only the metric collector needs: they
// start the first time it asks, so that a platform without monitoring
// watches no more than nodes and pods.
type workloadListers struct {
	replicaSets    appslisters.ReplicaSetLister
	deployments    appslisters.DeploymentLister
	statefulSets   appslisters.StatefulSetLister
	daemonSets     appslisters.DaemonSetLister
	jobs           batchlisters.JobLister
	resourceQuotas listersv1.ResourceQuotaLister
	synced         []cache.InformerSynced
}

// Nodes lists the cached (slimmed) nodes.
func (e *Entry) Nodes() listersv1.NodeLister { return e.nodes }

// Pods lists the cached (slimmed) pods.
func (e *Entry) Pods() listersv1.PodLister { return e.pods }

// ReplicaSets lists the cached ReplicaSets; see StartWorkloads.
func (e *Entry) ReplicaSets() appslisters.ReplicaSetLister { return e.startWorkloads().replicaSets }

// Deployments lists the cached Deployments; see StartWorkloads.
func (e *Entry) Deployments() appslisters.DeploymentLister { return e.startWorkloads().deployments }

// StatefulSets lists the cached StatefulSets; see StartWorkloads.
func (e *Entry) StatefulSets() appslisters.StatefulSetLister { return e.startWorkloads().statefulSets }

// DaemonSets lists the cached DaemonSets; see StartWorkloads.
func (e *Entry) DaemonSets() appslisters.DaemonSetLister { return e.startWorkloads().daemonSets }

// Jobs lists the cached Jobs; see StartWorkloads.
func (e *Entry) Jobs() batchlisters.JobLister { return e.startWorkloads().jobs }

// ResourceQuotas lists the cached ResourceQuotas (all of them, not only
// kstack's); see StartWorkloads.
func (e *Entry) ResourceQuotas() listersv1.ResourceQuotaLister {
	return e.startWorkloads().resourceQuotas
}

// StartWorkloads starts the informers of ReplicaSets, Deployments,
// StatefulSets, DaemonSets, Jobs and ResourceQuotas once (any of their
// accessors does too); they stop with the entry.
func (e *Entry) StartWorkloads() { e.startWorkloads() }

// WorkloadsSynced reports whether the workload and quota caches have been
// filled (starting them if they were not).
func (e *Entry) WorkloadsSynced() bool {
	for _, s := range e.startWorkloads().synced {
		if !s() {
			return false
		}
	}
	return true
}

// WaitSynced waits until the node, pod, workload and quota caches are
// filled, or ctx ends; it reports whether they are.
func (e *Entry) WaitSynced(ctx context.Context) bool {
	w := e.startWorkloads()
	synced := append([]cache.InformerSynced{
		e.factory.Core().V1().Nodes().Informer().HasSynced,
		e.factory.Core().V1().Pods().Informer().HasSynced,
	}, w.synced...)
	return cache.WaitForCacheSync(ctx.Done(), synced...)
}

func (e *Entry) startWorkloads() *workloadListers {
	e.workloadsOnce.Do(func() {
		f := e.factory
		rs, dep, sts := f.Apps().V1().ReplicaSets(), f.Apps().V1().Deployments(), f.Apps().V1().StatefulSets()
		ds, job, rq := f.Apps().V1().DaemonSets(), f.Batch().V1().Jobs(), f.Core().V1().ResourceQuotas()
		e.workloads = workloadListers{
			replicaSets: rs.Lister(), deployments: dep.Lister(), statefulSets: sts.Lister(),
			daemonSets: ds.Lister(), jobs: job.Lister(), resourceQuotas: rq.Lister(),
			synced: []cache.InformerSynced{
				rs.Informer().HasSynced, dep.Informer().HasSynced, sts.Informer().HasSynced,
				ds.Informer().HasSynced, job.Informer().HasSynced, rq.Informer().HasSynced,
			},
		}
		// Start runs only the informers not running yet, and nothing once
		// the entry was removed (Shutdown) or its context ended.
		if e.ctx != nil {
			f.Start(e.ctx.Done())
		}
	})
	return &e.workloads
}
