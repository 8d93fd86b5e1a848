package metricscollect

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appslisters "k8s.io/client-go/listers/apps/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	listersv1 "k8s.io/client-go/listers/core/v1"
)

// stateSource is the platform's cache of one member (clustercache.Entry
// is one): the state metrics read it, never the member.
type stateSource interface {
	Nodes() listersv1.NodeLister
	Pods() listersv1.PodLister
	ReplicaSets() appslisters.ReplicaSetLister
	Deployments() appslisters.DeploymentLister
	StatefulSets() appslisters.StatefulSetLister
	DaemonSets() appslisters.DaemonSetLister
	Jobs() batchlisters.JobLister
	ResourceQuotas() listersv1.ResourceQuotaLister
}

// workloadKey names a workload of a namespace.
type workloadKey struct{ namespace, kind, name string }

// workloadOf follows a pod's controller up to the workload people manage:
// a ReplicaSet to its Deployment, a Job to its CronJob. A pod without a
// controller has no workload ("" kind).
func workloadOf(src stateSource, p *corev1.Pod) (kind, name string) {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return "", ""
	}
	switch ref.Kind {
	case "ReplicaSet":
		if rs, err := src.ReplicaSets().ReplicaSets(p.Namespace).Get(ref.Name); err == nil {
			if up := metav1.GetControllerOf(rs); up != nil && up.Kind == "Deployment" {
				return up.Kind, up.Name
			}
		}
	case "Job":
		if job, err := src.Jobs().Jobs(p.Namespace).Get(ref.Name); err == nil {
			if up := metav1.GetControllerOf(job); up != nil && up.Kind == "CronJob" {
				return up.Kind, up.Name
			}
		}
	}
	return ref.Kind, ref.Name
}

// replicas is a workload object's desired and ready replicas.
type replicas struct{ desired, ready int32 }

// readReplicas reads the replicas of Deployments, StatefulSets,
// DaemonSets and the ReplicaSets no Deployment owns. Jobs and CronJobs
// have no replica count and are left out.
func readReplicas(src stateSource) (map[workloadKey]replicas, error) {
	out := map[workloadKey]replicas{}
	deps, err := src.Deployments().List(labels.Everything())
	if err != nil {
		return nil, err
	}
	for _, d := range deps {
		out[workloadKey{d.Namespace, "Deployment", d.Name}] = replicas{desiredOf(d.Spec.Replicas), d.Status.ReadyReplicas}
	}
	sts, err := src.StatefulSets().List(labels.Everything())
	if err != nil {
		return nil, err
	}
	for _, s := range sts {
		out[workloadKey{s.Namespace, "StatefulSet", s.Name}] = replicas{desiredOf(s.Spec.Replicas), s.Status.ReadyReplicas}
	}
	dss, err := src.DaemonSets().List(labels.Everything())
	if err != nil {
		return nil, err
	}
	for _, d := range dss {
		out[workloadKey{d.Namespace, "DaemonSet", d.Name}] = replicas{d.Status.DesiredNumberScheduled, d.Status.NumberReady}
	}
	rss, err := src.ReplicaSets().List(labels.Everything())
	if err != nil {
		return nil, err
	}
	for _, r := range rss {
		if metav1.GetControllerOf(r) == nil {
			out[workloadKey{r.Namespace, "ReplicaSet", r.Name}] = replicas{desiredOf(r.Spec.Replicas), r.Status.ReadyReplicas}
		}
	}
	return out, nil
}

// desiredOf is spec.replicas, which the API defaults to 1.
func desiredOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}
