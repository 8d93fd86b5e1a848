package platform

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/auth/directory"
)

// Invariants that need no lookup are ValidatingAdmissionPolicies of the
// platform's kube-apiserver: CEL decides on the object as it would be
// stored, whatever the request's encoding (a key spelt with JSON escapes, a
// JSON patch with "~1", server-side apply), and they hold for every writer,
// the break-glass kubeconfig included.

// tenantLabel reads the tenant label of obj ("" when it has none).
func tenantLabel(obj string) string {
	return fmt.Sprintf("(has(%[1]s.metadata.labels) && '%[2]s' in %[1]s.metadata.labels ? %[1]s.metadata.labels['%[2]s'] : '')", obj, authv1.LabelTenant)
}

// field reads a string field of obj's spec ("" when absent). The index
// form works for every name: objects reach the policy as plain maps, where
// Kubernetes' escaping of CEL keywords (namespace as __namespace__) does
// not apply.
func field(obj, name string) string {
	return fmt.Sprintf("(has(%[1]s.spec) && '%[2]s' in %[1]s.spec ? %[1]s.spec['%[2]s'] : '')", obj, name)
}

// credentialRef reads a cluster's credential reference ("" when absent).
func credentialRef(obj string) string {
	return fmt.Sprintf("(has(%[1]s.spec) && has(%[1]s.spec.clusterCredentialRef) && has(%[1]s.spec.clusterCredentialRef.name) ? %[1]s.spec.clusterCredentialRef.name : '')", obj)
}

// immutable says field of spec may not change once set.
func immutable(name, msg string) admissionv1.Validation {
	return admissionv1.Validation{
		Expression: fmt.Sprintf("request.operation != 'UPDATE' || %s == '' || %s == %s", field("oldObject", name), field("object", name), field("oldObject", name)),
		Message:    msg, Reason: ptr(metav1.StatusReasonForbidden),
	}
}

// fixed says field of spec may not change at all, set or not (an empty
// value means something too: no namespace is a cluster policy).
func fixed(name, msg string) admissionv1.Validation {
	return admissionv1.Validation{
		Expression: fmt.Sprintf("request.operation != 'UPDATE' || %s == %s", field("object", name), field("oldObject", name)),
		Message:    msg, Reason: ptr(metav1.StatusReasonForbidden),
	}
}

func ptr[T any](v T) *T { return &v }

