package logagent

import (
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/kubernetes/scheme"
)

// The manifests parse as Kubernetes objects, mount the node's log
// directories read-only, and grant no more than the agent needs.
func TestRenderDaemonSet(t *testing.T) {
	y, err := RenderYAML(RenderOptions{Image: "registry.example/kstack:v1", Cluster: "cls-ab12cd34"})
	if err != nil {
		t.Fatal(err)
	}
	var (
		ds      *appsv1.DaemonSet
		cr      *rbacv1.ClusterRole
		role    *rbacv1.Role
		crb     *rbacv1.ClusterRoleBinding
		rb      *rbacv1.RoleBinding
		sa      *corev1.ServiceAccount
		vap     *admissionv1.ValidatingAdmissionPolicy
		binding *admissionv1.ValidatingAdmissionPolicyBinding
	)
	for _, doc := range strings.Split(y, "\n---\n") {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("%v in:\n%s", err, doc)
		}
		switch o := obj.(type) {
		case *appsv1.DaemonSet:
			ds = o
		case *rbacv1.ClusterRole:
			cr = o
		case *rbacv1.Role:
			role = o
		case *rbacv1.ClusterRoleBinding:
			crb = o
		case *rbacv1.RoleBinding:
			rb = o
		case *corev1.ServiceAccount:
			sa = o
		case *admissionv1.ValidatingAdmissionPolicy:
			vap = o
		case *admissionv1.ValidatingAdmissionPolicyBinding:
			binding = o
		default:
			t.Errorf("unexpected %T", obj)
		}
	}
	if ds == nil || cr == nil || role == nil || crb == nil || rb == nil || sa == nil || vap == nil || binding == nil {
		t.Fatalf("missing objects in:\n%s", y)
	}

	// Mounts.
	pod := ds.Spec.Template.Spec
	if pod.ServiceAccountName != sa.Name || sa.Namespace != "kube-system" || ds.Namespace != "kube-system" {
		t.Errorf("service account %q / %q", pod.ServiceAccountName, sa.Namespace)
	}
	hostPaths := map[string]string{}
	for _, v := range pod.Volumes {
		if v.HostPath == nil {
			t.Errorf("volume %s is not a hostPath", v.Name)
			continue
		}
		hostPaths[v.Name] = v.HostPath.Path
	}
	c := pod.Containers[0]
	mounted := map[string]bool{}
	for _, m := range c.VolumeMounts {
		p := hostPaths[m.Name]
		mounted[p] = true
		if p == DefaultStateDir {
			if m.ReadOnly {
				t.Errorf("the state dir is mounted read-only")
			}
			continue
		}
		if !m.ReadOnly {
			t.Errorf("hostPath %s is mounted writable", p)
		}
	}
	for _, p := range []string{"/var/log/pods", "/var/log", "/var/lib/kubelet/pods", DefaultStateDir} {
		if !mounted[p] {
			t.Errorf("hostPath %s is not mounted", p)
		}
	}
	if c.Image != "registry.example/kstack:v1" || !slices.Contains(c.Args, "--node=$(NODE_NAME)") || !slices.Contains(c.Args, "--cluster=cls-ab12cd34") ||
		c.Env[0].ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("container %+v", c)
	}
	if sc := c.SecurityContext; sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || sc.Privileged != nil ||
		!slices.Equal(sc.Capabilities.Add, []corev1.Capability{"DAC_READ_SEARCH"}) {
		t.Errorf("security context %+v", sc)
	}

	// Least rights.
	noWildcards := func(what string, rules []rbacv1.PolicyRule) {
		for _, r := range rules {
			for _, s := range slices.Concat(r.Verbs, r.Resources, r.APIGroups) {
				if s == "*" {
					t.Errorf("%s: a wildcard in %+v", what, r)
				}
			}
		}
	}
	noWildcards("ClusterRole", cr.Rules)
	noWildcards("Role", role.Rules)
	if len(cr.Rules) != 1 || !slices.Equal(cr.Rules[0].Resources, []string{"pods"}) || !slices.Equal(cr.Rules[0].Verbs, []string{"list", "watch"}) {
		t.Errorf("ClusterRole grants %+v, want pods list and watch only", cr.Rules)
	}
	if role.Namespace != "kube-system" || crb.RoleRef.Name != cr.Name || rb.RoleRef.Name != role.Name || rb.Subjects[0].Name != sa.Name || crb.Subjects[0].Name != sa.Name {
		t.Errorf("bindings %+v %+v", crb, rb)
	}
	for _, r := range role.Rules {
		switch {
		case slices.Equal(r.Resources, []string{"secrets"}):
			if !slices.Equal(r.ResourceNames, []string{SecretName}) || !slices.Equal(r.Verbs, []string{"get", "list", "watch"}) {
				t.Errorf("secrets rule %+v: want get/list/watch of %s only", r, SecretName)
			}
		case slices.Equal(r.Resources, []string{"configmaps"}) && len(r.ResourceNames) > 0:
			if !slices.Equal(r.ResourceNames, []string{ConfigMapName}) || !slices.Equal(r.Verbs, []string{"get", "list", "watch"}) {
				t.Errorf("config rule %+v", r)
			}
		case slices.Equal(r.Resources, []string{"configmaps"}):
			if !slices.Equal(r.Verbs, []string{"create", "update"}) {
				t.Errorf("status rule %+v: want create and update only", r)
			}
		default:
			t.Errorf("unexpected rule %+v", r)
		}
	}
	// Writing ConfigMaps is narrowed to the status names.
	if !strings.Contains(vap.Spec.Validations[0].Expression, `"`+StatusPrefix+`"`) ||
		!strings.Contains(vap.Spec.MatchConditions[0].Expression, "system:serviceaccount:kube-system:"+AgentName) ||
		binding.Spec.PolicyName != vap.Name || !slices.Equal(binding.Spec.ValidationActions, []admissionv1.ValidationAction{admissionv1.Deny}) {
		t.Errorf("admission policy %+v binding %+v", vap.Spec, binding.Spec)
	}
	if _, err := RenderDaemonSet(RenderOptions{}); err == nil {
		t.Error("no image accepted")
	}
}
