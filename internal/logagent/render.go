package logagent

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// AgentName names the DaemonSet, its ServiceAccount and its RBAC objects.
const AgentName = "kstack-logagent"

// RenderOptions are the choices in the agent's manifests for a real cluster.
type RenderOptions struct {
	// Image holds the kstack binary as its entrypoint (required).
	Image           string
	ImagePullPolicy corev1.PullPolicy
	// Cluster is the --cluster the records carry (the platform's cluster ID).
	Cluster string
	// Namespace runs the agent and holds its config (default kube-system).
	Namespace string
	// StateDir is the hostPath for positions and queues (default
	// /var/lib/kstack-logagent).
	StateDir string
	// QueueBytes per sink (default 256Mi).
	QueueBytes int64
}

// Where the node's directories are mounted in the agent's container.
const (
	hostRootMount = "/host"
)

// RenderDaemonSet returns the objects that run the agent on every node of a
// real cluster, with the least rights it needs:
//   - ClusterRole: pods list and watch (the agent lists its node's only);
//   - Role in the config namespace: get/list/watch of the config ConfigMap
//     and the sinks Secret by name only; create and update of ConfigMaps
//     for its status (RBAC cannot name objects that do not exist yet, and
//     each node's agent writes its own), which the ValidatingAdmissionPolicy
//     narrows to names kstack-logagent-status-*;
//   - the node's log directories mounted read-only; the state hostPath is
//     the only one written.
func RenderDaemonSet(o RenderOptions) ([]runtime.Object, error) {
	if o.Image == "" {
		return nil, errors.New("logagent: no image")
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = DefaultQueueBytes
	}
	if o.ImagePullPolicy == "" {
		o.ImagePullPolicy = corev1.PullIfNotPresent
	}
	labels := map[string]string{"app.kubernetes.io/name": AgentName, "app.kubernetes.io/managed-by": "kstack"}
	meta := func(name, ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
	}
	sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(AgentName, o.Namespace)}
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: AgentName, Namespace: o.Namespace}}
	cr := &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: meta(AgentName, ""),
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}}},
	}
	crb := &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: meta(AgentName, ""),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: AgentName},
		Subjects:   subject,
	}
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: meta(AgentName, o.Namespace),
		Rules: []rbacv1.PolicyRule{
			// The informers list and watch with fieldSelector
			// metadata.name=..., which RBAC authorizes by resourceNames.
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{ConfigMapName}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{SecretName}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create", "update"}},
		},
	}
	rb := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: meta(AgentName, o.Namespace),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: AgentName},
		Subjects:   subject,
	}
	user := fmt.Sprintf("system:serviceaccount:%s:%s", o.Namespace, AgentName)
	failClosed := admissionv1.Fail
	vap := &admissionv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: meta(AgentName+"-status-only", ""),
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &failClosed,
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
				},
			}}},
			MatchConditions: []admissionv1.MatchCondition{{Name: "is-logagent", Expression: strconv.Quote(user) + " == request.userInfo.username"}},
			Validations: []admissionv1.Validation{{
				Expression: "object.metadata.name.startsWith(" + strconv.Quote(StatusPrefix) + ")",
				Message:    "the log agent may only write its status ConfigMaps (" + StatusPrefix + "*)",
			}},
		},
	}
	vapb := &admissionv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: meta(AgentName+"-status-only", ""),
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        vap.Name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}

	hostPath := func(name, p string, t corev1.HostPathType) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: p, Type: &t}}}
	}
	toContainer := corev1.MountPropagationHostToContainer
	yes, no, root := true, false, int64(0)
	maxUnavailable := intstr.FromString("10%")
	ds := &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: meta(AgentName, o.Namespace),
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": AgentName}},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &maxUnavailable}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: AgentName,
					PriorityClassName:  "system-node-critical",
					// Every node's logs, the control plane's too.
					Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					// SIGTERM stops gracefully: deliveries in flight finish
					// (5 s at most) and positions are written.
					TerminationGracePeriodSeconds: ptr(int64(30)),
					Containers: []corev1.Container{{
						Name:            "logagent",
						Image:           o.Image,
						ImagePullPolicy: o.ImagePullPolicy,
						Args: []string{"logagent",
							"--node=$(NODE_NAME)",
							"--cluster=" + o.Cluster,
							"--config-namespace=" + o.Namespace,
							"--pods-dir=/var/log/pods",
							"--host-root=" + hostRootMount,
							"--state-dir=" + o.StateDir,
							"--queue-bytes=" + strconv.FormatInt(o.QueueBytes, 10),
						},
						Env: []corev1.EnvVar{{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "pods-logs", MountPath: "/var/log/pods", ReadOnly: true},
							{Name: "var-log", MountPath: hostRootMount + "/var/log", ReadOnly: true},
							// Container files live in emptyDir volumes here.
							{Name: "kubelet-pods", MountPath: hostRootMount + "/var/lib/kubelet/pods", ReadOnly: true, MountPropagation: &toContainer},
							{Name: "state", MountPath: o.StateDir},
						},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
						},
						// Root to reach every log, but no capability beyond
						// reading any file, and nothing else writable.
						SecurityContext: &corev1.SecurityContext{
							RunAsUser:                &root,
							ReadOnlyRootFilesystem:   &yes,
							AllowPrivilegeEscalation: &no,
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"DAC_READ_SEARCH"}},
							SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
					}},
					Volumes: []corev1.Volume{
						hostPath("pods-logs", "/var/log/pods", corev1.HostPathDirectoryOrCreate),
						hostPath("var-log", "/var/log", corev1.HostPathDirectory),
						hostPath("kubelet-pods", "/var/lib/kubelet/pods", corev1.HostPathDirectoryOrCreate),
						hostPath("state", o.StateDir, corev1.HostPathDirectoryOrCreate),
					},
				},
			},
		},
	}
	return []runtime.Object{sa, cr, crb, role, rb, vap, vapb, ds}, nil
}

// RenderYAML is RenderDaemonSet as one multi-document YAML.
func RenderYAML(o RenderOptions) (string, error) {
	objs, err := RenderDaemonSet(o)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	for i, obj := range objs {
		y, err := yaml.Marshal(obj)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.String(), nil
}

func ptr[T any](v T) *T { return &v }
