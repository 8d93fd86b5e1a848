package platform

import (
	"context"
	"fmt"
	"slices"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/auth/directory"
)

// The rules of invariants.go are run here by the kube-apiserver's own code:
// compiled as validating.compilePolicy does (same environment, same compiler)
// and evaluated by validating's Validator on admission attributes holding
// *unstructured.Unstructured objects, which is how custom resources reach
// admission (their CEL value is then a plain map: no schema, no escaping).

// m is a JSON object: a spec, or a nested field of one.
type m = map[string]any

// cr is a custom resource with spec (none when nil) and labels (key, value, ...).
func cr(spec m, labels ...string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: m{"metadata": m{"name": "x"}}}
	if spec != nil {
		u.Object["spec"] = spec
	}
	if len(labels) > 0 {
		l := map[string]string{}
		for i := 0; i < len(labels); i += 2 {
			l[labels[i]] = labels[i+1]
		}
		u.SetLabels(l)
	}
	return u
}

// compileInvariant compiles p like validating.compilePolicy (policies
// without params, variables or match conditions).
func compileInvariant(p admissionv1.ValidatingAdmissionPolicy) validating.Validator {
	mode := environment.StoredExpressions
	compiler, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		return validating.NewValidator(nil, nil, nil, nil, p.Spec.FailurePolicy, err)
	}
	vars := plugincel.OptionalVariableDeclarations{HasAuthorizer: true}
	conds := make([]plugincel.ExpressionAccessor, len(p.Spec.Validations))
	msgs := make([]plugincel.ExpressionAccessor, len(p.Spec.Validations)) // no messageExpression
	for i, v := range p.Spec.Validations {
		conds[i] = &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: v.Reason}
	}
	return validating.NewValidator(
		compiler.CompileCondition(conds, vars, mode), nil,
		compiler.CompileCondition(nil, vars, mode),
		compiler.CompileCondition(msgs, plugincel.OptionalVariableDeclarations{}, mode),
		p.Spec.FailurePolicy, nil)
}

