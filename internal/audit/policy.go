package audit

import (
	"fmt"

	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	kaudit "k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// DefaultPolicy keeps every request at Metadata level except the chatter
// that says nothing of what anyone did: watches (re-opened all day by every
// client), discovery and health checks. It is a Kubernetes audit policy, so
// people who know the kube-apiserver's know this one.
const DefaultPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  verbs: ["watch"]
- level: None
  nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/version", "/openapi/*", "/healthz*", "/readyz*", "/livez*"]
- level: Metadata
`

// Policy says which requests are kept. Levels above Metadata are read as
// Metadata: the platform never records bodies.
type Policy struct {
	eval kaudit.PolicyRuleEvaluator
}

// ParsePolicy reads a Kubernetes audit policy (audit.k8s.io/v1 Policy).
func ParsePolicy(data []byte) (*Policy, error) {
	p, err := policy.LoadPolicyFromBytes(data)
	if err != nil {
		return nil, fmt.Errorf("the audit policy is not a valid audit.k8s.io/v1 Policy: %w", err)
	}
	return &Policy{eval: policy.NewPolicyRuleEvaluator(p)}, nil
}

// MustDefault is the default policy.
func MustDefault() *Policy {
	p, err := ParsePolicy([]byte(DefaultPolicy))
	if err != nil {
		panic(err)
	}
	return p
}

// Level is the level the policy gives a request.
func (p *Policy) Level(a authorizer.Attributes) auditinternal.Level {
	return p.eval.EvaluatePolicyRule(a).Level
}