// invariantPolicies are the platform's CEL rules, each with the resources
// it covers.
func invariantPolicies() []admissionv1.ValidatingAdmissionPolicy {
	groups := []string{platformv1.GroupVersion.Group, authv1.GroupVersion.Group, businessv1.GroupVersion.Group,
		monitorv1.GroupVersion.Group, notifyv1.GroupVersion.Group, registryv1.GroupVersion.Group}
	rule := func(apiGroups []string, resources ...string) *admissionv1.MatchResources {
		return &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
			RuleWithOperations: admissionv1.RuleWithOperations{
				Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
				Rule:       admissionv1.Rule{APIGroups: apiGroups, APIVersions: []string{"*"}, Resources: resources},
			}}}}
	}
	forbidden := ptr(metav1.StatusReasonForbidden)
	policy := func(name string, match *admissionv1.MatchResources, v ...admissionv1.Validation) admissionv1.ValidatingAdmissionPolicy {
		return admissionv1.ValidatingAdmissionPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{platformv1.LabelManagedBy: platformv1.ManagedByValue}},
			Spec: admissionv1.ValidatingAdmissionPolicySpec{
				FailurePolicy:    ptr(admissionv1.Fail),
				MatchConstraints: match,
				Validations:      v,
			},
		}
	}
	return []admissionv1.ValidatingAdmissionPolicy{
		policy("kstack-tenant", rule(groups, "*"),
			immutable("tenantID", "an object's tenant (spec.tenantID) cannot change"),
			admissionv1.Validation{
				Expression: fmt.Sprintf("request.operation != 'UPDATE' || %s == '' || %s == %s", tenantLabel("oldObject"), tenantLabel("object"), tenantLabel("oldObject")),
				Message:    "an object's tenant label (" + authv1.LabelTenant + ") cannot change or be removed", Reason: forbidden,
			},
			admissionv1.Validation{
				Expression: fmt.Sprintf("%[1]s == '' || %[2]s == '' || %[1]s == %[2]s || %[1]s == '%[3]s'", tenantLabel("object"), field("object", "tenantID"), directory.SharedTenantLabel),
				Message:    "the tenant label (" + authv1.LabelTenant + ") must equal spec.tenantID", Reason: forbidden,
			}),
		policy("kstack-cluster-identity", rule([]string{platformv1.GroupVersion.Group}, "clusters"),
			admissionv1.Validation{
				// Stricter than immutable: no reference is added later either.
				Expression: fmt.Sprintf("request.operation != 'UPDATE' || %s == %s", credentialRef("oldObject"), credentialRef("object")),
				Message:    "a cluster's credential reference cannot change: replace its address and credential with `kstack cluster update` (PUT .../clusters/{id}/credential), which checks them live",
				Reason:     forbidden,
			},
			admissionv1.Validation{
				Expression: fmt.Sprintf("request.operation != 'UPDATE' || !has(oldObject.metadata.labels) || !('%[1]s' in oldObject.metadata.labels) || (has(object.metadata.labels) && '%[1]s' in object.metadata.labels && object.metadata.labels['%[1]s'] == oldObject.metadata.labels['%[1]s'])", platformv1.LabelClusterUID),
				Message:    "a cluster's member UID label (" + platformv1.LabelClusterUID + ") cannot change",
				Reason:     forbidden,
			}),
		policy("kstack-credential-owner", rule([]string{platformv1.GroupVersion.Group}, "clustercredentials"),
			immutable("clusterName", "a credential's cluster (spec.clusterName) cannot change")),
		policy("kstack-addon-identity", rule([]string{platformv1.GroupVersion.Group}, "clusteraddons"),
			fixed("clusterName", "an add-on's cluster (spec.clusterName) cannot change: enable the add-on in the other cluster"),
			fixed("type", "an add-on's type (spec.type) cannot change: enable the other type")),
		policy("kstack-user-identity", rule([]string{authv1.GroupVersion.Group}, "users", "localidentities", "sessions", "apikeys"),
			immutable("username", "the account an object belongs to (spec.username) cannot change")),
		policy("kstack-namespace-owner", rule([]string{businessv1.GroupVersion.Group}, "namespaces"),
			immutable("projectName", "a namespace's project cannot change: move it (kstack namespace move)"),
			immutable("clusterName", "a namespace's cluster cannot change"),
			immutable("namespace", "a namespace's name in its cluster cannot change")),
		// A policy's scope decides which series it reads: a new scope is a new policy.
		policy("kstack-alarm-scope", rule([]string{monitorv1.GroupVersion.Group}, "alarmpolicies"),
			fixed("clusterName", "an alarm policy's cluster (spec.clusterName) cannot change: make a new policy"),
			fixed("namespace", "an alarm policy's namespace (spec.namespace) cannot change: make a new policy"),
			fixed("objectType", "an alarm policy's object type (spec.objectType) cannot change: make a new policy")),
	}
}

// ensureInvariants creates or updates the policies and binds each to deny.
func ensureInvariants(ctx context.Context, cs kubernetes.Interface) error {
	api := cs.AdmissionregistrationV1()
	for _, want := range invariantPolicies() {
		cur, err := api.ValidatingAdmissionPolicies().Get(ctx, want.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = api.ValidatingAdmissionPolicies().Create(ctx, &want, metav1.CreateOptions{})
		case err == nil:
			cur.Spec, cur.Labels = want.Spec, want.Labels
			_, err = api.ValidatingAdmissionPolicies().Update(ctx, cur, metav1.UpdateOptions{})
		}
		if err != nil {
			return fmt.Errorf("installing admission policy %s: %w", want.Name, err)
		}
		b := &admissionv1.ValidatingAdmissionPolicyBinding{
			ObjectMeta: metav1.ObjectMeta{Name: want.Name, Labels: want.Labels},
			Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName: want.Name, ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			},
		}
		if _, err := api.ValidatingAdmissionPolicyBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("binding admission policy %s: %w", want.Name, err)
		}
	}
	return nil
}
