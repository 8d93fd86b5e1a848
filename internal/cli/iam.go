package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/printer"
)

const mergePatch = "application/merge-patch+json"

// qualify names an object of a tenant (users, groups): TENANT.NAME as
// given, or NAME in your own tenant.
func qualify(ctx context.Context, c *apiclient.Client, name string) (string, error) {
	if strings.Contains(name, ".") {
		return name, nil
	}
	w, err := whoami(ctx, c)
	if err != nil {
		return "", err
	}
	return authv1.ObjectName(w.Tenant, name), nil
}

func newUserCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "user",
		Aliases: []string{"users"},
		Short:   "Create, list, show, update and delete users",
		Long: `Users of the platform. A user object is named TENANT.USERNAME (default.alice);
commands that take a NAME accept TENANT.NAME, or NAME for a user of your own
tenant. Local users have a password (kstack passwd); users of an identity
provider's tenant are created at their first login. What a user may do comes from
the policies bound to them or their groups (kstack policy bind).`,
		Example: `  echo 'Passw0rd-Alice' | kstack user create alice --password-stdin --policy platform-user
  kstack user list
  kstack user update alice --display-name "Alice Liddell"
  kstack user delete alice`,
	}
	userRows := func(users []authv1.User) [][]string {
		var rows [][]string
		for _, u := range users {
			state := ""
			if u.Spec.Disabled {
				state = "disabled"
			}
			if u.Status.LockedUntil != nil && u.Status.LockedUntil.After(metav1.Now().Time) {
				state = "locked"
			}
			rows = append(rows, []string{u.Name, u.Spec.TenantID, u.Spec.Username, u.Spec.DisplayName, u.Spec.IdentityProvider, state})
		}
		return rows
	}
	userHeaders := []string{"NAME", "TENANT", "USERNAME", "DISPLAY NAME", "PROVIDER", "STATUS"}
	users := object[authv1.User]{noun: "user", path: func(n string) string { return authPath + "/users/" + n }, qualify: true, headers: userHeaders, rows: userRows}

	var req authv1.CreateUserRequest
	var stdin bool
	var output string
	create := &cobra.Command{
		Use:   "create USERNAME",
		Short: "Create a local user (account: 3-32 lowercase letters, digits and '-')",
		Long: `Creates a user with a password (10-16 characters with upper- and lower-case
letters and a digit) from --password-stdin or $KSTACK_PASSWORD. --policy binds
platform policies (the seed's platform role): administrator, platform-user,
tenant, or a custom one. You cannot grant more than you hold. Prints "user
TENANT.USERNAME created", or the User with -o.`,
		Example: `  echo 'Passw0rd-Alice' | kstack user create alice --password-stdin --policy platform-user
  KSTACK_PASSWORD='Passw0rd-Dave1' kstack user create dave --tenant t2 --policy administrator`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			req.Spec.Username = args[0]
			if req.Password, err = readSecretInput(o, stdin, PasswordEnv, "Password: "); err != nil {
				return err
			}
			var u authv1.User
			if err := c.Do(cmd.Context(), http.MethodPost, authPath+"/users", "", req, &u); err != nil {
				return err
			}
			return o.done(output, &u, "user %s created", u.Name)
		},
	}
	create.Flags().StringVar(&req.Spec.TenantID, "tenant", "", "tenant of the user (default: yours)")
	create.Flags().StringVar(&req.Spec.DisplayName, "display-name", "", "display name")
	create.Flags().StringVar(&req.Spec.Email, "email", "", "email address")
	create.Flags().StringSliceVar(&req.Policies, "policy", nil, "platform policy to bind (repeatable)")
	passwordStdinFlag(create, &stdin, "read the password from stdin (one line)")
	outputFlag(create, &output)

	list := &cobra.Command{
		Use:   "list",
		Short: "List the users you may see",
		Long: `Lists the users you may see (your tenant's; platform administrators see every
tenant's): name, tenant, username, display name, identity provider, and whether
the account is disabled or locked after failed logins.`,
		Example: "  kstack user list\n  kstack user list -o json",
		Args:    cobra.NoArgs,
		RunE:    listRun(o, &output, authPath+"/users", userHeaders, func(l *authv1.UserList) [][]string { return userRows(l.Items) }),
	}
	outputFlag(list, &output)

	get := users.getCmd(o, &cobra.Command{
		Use:     "get NAME",
		Short:   "Show one user (TENANT.NAME, or NAME in your tenant)",
		Long:    `Shows one user as 'kstack user list' does; -o json|yaml prints the whole User, with its last login and the groups its identity provider named.`,
		Example: "  kstack user get alice\n  kstack user get t2.dave -o yaml",
	})

	var display, email string
	var disabled bool
	update := &cobra.Command{
		Use:   "update NAME [--display-name D] [--email E] [--disabled=true|false]",
		Short: "Change a user's display name, email, or whether the account is disabled",
		Long: `Changes what is given of a user's display name, email and disabled state.
A disabled user cannot log in, and their tokens and access keys stop working.
Passwords are changed with 'kstack passwd'.`,
		Example: `  kstack user update alice --display-name "Alice Liddell" --email alice@example.com
  kstack user update bob --disabled
  kstack user update bob --disabled=false`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := map[string]any{}
			if cmd.Flags().Changed("display-name") {
				spec["displayName"] = display
			}
			if cmd.Flags().Changed("email") {
				spec["email"] = email
			}
			if cmd.Flags().Changed("disabled") {
				spec["disabled"] = disabled
			}
			if len(spec) == 0 {
				return fmt.Errorf("nothing to update: give --display-name, --email or --disabled")
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			name, err := qualify(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			var u authv1.User
			if err := c.Do(cmd.Context(), http.MethodPatch, authPath+"/users/"+name, mergePatch, map[string]any{"spec": spec}, &u); err != nil {
				return err
			}
			return o.done(output, &u, "user %s updated", name)
		},
	}
	update.Flags().StringVar(&display, "display-name", "", "display name")
	update.Flags().StringVar(&email, "email", "", "email address")
	update.Flags().BoolVar(&disabled, "disabled", false, "disable the account (--disabled=false enables it)")
	outputFlag(update, &output)

	del := users.deleteCmd(o, &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user (TENANT.NAME, or NAME in your tenant)",
		Long: `Deletes a user; their password, sessions and access keys go with them. Policy
bindings and group memberships that name the username stay, and would apply to a
new user of the same name.`,
		Example: "  kstack user delete alice\n  kstack user delete t2.dave",
	})
	cmd.AddCommand(create, list, get, update, del)
	return cmd
}

func newGroupCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "group",
		Aliases: []string{"groups"},
		Short:   "Create, list, show, update and delete groups of users",
		Long: `Groups are named sets of users of one tenant; bind policies to a group with
'kstack policy bind POLICY --group NAME' and every member holds them. A group
object is named TENANT.NAME; commands accept TENANT.NAME, or NAME for a group of
your tenant. Changing a group's members is granting: you cannot add anyone to a
group that holds a policy you do not hold.`,
		Example: `  kstack group create developers --member alice --member bob
  kstack policy bind read-dev --group developers
  kstack group add-member developers carol
  kstack group delete developers`,
	}
	groupRows := func(groups []authv1.Group) [][]string {
		var rows [][]string
		for _, g := range groups {
			rows = append(rows, []string{g.Name, g.Spec.TenantID, strings.Join(g.Spec.Members, ","), g.Spec.Description})
		}
		return rows
	}
	groupHeaders := []string{"NAME", "TENANT", "MEMBERS", "DESCRIPTION"}
	groups := object[authv1.Group]{noun: "group", path: func(n string) string { return authPath + "/groups/" + n }, qualify: true, headers: groupHeaders, rows: groupRows}
	getGroup := func(ctx context.Context, c *apiclient.Client, arg string) (*authv1.Group, error) {
		name, err := qualify(ctx, c, arg)
		if err != nil {
			return nil, err
		}
		var g authv1.Group
		return &g, c.Do(ctx, http.MethodGet, authPath+"/groups/"+name, "", nil, &g)
	}
	// changeGroup reads a group, changes it and replaces it whole (groups
	// are not patched, so that every change is checked whole).
	var output string
	changeGroup := func(cmd *cobra.Command, arg string, change func(*authv1.Group) error, msg string, args ...any) error {
		c, err := newAPIClient(o)
		if err != nil {
			return err
		}
		g, err := getGroup(cmd.Context(), c, arg)
		if err != nil {
			return err
		}
		if err := change(g); err != nil {
			return err
		}
		g.APIVersion, g.Kind = authv1.GroupVersion.String(), "Group"
		var out authv1.Group
		if err := c.Do(cmd.Context(), http.MethodPut, authPath+"/groups/"+g.Name, "", g, &out); err != nil {
			return err
		}
		return o.done(output, &out, "group %s "+msg, append([]any{g.Name}, args...)...)
	}

	var members []string
	var desc string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a group of your tenant (name: under 60 lowercase letters, digits and '-')",
		Long: `Creates a group of your tenant with its members (usernames of the tenant).
Prints "group TENANT.NAME created", or the Group with -o.`,
		Example: `  kstack group create developers --member alice --member bob
  kstack policy bind read-dev --group developers`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			w, err := whoami(cmd.Context(), c)
			if err != nil {
				return err
			}
			g := authv1.Group{TypeMeta: metav1.TypeMeta{APIVersion: authv1.GroupVersion.String(), Kind: "Group"},
				ObjectMeta: metav1.ObjectMeta{Name: authv1.ObjectName(w.Tenant, args[0])},
				Spec:       authv1.GroupSpec{Name: args[0], Description: desc, Members: members}}
			var out authv1.Group
			if err := c.Do(cmd.Context(), http.MethodPost, authPath+"/groups", "", g, &out); err != nil {
				return err
			}
			if out.Name == "" {
				out = g
			}
			return o.done(output, &out, "group %s created", out.Name)
		},
	}
	create.Flags().StringSliceVar(&members, "member", nil, "username of a member (repeatable)")
	create.Flags().StringVar(&desc, "description", "", "what the group is for")
	outputFlag(create, &output)

	list := &cobra.Command{
		Use:     "list",
		Short:   "List the groups you may see",
		Long:    "Lists the groups you may see, with their tenant, members and description.",
		Example: "  kstack group list\n  kstack group list -o yaml",
		Args:    cobra.NoArgs,
		RunE:    listRun(o, &output, authPath+"/groups", groupHeaders, func(l *authv1.GroupList) [][]string { return groupRows(l.Items) }),
	}
	outputFlag(list, &output)

	get := groups.getCmd(o, &cobra.Command{
		Use:     "get NAME",
		Short:   "Show one group (TENANT.NAME, or NAME in your tenant)",
		Long:    "Shows one group with its members; -o json|yaml prints the whole Group.",
		Example: "  kstack group get developers\n  kstack group get developers -o json",
	})

	var setMembers []string
	var setDesc string
	update := &cobra.Command{
		Use:   "update NAME [--description D] [--member USER ...]",
		Short: "Change a group's description, or replace its members",
		Long: `Changes a group's description, and with --member replaces its members with the
ones given (--member "" empties it). To add or remove one member, use
'kstack group add-member' and 'kstack group remove-member'.`,
		Example: `  kstack group update developers --description "web team"
  kstack group update developers --member alice --member carol`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			descSet, membersSet := cmd.Flags().Changed("description"), cmd.Flags().Changed("member")
			if !descSet && !membersSet {
				return fmt.Errorf("nothing to update: give --description or --member")
			}
			return changeGroup(cmd, args[0], func(g *authv1.Group) error {
				if descSet {
					g.Spec.Description = setDesc
				}
				if membersSet {
					g.Spec.Members = nil
					for _, m := range setMembers {
						if m != "" {
							g.Spec.Members = append(g.Spec.Members, m)
						}
					}
				}
				return nil
			}, "updated")
		},
	}
	update.Flags().StringVar(&setDesc, "description", "", "what the group is for")
	update.Flags().StringSliceVar(&setMembers, "member", nil, "username of a member (repeatable); replaces the members")
	outputFlag(update, &output)

	addMember := &cobra.Command{
		Use:     "add-member NAME USERNAME...",
		Short:   "Add users of your tenant to a group",
		Long:    "Adds users (usernames of the group's tenant) to a group; those already in it stay as they are.",
		Example: "  kstack group add-member developers carol dan",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return changeGroup(cmd, args[0], func(g *authv1.Group) error {
				for _, u := range args[1:] {
					if !contains(g.Spec.Members, u) {
						g.Spec.Members = append(g.Spec.Members, u)
					}
				}
				return nil
			}, "updated: added %s", strings.Join(args[1:], ", "))
		},
	}
	outputFlag(addMember, &output)
	removeMember := &cobra.Command{
		Use:     "remove-member NAME USERNAME...",
		Short:   "Remove members from a group",
		Long:    "Removes users from a group; naming a user who is not a member is an error, and nothing changes.",
		Example: "  kstack group remove-member developers bob",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return changeGroup(cmd, args[0], func(g *authv1.Group) error {
				for _, u := range args[1:] {
					if !contains(g.Spec.Members, u) {
						return fmt.Errorf("%s is not a member of group %s", u, g.Name)
					}
				}
				g.Spec.Members = without(g.Spec.Members, args[1:])
				return nil
			}, "updated: removed %s", strings.Join(args[1:], ", "))
		},
	}
	outputFlag(removeMember, &output)

	del := groups.deleteCmd(o, &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a group (TENANT.NAME, or NAME in your tenant)",
		Long: `Deletes a group: its members no longer hold the policies bound to it. The
bindings stay and name the group, and would apply to a new group of that name;
remove them with 'kstack policy unbind POLICY --group NAME'.`,
		Example: "  kstack group delete developers",
	})
	cmd.AddCommand(create, list, get, update, addMember, removeMember, del)
	return cmd
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// without is list less the elements of drop, in order.
func without(list, drop []string) []string {
	var kept []string
	for _, x := range list {
		if !contains(drop, x) {
			kept = append(kept, x)
		}
	}
	return kept
}

