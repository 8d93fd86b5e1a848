package clustercache

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationResourceMetricsPath names the path, under a node's proxy, where
// the node serves its resource metrics (kwok's nodes set it; a kubelet
// serves /metrics/resource).
const AnnotationResourceMetricsPath = "metrics.k8s.io/resource-metrics-path"

// slim is the informers' transform: each cached object keeps only what the
// platform's status and the metric collector read, so that caching the
// objects of large clusters stays cheap (no managed fields, no images, no
// pod specs beyond resources).
func slim(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return slimPod(o), nil
	case *corev1.Node:
		return slimNode(o), nil
	case *appsv1.ReplicaSet:
		return &appsv1.ReplicaSet{
			ObjectMeta: slimMeta(o.ObjectMeta),
			Spec:       appsv1.ReplicaSetSpec{Replicas: o.Spec.Replicas},
			Status:     appsv1.ReplicaSetStatus{Replicas: o.Status.Replicas, ReadyReplicas: o.Status.ReadyReplicas, AvailableReplicas: o.Status.AvailableReplicas},
		}, nil
	case *appsv1.Deployment:
		return &appsv1.Deployment{
			ObjectMeta: slimMeta(o.ObjectMeta),
			Spec:       appsv1.DeploymentSpec{Replicas: o.Spec.Replicas},
			Status:     appsv1.DeploymentStatus{Replicas: o.Status.Replicas, ReadyReplicas: o.Status.ReadyReplicas, AvailableReplicas: o.Status.AvailableReplicas, UpdatedReplicas: o.Status.UpdatedReplicas},
		}, nil
	case *appsv1.StatefulSet:
		return &appsv1.StatefulSet{
			ObjectMeta: slimMeta(o.ObjectMeta),
			Spec:       appsv1.StatefulSetSpec{Replicas: o.Spec.Replicas},
			Status:     appsv1.StatefulSetStatus{Replicas: o.Status.Replicas, ReadyReplicas: o.Status.ReadyReplicas, AvailableReplicas: o.Status.AvailableReplicas},
		}, nil
	case *appsv1.DaemonSet:
		return &appsv1.DaemonSet{
			ObjectMeta: slimMeta(o.ObjectMeta),
			Status:     appsv1.DaemonSetStatus{DesiredNumberScheduled: o.Status.DesiredNumberScheduled, NumberReady: o.Status.NumberReady, NumberAvailable: o.Status.NumberAvailable},
		}, nil
	case *batchv1.Job:
		return &batchv1.Job{
			ObjectMeta: slimMeta(o.ObjectMeta),
			Spec:       batchv1.JobSpec{Parallelism: o.Spec.Parallelism, Completions: o.Spec.Completions},
			Status:     batchv1.JobStatus{Active: o.Status.Active, Succeeded: o.Status.Succeeded, Failed: o.Status.Failed, Ready: o.Status.Ready},
		}, nil
	case *corev1.ResourceQuota:
		return &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, UID: o.UID, ResourceVersion: o.ResourceVersion, Labels: o.Labels},
			Status:     corev1.ResourceQuotaStatus{Hard: o.Status.Hard, Used: o.Status.Used},
		}, nil
	}
	return obj, nil
}

// slimMeta keeps a workload's identity and owners (a ReplicaSet's
// Deployment, a Job's CronJob).
func slimMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion, OwnerReferences: slimOwners(m.OwnerReferences)}
}

func slimOwners(refs []metav1.OwnerReference) []metav1.OwnerReference {
	if len(refs) == 0 {
		return nil
	}
	out := make([]metav1.OwnerReference, len(refs))
	for i, r := range refs {
		out[i] = metav1.OwnerReference{APIVersion: r.APIVersion, Kind: r.Kind, Name: r.Name, UID: r.UID, Controller: r.Controller}
	}
	return out
}

// slimPod keeps a pod's placement, owners, phase, Ready condition, its
// containers' requests and limits (sidecar init containers too: they run
// beside the others) and their restart counts and readiness.
func slimPod(p *corev1.Pod) *corev1.Pod {
	slim := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion, Labels: p.Labels, OwnerReferences: slimOwners(p.OwnerReferences)},
		Spec:       corev1.PodSpec{NodeName: p.Spec.NodeName},
		Status:     corev1.PodStatus{Phase: p.Status.Phase},
	}
	for _, c := range p.Spec.Containers {
		slim.Spec.Containers = append(slim.Spec.Containers, corev1.Container{Name: c.Name, Resources: slimResources(c.Resources)})
	}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			slim.Spec.InitContainers = append(slim.Spec.InitContainers, corev1.Container{Name: c.Name, Resources: slimResources(c.Resources), RestartPolicy: c.RestartPolicy})
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			slim.Status.Conditions = []corev1.PodCondition{{Type: c.Type, Status: c.Status}}
		}
	}
	slim.Status.ContainerStatuses = slimStatuses(p.Status.ContainerStatuses)
	slim.Status.InitContainerStatuses = slimStatuses(p.Status.InitContainerStatuses)
	return slim
}

func slimResources(r corev1.ResourceRequirements) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: r.Requests, Limits: r.Limits}
}

func slimStatuses(in []corev1.ContainerStatus) []corev1.ContainerStatus {
	if len(in) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(in))
	for i, s := range in {
		out[i] = corev1.ContainerStatus{Name: s.Name, Ready: s.Ready, RestartCount: s.RestartCount}
	}
	return out
}

// slimNode keeps a node's conditions' types and statuses, its capacity and
// allocatable, its labels and the one annotation the collector reads: node
// objects carry image lists and managed fields that nothing here needs.
func slimNode(n *corev1.Node) *corev1.Node {
	slim := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, UID: n.UID, ResourceVersion: n.ResourceVersion, Labels: n.Labels},
		Status:     corev1.NodeStatus{Capacity: n.Status.Capacity, Allocatable: n.Status.Allocatable},
	}
	if p, ok := n.Annotations[AnnotationResourceMetricsPath]; ok {
		slim.Annotations = map[string]string{AnnotationResourceMetricsPath: p}
	}
	for _, c := range n.Status.Conditions {
		slim.Status.Conditions = append(slim.Status.Conditions, corev1.NodeCondition{Type: c.Type, Status: c.Status})
	}
	return slim
}
