package directory

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
)

func stmt(effect string, actions []string, resources ...string) authv1.Statement {
	return authv1.Statement{Actions: actions, Resources: resources, Effect: effect}
}

// quotaGuard keeps project roles from changing the ResourceQuotas and
// LimitRanges that enforce the platform's quotas in their namespaces.
var quotaGuard = stmt("deny", []string{"create*", "update*", "patch*", "delete*"},
	"cluster:*/namespace:*/resourcequota:*", "cluster:*/namespace:*/limitrange:*")

var (
	all      = []string{"*"}
	readOnly = []string{"get*", "list*", "watch*"}
)

// SharedTenantLabel is the tenant label of objects every tenant sees (the
// predefined policies); tenant IDs starting with "kstack" are reserved.
const SharedTenantLabel = "kstack-shared"

// Predefined are the roles of seed 004: platform roles (Administrator,
// Platform user, Tenant) and project roles (Project admin, Project member,
// Read-only member). They serve every tenant (empty tenantID).
func Predefined() []authv1.Policy {
	mk := func(name, display string, scope authv1.PolicyScope, desc string, st ...authv1.Statement) authv1.Policy {
		return authv1.Policy{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kstack.io/predefined": "true", authv1.LabelTenant: SharedTenantLabel}},
			Spec:       authv1.PolicySpec{DisplayName: display, Description: desc, Scope: scope, Statements: st, Predefined: true},
		}
	}
	return []authv1.Policy{
		mk(PolicyAdministrator, "Administrator", authv1.ScopePlatform,
			"Every platform and business function and resource of the tenant; in the default tenant, of every tenant.",
			stmt("allow", all, "*")),
		mk(PolicyPlatformUser, "Platform user", authv1.ScopePlatform,
			"Most platform functions: clusters, their contents, add-ons and projects, the registry, charts and applications; reads users, groups and policies.",
			stmt("allow", all, "cluster:*", "clusteraddon:*", "project:*", "namespace:*", "registrynamespace:*", "chartgroup:*", "namespace:*/app:*"),
			stmt("allow", readOnly, "user:*", "group:*", "policy:*")),
		mk(PolicyTenant, "Tenant", authv1.ScopePlatform,
			"No platform permissions: may only log in (and manage their own access keys).",
			stmt("allow", []string{"login"}, "platform")),
		mk(PolicyProjectAdmin, "Project admin", authv1.ScopeProject,
			"Everything in the project: its namespaces, workloads and members (not the quotas the platform set).",
			stmt("allow", all, "*"),
			quotaGuard),
		mk(PolicyProjectMember, "Project member", authv1.ScopeProject,
			"Workloads, configuration, applications, log collection rules, alarm policies and notification settings in the project's namespaces; images and charts in the registry namespaces and chart groups shared with the project; reads the project.",
			stmt("allow", all, "cluster:*/namespace:*/*"),
			// The project's log collection rules (their admission checks
			// that each names a namespace of the project).
			stmt("allow", all, "namespace:*/logcollector:*"),
			// The project's Helm applications: each operation runs as the
			// member, so the member's rights in the cluster apply too.
			stmt("allow", all, "namespace:*/app:*"),
			// The project's alarm policies and silences, and the channels,
			// templates, receivers and receiver groups they name (their
			// admission checks each scope and reference).
			stmt("allow", all, "namespace:*/alarmpolicy:*", "namespace:*/alarmsilence:*",
				"namespace:*/channel:*", "namespace:*/template:*", "namespace:*/receiver:*", "namespace:*/receivergroup:*"),
			// Images in the registry namespaces shared with the project
			// (only those: the registry asks project policies through the
			// projects a namespace lists).
			stmt("allow", []string{"pullRepository", "pushRepository", "deleteRepository"}, "registrynamespace:*/repository:*"),
			// "namespace:<project>/...": the project's Namespace objects on the platform.
			stmt("allow", readOnly, "project:*", "namespace:*", "cluster:*/namespace:*"),
			quotaGuard),
		mk(PolicyProjectViewer, "Read-only member", authv1.ScopeProject,
			"Reads the project and its namespaces, except Secrets; pulls images from the registry namespaces shared with the project.",
			stmt("allow", readOnly, "*"),
			stmt("allow", []string{"pullRepository"}, "registrynamespace:*/repository:*"),
			stmt("deny", all, "cluster:*/namespace:*/secret:*")),
	}
}

// EnsurePredefined creates the predefined policies and puts back any that
// were changed.
func EnsurePredefined(ctx context.Context, c client.Client) error {
	for _, want := range Predefined() {
		var got authv1.Policy
		err := c.Get(ctx, client.ObjectKey{Name: want.Name}, &got)
		switch {
		case apierrors.IsNotFound(err):
			w := want
			if err := c.Create(ctx, &w); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("creating predefined policy %s: %w", want.Name, err)
			}
		case err != nil:
			return fmt.Errorf("reading predefined policy %s: %w", want.Name, err)
		default:
			got.Spec = want.Spec
			got.Labels = want.Labels
			if err := c.Update(ctx, &got); err != nil {
				return fmt.Errorf("restoring predefined policy %s: %w", want.Name, err)
			}
		}
	}
	return nil
}