// readStatements reads a policy's statements from a JSON file.
func readStatements(file string) ([]authv1.Statement, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading -f: %w", err)
	}
	var st []authv1.Statement
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("-f %s is not a JSON list of statements: %w", file, err)
	}
	return st, nil
}

const statementsHelp = `A policy is a JSON list of statements, each
{"actions": [...], "resources": [...], "effect": "allow"|"deny"}, e.g.
[{"actions":["get*","list*","watch*"],"resources":["cluster:cls-123/namespace:default/*"],"effect":"allow"}].
Actions are a verb and a kind (getPod, listDeployment, createPodExec, *); resources
are cluster:<id>[/namespace:<ns>]/<kind>:<name>[/<subresource>] for what is in
clusters, and <kind>:<name> for the platform's objects. '*' matches anything, and a
deny beats any allow.`

func newPolicyCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "policy",
		Aliases: []string{"policies"},
		Short:   "Create, list, show, update, delete, bind and unbind policies",
		Long: `Policies say who may do what: ` + statementsHelp + `

A policy applies to the users and groups it is bound to ('kstack policy bind');
the bindings themselves are listed by 'kstack policybinding list'. Predefined
policies (administrator, platform-user, tenant, project-admin, project-member,
project-viewer) cannot be changed or deleted.`,
		Example: `  kstack policy create read-dev -f statements.json
  kstack policy bind read-dev --user bob --group developers
  kstack policy unbind read-dev --user bob
  kstack policy delete read-dev`,
	}
	var output string
	policies := object[authv1.Policy]{noun: "policy", path: func(n string) string { return authPath + "/policies/" + n }}
	policyRows := func(items []authv1.Policy) [][]string {
		var rows [][]string
		for _, p := range items {
			rows = append(rows, []string{p.Name, string(p.Spec.Scope), p.Spec.DisplayName, fmt.Sprint(p.Spec.Predefined)})
		}
		return rows
	}

	var file, display, description, scope string
	create := &cobra.Command{
		Use:   "create NAME -f STATEMENTS.json",
		Short: "Create a custom policy from a JSON list of statements",
		Long: `Creates a policy of your tenant from a JSON list of statements. ` + statementsHelp + `

--scope Project makes a project policy, bound in one project ('kstack policy bind
--project'). Prints "policy NAME created", or the Policy with -o.`,
		Example: `  echo '[{"actions":["get*","list*"],"resources":["cluster:*"],"effect":"allow"}]' > ro.json
  kstack policy create read-only -f ro.json --display-name "Read only"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := readStatements(file)
			if err != nil {
				return err
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			pol := authv1.Policy{TypeMeta: metav1.TypeMeta{APIVersion: authv1.GroupVersion.String(), Kind: "Policy"},
				ObjectMeta: metav1.ObjectMeta{Name: args[0]},
				Spec:       authv1.PolicySpec{DisplayName: display, Description: description, Statements: st, Scope: authv1.PolicyScope(scope)}}
			var out authv1.Policy
			if err := c.Do(cmd.Context(), http.MethodPost, authPath+"/policies", "", pol, &out); err != nil {
				return err
			}
			if out.Name == "" {
				out = pol
			}
			return o.done(output, &out, "policy %s created", out.Name)
		},
	}
	create.Flags().StringVarP(&file, "file", "f", "", "JSON file with the statements")
	create.Flags().StringVar(&display, "display-name", "", "display name")
	create.Flags().StringVar(&description, "description", "", "what the policy is for")
	create.Flags().StringVar(&scope, "scope", string(authv1.ScopePlatform), "Platform, or Project for a policy bound in one project")
	required(create, "file")
	outputFlag(create, &output)

	list := &cobra.Command{
		Use:     "list",
		Short:   "List the policies you may see",
		Long:    "Lists your tenant's policies and the predefined ones, with their scope and display name.",
		Example: "  kstack policy list\n  kstack policy list -o name",
		Args:    cobra.NoArgs,
		RunE:    listRun(o, &output, authPath+"/policies", []string{"NAME", "SCOPE", "DISPLAY NAME", "PREDEFINED"}, func(l *authv1.PolicyList) [][]string { return policyRows(l.Items) }),
	}
	outputFlag(list, &output)

	getPolicy := func(ctx context.Context, c *apiclient.Client, name string) (*authv1.Policy, error) {
		var p authv1.Policy
		return &p, c.Do(ctx, http.MethodGet, authPath+"/policies/"+name, "", nil, &p)
	}
	get := &cobra.Command{
		Use:     "get NAME",
		Short:   "Show a policy's statements",
		Long:    "Shows a policy's statements, one a line: effect, actions and resources; -o json|yaml prints the whole Policy.",
		Example: "  kstack policy get platform-user\n  kstack policy get read-dev -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			p, err := getPolicy(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			var rows [][]string
			for _, s := range p.Spec.Statements {
				rows = append(rows, []string{s.Effect, strings.Join(s.Actions, ","), strings.Join(s.Resources, ",")})
			}
			return o.show(output, p, []string{"EFFECT", "ACTIONS", "RESOURCES"}, rows)
		},
	}
	outputFlag(get, &output)

	var ufile, udisplay, udesc string
	update := &cobra.Command{
		Use:   "update NAME [-f STATEMENTS.json] [--display-name D] [--description D]",
		Short: "Replace a custom policy's statements, or change its display name or description",
		Long: `Replaces a policy's statements with those of -f, and changes its display name
and description as given. Whoever holds the policy holds the new statements at
once. Predefined policies cannot be changed.`,
		Example: "  kstack policy update read-dev -f statements.json\n  kstack policy update read-dev --display-name \"Read dev\"",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			if !fl.Changed("file") && !fl.Changed("display-name") && !fl.Changed("description") {
				return fmt.Errorf("nothing to update: give -f, --display-name or --description")
			}
			var st []authv1.Statement
			if fl.Changed("file") {
				var err error
				if st, err = readStatements(ufile); err != nil {
					return err
				}
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			p, err := getPolicy(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if st != nil {
				p.Spec.Statements = st
			}
			if fl.Changed("display-name") {
				p.Spec.DisplayName = udisplay
			}
			if fl.Changed("description") {
				p.Spec.Description = udesc
			}
			p.APIVersion, p.Kind = authv1.GroupVersion.String(), "Policy"
			var out authv1.Policy
			if err := c.Do(cmd.Context(), http.MethodPut, authPath+"/policies/"+p.Name, "", p, &out); err != nil {
				return err
			}
			return o.done(output, &out, "policy %s updated", p.Name)
		},
	}
	update.Flags().StringVarP(&ufile, "file", "f", "", "JSON file with the new statements")
	update.Flags().StringVar(&udisplay, "display-name", "", "display name")
	update.Flags().StringVar(&udesc, "description", "", "what the policy is for")
	outputFlag(update, &output)

	del := policies.deleteCmd(o, &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a custom policy",
		Long: `Deletes a policy of your tenant: no one holds it any more. Its bindings stay and
name it, and would grant a new policy of the same name; remove them with 'kstack
policybinding delete' or 'kstack policy unbind'. Predefined policies cannot be
deleted.`,
		Example: "  kstack policy delete read-dev",
	})

	var users, groups []string
	var project string
	bind := &cobra.Command{
		Use:   "bind POLICY --user USERNAME... --group GROUP...",
		Short: "Grant a policy to users and groups of your tenant (you cannot grant more than you hold)",
		Long: `Grants a policy to users and groups of your tenant by creating a policy binding.
A project policy is bound in one project (--project). You cannot grant a policy
that allows more than your own policies do. Prints "policy POLICY bound to ...
(policybinding NAME)", or the PolicyBinding with -o.`,
		Example: `  kstack policy bind read-dev --user bob --group developers
  kstack policy bind project-viewer --user carol --project prj-xxxxxxxx`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			b := authv1.PolicyBinding{TypeMeta: metav1.TypeMeta{APIVersion: authv1.GroupVersion.String(), Kind: "PolicyBinding"},
				ObjectMeta: metav1.ObjectMeta{GenerateName: "pb-"},
				Spec:       authv1.PolicyBindingSpec{PolicyName: args[0], Users: users, Groups: groups, ProjectID: project}}
			var out authv1.PolicyBinding
			if err := c.Do(cmd.Context(), http.MethodPost, authPath+"/policybindings", "", b, &out); err != nil {
				return err
			}
			return o.done(output, &out, "policy %s bound to %s (policybinding %s)", args[0], subjects(users, groups), out.Name)
		},
	}
	bind.Flags().StringSliceVar(&users, "user", nil, "username to grant the policy to (repeatable)")
	bind.Flags().StringSliceVar(&groups, "group", nil, "group name to grant the policy to (repeatable)")
	bind.Flags().StringVar(&project, "project", "", "project ID, for project policies")
	bind.MarkFlagsOneRequired("user", "group")
	outputFlag(bind, &output)

	unbind := &cobra.Command{
		Use:   "unbind POLICY --user USERNAME... --group GROUP...",
		Short: "Take a policy away from users and groups of your tenant",
		Long: `Removes users and groups from every binding of the policy in your tenant (with
--project, from the bindings in that project only); a binding left naming no one
is deleted. Naming a user or group that no binding of the policy names is an
error, and nothing changes. Prints "policy POLICY unbound from ...", or the
changed bindings with -o.`,
		Example: `  kstack policy unbind read-dev --user bob
  kstack policy unbind project-viewer --group auditors --project prj-xxxxxxxx`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var l authv1.PolicyBindingList
			if err := c.Do(cmd.Context(), http.MethodGet, authPath+"/policybindings", "", nil, &l); err != nil {
				return err
			}
			type change struct {
				b      authv1.PolicyBinding
				delete bool
			}
			var changes []change
			seenUsers, seenGroups := map[string]bool{}, map[string]bool{}
			for _, b := range l.Items {
				if b.Spec.PolicyName != args[0] || (project != "" && b.Spec.ProjectID != project) {
					continue
				}
				u, g := without(b.Spec.Users, users), without(b.Spec.Groups, groups)
				if len(u) == len(b.Spec.Users) && len(g) == len(b.Spec.Groups) {
					continue
				}
				for _, x := range b.Spec.Users {
					seenUsers[x] = true
				}
				for _, x := range b.Spec.Groups {
					seenGroups[x] = true
				}
				b.Spec.Users, b.Spec.Groups = u, g
				changes = append(changes, change{b, len(u)+len(g) == 0})
			}
			var missing []string
			for _, u := range users {
				if !seenUsers[u] {
					missing = append(missing, "user "+u)
				}
			}
			for _, g := range groups {
				if !seenGroups[g] {
					missing = append(missing, "group "+g)
				}
			}
			if len(missing) > 0 {
				where := "your tenant"
				if project != "" {
					where = "project " + project
				}
				return fmt.Errorf("no binding of policy %s in %s names %s (see `kstack policybinding list --policy %s`)", args[0], where, strings.Join(missing, ", "), args[0])
			}
			var out authv1.PolicyBindingList
			for _, ch := range changes {
				b := ch.b
				path := authPath + "/policybindings/" + b.Name
				if ch.delete {
					if err := c.Do(cmd.Context(), http.MethodDelete, path, "", nil, nil); err != nil {
						return err
					}
					out.Items = append(out.Items, b)
					continue
				}
				b.APIVersion, b.Kind = authv1.GroupVersion.String(), "PolicyBinding"
				var nb authv1.PolicyBinding
				if err := c.Do(cmd.Context(), http.MethodPut, path, "", b, &nb); err != nil {
					return err
				}
				out.Items = append(out.Items, nb)
			}
			return o.done(output, out, "policy %s unbound from %s", args[0], subjects(users, groups))
		},
	}
	unbind.Flags().StringSliceVar(&users, "user", nil, "username to take the policy from (repeatable)")
	unbind.Flags().StringSliceVar(&groups, "group", nil, "group name to take the policy from (repeatable)")
	unbind.Flags().StringVar(&project, "project", "", "only the bindings in this project (project policies)")
	unbind.MarkFlagsOneRequired("user", "group")
	outputFlag(unbind, &output)

	cmd.AddCommand(create, list, get, update, del, bind, unbind)
	return cmd
}

