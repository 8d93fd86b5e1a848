package controlplane

import (
	"os"
	"path/filepath"
)

// auditPolicy records who did what (Metadata level: never bodies, so no
// Secret values), leaving out the chatter of watches, leases, events and
// health checks. Requests the platform proxies carry impersonatedUser: the
// real user.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  verbs: ["watch"]
- level: None
  resources:
  - group: "coordination.k8s.io"
    resources: ["leases"]
  - group: ""
    resources: ["events"]
  - group: "events.k8s.io"
    resources: ["events"]
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: Metadata
`

// AuditPolicy is the apiserver's audit policy file; AuditLog its log.
func (l Layout) AuditPolicy() string { return filepath.Join(l.Dir, "audit-policy.yaml") }
func (l Layout) AuditLog() string    { return filepath.Join(l.Dir, "logs", "audit.log") }

// EnsureAuditPolicy writes the audit policy (again on every start, so that
// data dirs made by older versions get it).
func EnsureAuditPolicy(l Layout) error {
	if err := os.MkdirAll(l.LogDir(), 0o700); err != nil {
		return err
	}
	return os.WriteFile(l.AuditPolicy(), []byte(auditPolicy), 0o600)
}
