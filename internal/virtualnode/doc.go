// Package virtualnode makes each lower Kubernetes cluster one virtual node of
// an upper cluster (the tensile-kube model, on virtual-kubelet's nodeutil):
// pods bound to the node run in the lower cluster, with what they refer to
// carried along; a webhook, a descheduler and failover keep them placeable.
// See docs/virtual-nodes.md.
package virtualnode