// subjects says who a binding names: "user bob, group developers".
func subjects(users, groups []string) string {
	var s []string
	for _, u := range users {
		s = append(s, "user "+u)
	}
	for _, g := range groups {
		s = append(s, "group "+g)
	}
	return strings.Join(s, ", ")
}

func newPolicyBindingCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "policybinding",
		Aliases: []string{"policybindings", "pb"},
		Short:   "List, show and delete the bindings that grant policies",
		Long: `A policy binding grants one policy to users and groups of one tenant, on the
platform or in one project. 'kstack policy bind' creates them, 'kstack policy
unbind' takes users and groups out of them; here you see who holds what and
delete a binding whole.`,
		Example: `  kstack policybinding list
  kstack policybinding list --policy read-dev
  kstack policybinding delete pb-x7k2q`,
	}
	rows := func(items []authv1.PolicyBinding) [][]string {
		var r [][]string
		for _, b := range items {
			r = append(r, []string{b.Name, b.Spec.PolicyName, b.Spec.TenantID, b.Spec.ProjectID, strings.Join(b.Spec.Users, ","), strings.Join(b.Spec.Groups, ",")})
		}
		return r
	}
	headers := []string{"NAME", "POLICY", "TENANT", "PROJECT", "USERS", "GROUPS"}
	bindings := object[authv1.PolicyBinding]{noun: "policybinding", path: func(n string) string { return authPath + "/policybindings/" + n }, headers: headers, rows: rows}
	var output, policy, project string
	list := &cobra.Command{
		Use:     "list [--policy NAME] [--project ID]",
		Short:   "List the policy bindings you may see",
		Long:    "Lists the policy bindings of your tenant: which policy each grants, in which project, to which users and groups.",
		Example: "  kstack policybinding list\n  kstack policybinding list --policy read-dev -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var l authv1.PolicyBindingList
			if err := c.Do(cmd.Context(), http.MethodGet, authPath+"/policybindings", "", nil, &l); err != nil {
				return err
			}
			kept := l.Items[:0]
			for _, b := range l.Items {
				if (policy == "" || b.Spec.PolicyName == policy) && (project == "" || b.Spec.ProjectID == project) {
					kept = append(kept, b)
				}
			}
			l.Items = kept
			return o.show(output, l, headers, rows(l.Items))
		},
	}
	list.Flags().StringVar(&policy, "policy", "", "only the bindings of this policy")
	list.Flags().StringVar(&project, "project", "", "only the bindings in this project")
	outputFlag(list, &output)
	get := bindings.getCmd(o, &cobra.Command{
		Use:     "get NAME",
		Short:   "Show one policy binding",
		Long:    "Shows one policy binding; -o json|yaml prints the whole PolicyBinding.",
		Example: "  kstack policybinding get pb-x7k2q -o yaml",
	})
	del := bindings.deleteCmd(o, &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete a policy binding: its users and groups no longer hold its policy through it",
		Long:    "Deletes a policy binding whole. To take a policy from some of the users or groups a binding names, use 'kstack policy unbind'.",
		Example: "  kstack policybinding delete pb-x7k2q",
	})
	cmd.AddCommand(list, get, del)
	return cmd
}

func newAPIKeyCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "apikey",
		Aliases: []string{"apikeys"},
		Short:   "Manage your access keys (bearer tokens for the API, kubectl and docker login)",
		Long: `Access keys are bearer tokens that act as you, for programs: curl, CI, kubectl
(kstack kubeconfig --api-key). Each belongs to the user who created it, expires,
and can be disabled, enabled and deleted by its owner.`,
		Example: `  KEY=$(kstack apikey create --expires 8h --description "CI deploys")
  kstack apikey list
  kstack apikey disable ak-xxxxx`,
	}
	keyRows := func(keys []authv1.APIKeyView) [][]string {
		var rows [][]string
		for _, k := range keys {
			state := "enabled"
			if k.Disabled {
				state = "disabled"
			}
			if k.Expired {
				state = "expired"
			}
			rows = append(rows, []string{k.Name, state, k.ExpiresAt.UTC().Format("2006-01-02 15:04"), k.Description})
		}
		return rows
	}
	keyHeaders := []string{"NAME", "STATE", "EXPIRES (UTC)", "DESCRIPTION"}
	keys := object[authv1.APIKeyView]{noun: "apikey", path: func(n string) string { return authPath + "/apikeys/" + n }, headers: keyHeaders, rows: keyRows}
	var output string
	var req authv1.APIKeyRequest
	create := &cobra.Command{
		Use:   "create --expires 24h",
		Short: "Create an access key; it is printed once and never again",
		Long: `Creates an access key and prints the key, alone, on stdout (as 'kubectl create
token' prints a token), so that KEY=$(kstack apikey create ...) keeps it; that it
was created, its name and expiry go to stderr. The key is shown this once only.
-o json|yaml prints the key's record with the key in it.`,
		Example: `  kstack apikey create --expires 8h --description "CI deploys"
  curl -H "Authorization: Bearer $KEY" https://kstack:8443/platform/apis/platform.tkestack.io/v1/clusters`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var v authv1.APIKeyView
			if err := c.Do(cmd.Context(), http.MethodPost, authPath+"/apikeys", "", req, &v); err != nil {
				return err
			}
			o.warn("apikey %s created, expires %s. Keep the key now: it is not shown again.", v.Name, v.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"))
			if output != "table" {
				return o.show(output, &v, nil, nil)
			}
			_, err = fmt.Fprintln(o.Out, v.Key)
			return err
		},
	}
	create.Flags().StringVar(&req.ExpiresIn, "expires", "", "lifetime in hours or minutes, e.g. 24h or 30m")
	create.Flags().StringVar(&req.Description, "description", "", "what the key is for")
	required(create, "expires")
	outputFlag(create, &output, printer.DataFormats...)

	list := &cobra.Command{
		Use:     "list",
		Short:   "List your access keys",
		Long:    "Lists your access keys with their state (enabled, disabled, expired), expiry and description; never the keys themselves.",
		Example: "  kstack apikey list\n  kstack apikey list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var l struct {
				Items []authv1.APIKeyView `json:"items"`
			}
			if err := c.Do(cmd.Context(), http.MethodGet, authPath+"/apikeys", "", nil, &l); err != nil {
				return err
			}
			return o.show(output, l.Items, keyHeaders, keyRows(l.Items))
		},
	}
	outputFlag(list, &output)
	get := keys.getCmd(o, &cobra.Command{
		Use:     "get NAME",
		Short:   "Show one of your access keys",
		Long:    "Shows one of your access keys as 'kstack apikey list' does (never the key itself).",
		Example: "  kstack apikey get ak-xxxxx -o yaml",
	})
	toggle := func(use string, disabled bool) *cobra.Command {
		long := "Disables one of your access keys: requests with it are refused until it is enabled again."
		if !disabled {
			long = "Enables a disabled access key of yours again (an expired one stays expired)."
		}
		c := &cobra.Command{
			Use:     use + " NAME",
			Short:   strings.ToUpper(use[:1]) + use[1:] + " one of your access keys",
			Long:    long,
			Example: "  kstack apikey " + use + " ak-xxxxx",
			Args:    cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := newAPIClient(o)
				if err != nil {
					return err
				}
				var v authv1.APIKeyView
				if err := c.Do(cmd.Context(), http.MethodPatch, authPath+"/apikeys/"+args[0], "", map[string]bool{"disabled": disabled}, &v); err != nil {
					return err
				}
				return o.done(output, &v, "apikey %s %sd", args[0], use)
			},
		}
		outputFlag(c, &output)
		return c
	}
	del := keys.deleteCmd(o, &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete one of your access keys",
		Long:    "Deletes one of your access keys: requests with it are refused from now on.",
		Example: "  kstack apikey delete ak-xxxxx",
	})
	cmd.AddCommand(create, list, get, toggle("disable", true), toggle("enable", false), del)
	return cmd
}

func newIdentityProviderCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "idp",
		Aliases: []string{"idps", "identityprovider", "identityproviders"},
		Short:   "Create, list, show and delete identity providers (platform administrators)",
		Long: `An identity provider checks the passwords of one tenant's users: LDAP (dex's
configuration format) or an external OpenID Connect issuer. Its name is the
tenant ID; its users log in with 'kstack login --tenant NAME'. Bind passwords and
client secrets are moved out of the configuration into a Secret, and never shown
again. Only platform administrators manage identity providers.`,
		Example: `  kstack idp create ldap-test --type ldap --config ldap.json --administrator jane
  kstack idp list
  kstack idp delete ldap-test`,
	}
	rows := func(items []authv1.IdentityProvider) [][]string {
		var r [][]string
		for _, p := range items {
			r = append(r, []string{p.Name, string(p.Spec.Type), p.Spec.DisplayName, strings.Join(p.Spec.Administrators, ",")})
		}
		return r
	}
	headers := []string{"NAME", "TYPE", "DISPLAY NAME", "ADMINISTRATORS"}
	const idpPath = authPath + "/identityproviders"
	idps := object[authv1.IdentityProvider]{noun: "idp", path: func(n string) string { return idpPath + "/" + n }, headers: headers, rows: rows}
	var output, typ, config, display string
	var admins []string
	create := &cobra.Command{
		Use:   "create TENANT --type ldap|oidc --config FILE",
		Short: "Create the identity provider of a tenant",
		Long: `Creates the identity provider of the tenant TENANT from a JSON configuration
file: for ldap, dex's LDAP connector configuration (host, bindDN, bindPW,
userSearch, groupSearch); for oidc, {"issuer", "clientID", "clientSecret",
"usernameClaim", "groupsClaim", "scopes", "rootCA"}. --administrator makes users
of the tenant its administrators. Prints "idp TENANT created", or the
IdentityProvider (without its secrets) with -o.`,
		Example: `  kstack idp create ldap-test --type ldap --config ldap.json --administrator jane
  kstack idp create corp --type oidc --config oidc.json --display-name "Corporate SSO"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(config)
			if err != nil {
				return fmt.Errorf("reading --config: %w", err)
			}
			if !json.Valid(data) {
				return fmt.Errorf("--config %s is not JSON", config)
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			idp := authv1.IdentityProvider{TypeMeta: metav1.TypeMeta{APIVersion: authv1.GroupVersion.String(), Kind: "IdentityProvider"},
				ObjectMeta: metav1.ObjectMeta{Name: args[0]},
				Spec: authv1.IdentityProviderSpec{Type: authv1.IdentityProviderType(typ), Config: string(data),
					Administrators: admins, DisplayName: display}}
			var out authv1.IdentityProvider
			if err := c.Do(cmd.Context(), http.MethodPost, idpPath, "", idp, &out); err != nil {
				return err
			}
			return o.done(output, &out, "idp %s created", args[0])
		},
	}
	create.Flags().StringVar(&typ, "type", "", "ldap or oidc")
	create.Flags().StringVar(&config, "config", "", "JSON file with the provider's configuration")
	create.Flags().StringSliceVar(&admins, "administrator", nil, "username of the tenant that becomes its administrator (repeatable)")
	create.Flags().StringVar(&display, "display-name", "", "display name")
	required(create, "type", "config")
	outputFlag(create, &output)
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the identity providers",
		Long:    "Lists the identity providers: tenant, type, display name and administrators.",
		Example: "  kstack idp list\n  kstack idp list -o yaml",
		Args:    cobra.NoArgs,
		RunE:    listRun(o, &output, idpPath, headers, func(l *authv1.IdentityProviderList) [][]string { return rows(l.Items) }),
	}
	outputFlag(list, &output)
	get := idps.getCmd(o, &cobra.Command{
		Use:     "get TENANT",
		Short:   "Show one identity provider",
		Long:    "Shows one identity provider; -o json|yaml prints it whole, with its configuration (never its secrets).",
		Example: "  kstack idp get ldap-test -o yaml",
	})
	del := idps.deleteCmd(o, &cobra.Command{
		Use:   "delete TENANT",
		Short: "Delete an identity provider (its secret and administrators' binding go with it)",
		Long: `Deletes a tenant's identity provider; its Secret and the binding that made its
administrators go with it. The tenant's users can no longer log in.`,
		Example: "  kstack idp delete ldap-test",
	})
	cmd.AddCommand(create, list, get, del)
	return cmd
}