// evalInvariant runs p on a request for resource ("clusters.platform.tkestack.io")
// as the policy dispatcher does, one decision per validation.
func evalInvariant(t *testing.T, p admissionv1.ValidatingAdmissionPolicy, resource string, op admission.Operation, old, obj *unstructured.Unstructured) []validating.PolicyDecision {
	t.Helper()
	if p.Spec.ParamKind != nil || len(p.Spec.Variables) > 0 || len(p.Spec.MatchConditions) > 0 || len(p.Spec.AuditAnnotations) > 0 {
		t.Fatalf("policy %s uses params, variables, match conditions or audit annotations: extend compileInvariant", p.Name)
	}
	gvr := schema.ParseGroupResource(resource).WithVersion("v1")
	gvk := gvr.GroupVersion().WithKind("Object")
	var objects [2]runtime.Object // untyped nil when absent, as admission has it
	for i, u := range []*unstructured.Unstructured{obj, old} {
		if u != nil {
			u = u.DeepCopy()
			u.SetGroupVersionKind(gvk)
			objects[i] = u
		}
	}
	attr := admission.NewAttributesRecord(objects[0], objects[1], gvk, "", "x", gvr, "", op, nil, false, &user.DefaultInfo{Name: "tester"})
	va, err := admission.NewVersionedAttributes(attr, gvk, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := compileInvariant(p).Validate(context.Background(), gvr, va, nil, nil, celconfig.RuntimeCELCostBudget, nil)
	if len(res.Decisions) != len(p.Spec.Validations) {
		t.Fatalf("policy %s: %d decisions for %d validations: %+v", p.Name, len(res.Decisions), len(p.Spec.Validations), res.Decisions)
	}
	return res.Decisions
}

// invariantMatches says p's match constraints select op on resource.
func invariantMatches(p admissionv1.ValidatingAdmissionPolicy, resource string, op admission.Operation) bool {
	gr := schema.ParseGroupResource(resource)
	for _, r := range p.Spec.MatchConstraints.ResourceRules {
		if slices.Contains(r.Operations, admissionv1.OperationType(op)) &&
			(slices.Contains(r.APIGroups, gr.Group) || slices.Contains(r.APIGroups, "*")) &&
			(slices.Contains(r.Resources, gr.Resource) || slices.Contains(r.Resources, "*")) {
			return true
		}
	}
	return false
}

const (
	allow = validating.EvalAdmit
	deny  = validating.EvalDeny
)

type invariantCase struct {
	name     string
	resource string
	op       admission.Operation
	old, obj *unstructured.Unstructured
	want     []validating.PolicyDecisionEvaluation // one per validation, in order
}

var (
	tenant = authv1.LabelTenant
	uid    = platformv1.LabelClusterUID
	shared = directory.SharedTenantLabel
)

// invariantCases are, per policy, requests and the verdict of each validation.
var invariantCases = map[string][]invariantCase{
	// validations: spec.tenantID immutable, tenant label immutable, label == spec.tenantID
	"kstack-tenant": {
		{"create, label is tenantID", "clusters.platform.tkestack.io", admission.Create, nil, cr(m{"tenantID": "t1"}, tenant, "t1"), []validating.PolicyDecisionEvaluation{allow, allow, allow}},
		{"create, label is not tenantID", "users.auth.tkestack.io", admission.Create, nil, cr(m{"tenantID": "t1"}, tenant, "t2"), []validating.PolicyDecisionEvaluation{allow, allow, deny}},
		{"create, shared label", "projects.business.tkestack.io", admission.Create, nil, cr(m{"tenantID": "t1"}, tenant, shared), []validating.PolicyDecisionEvaluation{allow, allow, allow}},
		{"create, no label", "namespaces.business.tkestack.io", admission.Create, nil, cr(m{"tenantID": "t1"}), []validating.PolicyDecisionEvaluation{allow, allow, allow}},
		{"create, label without tenantID", "apikeys.auth.tkestack.io", admission.Create, nil, cr(m{}, tenant, "t1"), []validating.PolicyDecisionEvaluation{allow, allow, allow}},
		{"create, no spec", "clusters.platform.tkestack.io", admission.Create, nil, cr(nil, tenant, "t1"), []validating.PolicyDecisionEvaluation{allow, allow, allow}},
		{"update, unchanged", "clusters.platform.tkestack.io", admission.Update, cr(m{"tenantID": "t1"}, tenant, "t1"), cr(m{"tenantID": "t1", "x": "y"}, tenant, "t1"), []validating.PolicyDecisionEvaluation{allow, allow, allow}},
		{"update, from no tenant", "users.auth.tkestack.io", admission.Update, cr(m{}), cr(m{"tenantID": "t1"}, tenant, "t1"), []validating.PolicyDecisionEvaluation{allow, allow, allow}},
		{"update, from no spec", "users.auth.tkestack.io", admission.Update, cr(nil), cr(m{"tenantID": "t1"}, tenant, "t1"), []validating.PolicyDecisionEvaluation{allow, allow, allow}},
		{"update, label added", "clustercredentials.platform.tkestack.io", admission.Update, cr(m{"tenantID": "t1"}), cr(m{"tenantID": "t1"}, tenant, "t1"), []validating.PolicyDecisionEvaluation{allow, allow, allow}},
		{"update, tenantID changed", "projects.business.tkestack.io", admission.Update, cr(m{"tenantID": "t1"}), cr(m{"tenantID": "t2"}), []validating.PolicyDecisionEvaluation{deny, allow, allow}},
		{"update, tenantID changed, label kept", "projects.business.tkestack.io", admission.Update, cr(m{"tenantID": "t1"}, tenant, "t1"), cr(m{"tenantID": "t2"}, tenant, "t1"), []validating.PolicyDecisionEvaluation{deny, allow, deny}},
		{"update, tenantID and label changed", "sessions.auth.tkestack.io", admission.Update, cr(m{"tenantID": "t1"}, tenant, "t1"), cr(m{"tenantID": "t2"}, tenant, "t2"), []validating.PolicyDecisionEvaluation{deny, deny, allow}},
		{"update, tenantID cleared", "sessions.auth.tkestack.io", admission.Update, cr(m{"tenantID": "t1"}, tenant, "t1"), cr(m{}, tenant, "t1"), []validating.PolicyDecisionEvaluation{deny, allow, allow}},
		{"update, spec removed", "sessions.auth.tkestack.io", admission.Update, cr(m{"tenantID": "t1"}), cr(nil), []validating.PolicyDecisionEvaluation{deny, allow, allow}},
		{"update, label removed", "namespaces.business.tkestack.io", admission.Update, cr(m{"tenantID": "t1"}, tenant, "t1"), cr(m{"tenantID": "t1"}), []validating.PolicyDecisionEvaluation{allow, deny, allow}},
		{"update, label made shared", "namespaces.business.tkestack.io", admission.Update, cr(m{"tenantID": "t1"}, tenant, "t1"), cr(m{"tenantID": "t1"}, tenant, shared), []validating.PolicyDecisionEvaluation{allow, deny, allow}},
		// The alarm and notification kinds: tenant-wide ones of every tenant share kstack-system.
		{"create, alarm policy, label is not tenantID", "alarmpolicies.monitor.tkestack.io", admission.Create, nil, cr(m{"tenantID": "t1"}, tenant, "t2"), []validating.PolicyDecisionEvaluation{allow, allow, deny}},
		{"update, channel moved to another tenant", "channels.notify.tkestack.io", admission.Update, cr(m{"tenantID": "t1"}, tenant, "t1"), cr(m{"tenantID": "t2"}, tenant, "t2"), []validating.PolicyDecisionEvaluation{deny, deny, allow}},
		{"update, receiver label removed", "receivers.notify.tkestack.io", admission.Update, cr(m{"tenantID": "t1"}, tenant, "t1"), cr(m{"tenantID": "t1"}), []validating.PolicyDecisionEvaluation{allow, deny, allow}},
		{"update, registry namespace moved to another tenant by its label", "registrynamespaces.registry.tkestack.io", admission.Update, cr(m{"tenantID": "t2"}, tenant, "t2"), cr(m{"tenantID": "t2"}, tenant, "default"), []validating.PolicyDecisionEvaluation{allow, deny, deny}},
		{"update, registry namespace unchanged", "registrynamespaces.registry.tkestack.io", admission.Update, cr(m{"tenantID": "t2"}, tenant, "t2"), cr(m{"tenantID": "t2", "visibility": "Public"}, tenant, "t2"), []validating.PolicyDecisionEvaluation{allow, allow, allow}},
		{"update, silence unchanged", "alarmsilences.monitor.tkestack.io", admission.Update, cr(m{"tenantID": "t1"}, tenant, "t1"), cr(m{"tenantID": "t1", "comment": "x"}, tenant, "t1"), []validating.PolicyDecisionEvaluation{allow, allow, allow}},
	},
	// validations: spec.clusterCredentialRef.name unchanged, member UID label unchanged
	"kstack-cluster-identity": {
		{"create", "clusters.platform.tkestack.io", admission.Create, nil, cr(m{"clusterCredentialRef": m{"name": "c1"}}, uid, "u1"), []validating.PolicyDecisionEvaluation{allow, allow}},
		{"update, unchanged", "clusters.platform.tkestack.io", admission.Update, cr(m{"clusterCredentialRef": m{"name": "c1"}}, uid, "u1"), cr(m{"clusterCredentialRef": m{"name": "c1"}, "locked": true}, uid, "u1", tenant, "t1"), []validating.PolicyDecisionEvaluation{allow, allow}},
		{"update, neither set", "clusters.platform.tkestack.io", admission.Update, cr(m{}), cr(m{}), []validating.PolicyDecisionEvaluation{allow, allow}},
		{"update, UID label added", "clusters.platform.tkestack.io", admission.Update, cr(m{}), cr(m{}, uid, "u1"), []validating.PolicyDecisionEvaluation{allow, allow}},
		{"update, ref changed", "clusters.platform.tkestack.io", admission.Update, cr(m{"clusterCredentialRef": m{"name": "c1"}}), cr(m{"clusterCredentialRef": m{"name": "c2"}}), []validating.PolicyDecisionEvaluation{deny, allow}},
		{"update, ref removed", "clusters.platform.tkestack.io", admission.Update, cr(m{"clusterCredentialRef": m{"name": "c1"}}), cr(m{}), []validating.PolicyDecisionEvaluation{deny, allow}},
		// unlike the immutable() fields, the ref cannot be set after creation either
		{"update, ref set", "clusters.platform.tkestack.io", admission.Update, cr(m{}), cr(m{"clusterCredentialRef": m{"name": "c1"}}), []validating.PolicyDecisionEvaluation{deny, allow}},
		// spec is optional in the CRD: a cluster without one is updated
		{"update, no spec", "clusters.platform.tkestack.io", admission.Update, cr(nil), cr(nil, tenant, "t1"), []validating.PolicyDecisionEvaluation{allow, allow}},
		{"update, ref set on a cluster without a spec", "clusters.platform.tkestack.io", admission.Update, cr(nil), cr(m{"clusterCredentialRef": m{"name": "c1"}}), []validating.PolicyDecisionEvaluation{deny, allow}},
		{"update, UID label changed", "clusters.platform.tkestack.io", admission.Update, cr(m{}, uid, "u1"), cr(m{}, uid, "u2"), []validating.PolicyDecisionEvaluation{allow, deny}},
		{"update, UID label removed", "clusters.platform.tkestack.io", admission.Update, cr(m{}, uid, "u1", tenant, "t1"), cr(m{}, tenant, "t1"), []validating.PolicyDecisionEvaluation{allow, deny}},
		{"update, all labels removed", "clusters.platform.tkestack.io", admission.Update, cr(m{}, uid, "u1"), cr(m{}), []validating.PolicyDecisionEvaluation{allow, deny}},
	},
	// validations: spec.clusterName immutable
	"kstack-credential-owner": immutableCases("clustercredentials.platform.tkestack.io", "clusterName", 0, 1),
	// validations: spec.clusterName, spec.type fixed
	"kstack-addon-identity": slices.Concat(
		fixedCases("clusteraddons.platform.tkestack.io", "clusterName", 0, 2),
		fixedCases("clusteraddons.platform.tkestack.io", "type", 1, 2),
	),
	// validations: spec.username immutable
	"kstack-user-identity": slices.Concat(
		immutableCases("users.auth.tkestack.io", "username", 0, 1),
		immutableCases("localidentities.auth.tkestack.io", "username", 0, 1),
		immutableCases("sessions.auth.tkestack.io", "username", 0, 1),
		immutableCases("apikeys.auth.tkestack.io", "username", 0, 1),
	),
	// validations: spec.projectName, spec.clusterName, spec.namespace immutable
	"kstack-namespace-owner": slices.Concat(
		immutableCases("namespaces.business.tkestack.io", "projectName", 0, 3),
		immutableCases("namespaces.business.tkestack.io", "clusterName", 1, 3),
		immutableCases("namespaces.business.tkestack.io", "namespace", 2, 3),
	),
	// validations: spec.clusterName, spec.namespace, spec.objectType fixed
	"kstack-alarm-scope": slices.Concat(
		fixedCases("alarmpolicies.monitor.tkestack.io", "clusterName", 0, 3),
		fixedCases("alarmpolicies.monitor.tkestack.io", "namespace", 1, 3),
		fixedCases("alarmpolicies.monitor.tkestack.io", "objectType", 2, 3),
	),
}

// fixedCases are the cases of fixed(name), validation i of n: unlike
// immutable(name), a value may not be set later either.
func fixedCases(resource, name string, i, n int) []invariantCase {
	v := func(at validating.PolicyDecisionEvaluation) []validating.PolicyDecisionEvaluation {
		w := slices.Repeat([]validating.PolicyDecisionEvaluation{allow}, n)
		w[i] = at
		return w
	}
	pre := resource + " " + name + ": "
	return []invariantCase{
		{pre + "create", resource, admission.Create, nil, cr(m{name: "a"}), v(allow)},
		{pre + "create without it", resource, admission.Create, nil, cr(m{}), v(allow)},
		{pre + "update, unchanged", resource, admission.Update, cr(m{name: "a"}), cr(m{name: "a", "other": "b"}, tenant, "t1"), v(allow)},
		{pre + "update, still absent", resource, admission.Update, cr(m{}), cr(m{"other": "b"}), v(allow)},
		{pre + "update, absent and empty alike", resource, admission.Update, cr(m{name: ""}), cr(m{}), v(allow)},
		{pre + "update, from empty", resource, admission.Update, cr(m{name: ""}), cr(m{name: "a"}), v(deny)},
		{pre + "update, from absent", resource, admission.Update, cr(m{}), cr(m{name: "a"}), v(deny)},
		{pre + "update, from no spec", resource, admission.Update, cr(nil), cr(m{name: "a"}), v(deny)},
		{pre + "update, changed", resource, admission.Update, cr(m{name: "a"}), cr(m{name: "b"}), v(deny)},
		{pre + "update, cleared", resource, admission.Update, cr(m{name: "a"}), cr(m{name: ""}), v(deny)},
		{pre + "update, removed", resource, admission.Update, cr(m{name: "a"}), cr(m{}), v(deny)},
		{pre + "update, spec removed", resource, admission.Update, cr(m{name: "a"}), cr(nil), v(deny)},
	}
}

// immutableCases are the cases of immutable(name), validation i of n.
func immutableCases(resource, name string, i, n int) []invariantCase {
	v := func(at validating.PolicyDecisionEvaluation) []validating.PolicyDecisionEvaluation {
		w := slices.Repeat([]validating.PolicyDecisionEvaluation{allow}, n)
		w[i] = at
		return w
	}
	pre := resource + " " + name + ": "
	return []invariantCase{
		{pre + "create", resource, admission.Create, nil, cr(m{name: "a"}), v(allow)},
		{pre + "update, unchanged", resource, admission.Update, cr(m{name: "a"}), cr(m{name: "a", "other": "b"}, tenant, "t1"), v(allow)},
		{pre + "update, from empty", resource, admission.Update, cr(m{name: ""}), cr(m{name: "a"}), v(allow)},
		{pre + "update, from absent", resource, admission.Update, cr(m{}), cr(m{name: "a"}), v(allow)},
		{pre + "update, from no spec", resource, admission.Update, cr(nil), cr(m{name: "a"}), v(allow)},
		{pre + "update, changed", resource, admission.Update, cr(m{name: "a"}), cr(m{name: "b"}), v(deny)},
		{pre + "update, cleared", resource, admission.Update, cr(m{name: "a"}), cr(m{name: ""}), v(deny)},
		{pre + "update, removed", resource, admission.Update, cr(m{name: "a"}), cr(m{}), v(deny)},
		{pre + "update, spec removed", resource, admission.Update, cr(m{name: "a"}), cr(nil), v(deny)},
	}
}

func TestInvariantPolicies(t *testing.T) {
	policies := invariantPolicies()
	if len(policies) != len(invariantCases) {
		t.Errorf("%d policies, cases for %d", len(policies), len(invariantCases))
	}
	for _, p := range policies {
		cases, ok := invariantCases[p.Name]
		if !ok {
			t.Errorf("policy %s has no cases", p.Name)
			continue
		}
		denied := make([]bool, len(p.Spec.Validations))
		for _, c := range cases {
			for i, w := range c.want {
				if i < len(denied) && w == deny {
					denied[i] = true
				}
			}
			t.Run(p.Name+"/"+c.name, func(t *testing.T) {
				if !invariantMatches(p, c.resource, c.op) {
					t.Fatalf("policy %s does not match %s %s", p.Name, c.op, c.resource)
				}
				if len(c.want) != len(p.Spec.Validations) {
					t.Fatalf("want %d verdicts, policy has %d validations", len(c.want), len(p.Spec.Validations))
				}
				var diffs []string
				for i, d := range evalInvariant(t, p, c.resource, c.op, c.old, c.obj) {
					v := p.Spec.Validations[i]
					if d.Evaluation != c.want[i] {
						diffs = append(diffs, fmt.Sprintf("validation %d (%q): got %s (%s), want %s", i, v.Message, d.Evaluation, d.Message, c.want[i]))
						continue
					}
					if d.Evaluation == deny && (d.Message != v.Message || d.Reason != metav1.StatusReasonForbidden) {
						diffs = append(diffs, fmt.Sprintf("validation %d: denied with %s %q, want Forbidden %q", i, d.Reason, d.Message, v.Message))
					}
					if d.Evaluation != allow && d.Action != validating.ActionDeny {
						diffs = append(diffs, fmt.Sprintf("validation %d: %s does not deny the request", i, d.Evaluation))
					}
				}
				for _, d := range diffs {
					t.Error(d)
				}
			})
		}
		for i, d := range denied {
			if !d {
				t.Errorf("policy %s validation %d (%q) has no denied case", p.Name, i, p.Spec.Validations[i].Message)
			}
		}
	}
}

// TestInvariantsCompile compiles every validation as the API server does
// when the policy is created, so that a typo fails here.
func TestInvariantsCompile(t *testing.T) {
	compiler, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range invariantPolicies() {
		if p.Spec.FailurePolicy == nil || *p.Spec.FailurePolicy != admissionv1.Fail {
			t.Errorf("policy %s: failure policy is not Fail", p.Name)
		}
		for i, v := range p.Spec.Validations {
			cond := compiler.CompileCondition([]plugincel.ExpressionAccessor{&validating.ValidationCondition{Expression: v.Expression}},
				plugincel.OptionalVariableDeclarations{HasAuthorizer: true}, environment.NewExpressions)
			for _, err := range cond.CompilationErrors() {
				t.Errorf("policy %s validation %d (%s): %v", p.Name, i, v.Expression, err)
			}
		}
	}
}

// TestInvariantHarnessReadsFields checks that the harness sees field values:
// spec.namespace is read by its plain name, and not by its escaped one (a
// custom resource is a plain map to CEL: escaping only applies with a schema).
func TestInvariantHarnessReadsFields(t *testing.T) {
	p := admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "probe"},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{Validations: []admissionv1.Validation{
			{Expression: "object.spec.namespace == 'ns1'"},
			{Expression: "object.spec.tenantID == 'ns1'"},
			{Expression: "!has(object.spec.__namespace__)"},
		}},
	}
	for _, c := range []struct {
		value string
		want  []validating.PolicyDecisionEvaluation
	}{
		{"ns1", []validating.PolicyDecisionEvaluation{allow, allow, allow}},
		{"ns2", []validating.PolicyDecisionEvaluation{deny, deny, allow}},
	} {
		got := evalInvariant(t, p, "namespaces.business.tkestack.io", admission.Create, nil, cr(m{"namespace": c.value, "tenantID": c.value}))
		for i, d := range got {
			if d.Evaluation != c.want[i] {
				t.Errorf("%s with %q: got %s (%s), want %s", p.Spec.Validations[i].Expression, c.value, d.Evaluation, d.Message, c.want[i])
			}
		}
	}
}
